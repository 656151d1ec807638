#pragma once
// POST /build (the classic builder: context tar in, dockerd's JSON stream
// out), and clear refusals for what only BuildKit serves (version=2,
// /session, /grpc).

#include <filesystem>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/build/builder.hpp"

namespace dind::api {

struct BuildContext {
  build::Builder* builder = nullptr;
  base::WorkerPool* threads = nullptr;    // builds block for their whole length
  std::filesystem::path scratch;          // contexts are extracted below it
};

void add_build_routes(Router& router, BuildContext ctx);

// The request's options (query parameters); kInvalidArgument for malformed
// JSON in buildargs/labels/cachefrom, bad numbers, invalid tags.
base::Result<build::BuildOptions> parse_build_options(const Request& req);

}  // namespace dind::api
