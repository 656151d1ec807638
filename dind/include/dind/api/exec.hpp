#pragma once
// Exec endpoints: POST /containers/{id}/exec, POST /exec/{id}/start (hijacked
// with Upgrade, a plain 200 stream without, or detached), POST
// /exec/{id}/resize, GET /exec/{id}/json.

#include <memory>

#include "dind/api/router.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/execs.hpp"

namespace dind::api {

void add_exec_routes(Router& router, std::shared_ptr<engine::Execs> execs,
                     base::WorkerPool* workers);

}  // namespace dind::api
