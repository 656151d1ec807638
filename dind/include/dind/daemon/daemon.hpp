#pragma once
// The composition root (the only place that sees both api/ and engine/):
// the daemon's start-up sequence and main loop: a thin orchestration of
// config -> directories/pidfile -> identity -> routes -> listeners -> serve.

#include "dind/engine/config.hpp"

namespace dind::daemon {

// Runs until SIGTERM/SIGINT. Returns the process exit code; start-up errors
// are printed with a clear message and give 1.
int run_daemon(engine::DaemonConfig config);

}  // namespace dind::daemon
