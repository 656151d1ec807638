#pragma once
// Registry endpoints: POST /images/create?fromImage= (pull), POST
// /images/{name}/push, POST /auth, GET /distribution/{name}/json, and GET
// /images/search (refused clearly). Pulls and pushes stream dockerd's JSON
// progress; an error before the first line is an HTTP error, after it an
// errorDetail line.

#include "dind/engine/events.hpp"
#include <memory>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/registry/service.hpp"

namespace dind::api {

struct DistributionContext {
  registry::Service* registry = nullptr;
  // Threads for the blocking pull/push orchestration (each waits on its
  // downloads; the service bounds the transfers themselves).
  base::WorkerPool* threads = nullptr;
  engine::EventBus* events = nullptr;  // pull and push events
};

void add_distribution_routes(Router& router, DistributionContext ctx);

// The pull handler, also reached from POST /images/create when fromImage is
// set (images.cpp routes there).
void pull_handler(const DistributionContext& ctx, const Request& req, Reply reply);

// One JSON progress line for a registry::Progress (no trailing newline).
std::string progress_line(const registry::Progress& p);

}  // namespace dind::api
