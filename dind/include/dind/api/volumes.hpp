#pragma once
// Volume endpoints (local driver): create, ls, inspect, rm, prune. Docker's
// JSON for engine::Volume lives here.

#include "dind/engine/events.hpp"
#include <memory>

#include <nlohmann/json.hpp>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/volumes.hpp"

namespace dind::api {

struct VolumeContext {
  engine::Volumes* volumes = nullptr;
  base::WorkerPool* workers = nullptr;  // creation and removal touch the disk
  engine::EventBus* events = nullptr;
};

nlohmann::json volume_json(const engine::Volume& v);

void add_volume_routes(Router& router, VolumeContext ctx);

}  // namespace dind::api
