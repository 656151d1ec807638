#pragma once
// POST /build (the classic builder: context tar in, dockerd's JSON stream
// out), and clear refusals for what only BuildKit serves (version=2,
// /session, /grpc).

#include <filesystem>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/build/builder.hpp"
#include "dind/image/image_store.hpp"

namespace dind::api {

struct BuildContext {
  build::Builder* builder = nullptr;
  base::WorkerPool* threads = nullptr;    // builds block for their whole length
  std::filesystem::path scratch;          // contexts are extracted below it
  image::ImageStore* images = nullptr;    // POST /build/prune
  std::shared_ptr<std::mutex> mutations;  // held while images are deleted
  image::ImageStore::InUse in_use;
};

void add_build_routes(Router& router, BuildContext ctx);

// The request's options (query parameters); kInvalidArgument for malformed
// JSON in buildargs/labels/cachefrom, bad numbers, invalid tags.
base::Result<build::BuildOptions> parse_build_options(const Request& req);

}  // namespace dind::api
