#pragma once
// The daemon's start-up sequence and main loop: a thin orchestration of
// config -> directories/pidfile -> identity -> routes -> listeners -> serve.

#include "dind/engine/config.hpp"

namespace dind::engine {

// Runs until SIGTERM/SIGINT. Returns the process exit code; start-up errors
// are printed with a clear message and give 1.
int run_daemon(DaemonConfig config);

}  // namespace dind::engine
