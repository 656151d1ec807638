#pragma once
// Container endpoints (create, start, attach, wait, logs, stop, restart,
// kill, rm, ps, inspect, top, rename, prune).

#include <memory>

#include "dind/api/router.hpp"
#include "dind/base/scheduler.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/containers.hpp"
#include "dind/engine/networks.hpp"

namespace dind::api {

struct ContainerContext {
  std::shared_ptr<engine::Containers> containers;
  engine::Networks* networks = nullptr;
  base::WorkerPool* workers = nullptr;  // creates, starts, removals: may block for long
  // Short but blocking requests (the engine's lock, fsync, size walks): a
  // pool of their own, so that neither I/O threads nor slow starts hold them.
  base::WorkerPool* queries = nullptr;
  engine::EventBus* events = nullptr;  // network events
};

void add_container_routes(Router& router, ContainerContext ctx);
// Network endpoints (create, rm, ls, inspect, connect, disconnect, prune).
void add_network_routes(Router& router, ContainerContext ctx);
// docker cp (HEAD/GET/PUT /containers/{id}/archive) and docker export.
void add_archive_routes(Router& router, ContainerContext ctx);
// docker stats (GET /containers/{id}/stats): samples a second apart.
void add_stats_route(Router& router, ContainerContext ctx, base::Scheduler* scheduler);

}  // namespace dind::api
