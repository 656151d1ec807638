#pragma once
// Image endpoints: import (POST /images/create?fromSrc=-), list, inspect,
// history, tag, remove. Blocking work (unpacking, hashing) runs on the worker
// pool; handlers reply from there.

#include "dind/engine/events.hpp"
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/image/image_store.hpp"

namespace dind::api {

struct ImageContext {
  image::ImageStore* images = nullptr;
  image::LayerStore* layers = nullptr;
  image::ContentStore* content = nullptr;
  base::WorkerPool* workers = nullptr;
  // Serialises the jobs that add or delete images, so that the garbage
  // collection of one never sees the half-registered blobs of another.
  std::shared_ptr<std::mutex> mutations = std::make_shared<std::mutex>();
  // The container using an image, if any (rmi answers 409; prune skips it).
  image::ImageStore::InUse in_use;
  // POST /images/create?fromImage=: the registry's pull (distribution.hpp).
  std::function<void(const Request&, Reply)> pull;
  engine::EventBus* events = nullptr;  // image events (docker events)
};

// One image as `docker images` lists it (Containers and SharedSize -1).
nlohmann::json image_summary_json(const image::ImageSummary& s, ApiVersion v);

void add_image_routes(Router& router, ImageContext ctx);

// `docker import --change` / `docker commit --change` instructions applied to
// an image config's "config" object: CMD, ENTRYPOINT, ENV, WORKDIR, USER,
// EXPOSE, LABEL, VOLUME, STOPSIGNAL. Pure; kInvalidArgument for anything else.
base::Status apply_changes(const std::vector<std::string>& changes, std::string& config_json);

}  // namespace dind::api
