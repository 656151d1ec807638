#pragma once
// GET /system/df (`docker system df [-v]`): images with their shared and
// unique sizes and container counts, containers with their sizes, volumes
// with their usage, the build cache (none: the classic builder's cache is
// images, counted there).

#include <memory>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/containers.hpp"
#include "dind/engine/volumes.hpp"
#include "dind/image/image_store.hpp"
#include "dind/image/layer_store.hpp"

namespace dind::api {

struct DfContext {
  image::ImageStore* images = nullptr;
  image::LayerStore* layers = nullptr;
  std::shared_ptr<engine::Containers> containers;
  engine::Volumes* volumes = nullptr;
  base::WorkerPool* workers = nullptr;  // the walks block
};

void add_system_df_route(Router& router, DfContext ctx);

}  // namespace dind::api
