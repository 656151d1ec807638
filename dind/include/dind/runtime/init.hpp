#pragma once
// PID 1 duties. For `--init` the static dind-shim bound into a container at
// /sbin/docker-init runs init_main as the container's PID 1 (`docker-init --
// cmd args...`); the appliance runs the daemon under run_supervised when it
// is PID 1 itself. Both start the work in a child, forward the signals they
// get to it, reap every zombie (orphans come to PID 1), and exit with the
// child's status (128+N for signal N).

#include <functional>

namespace dind::runtime {

int init_main(int argc, char** argv);

// Forks; the child runs `body` (its return value is the exit status) with
// the signal mask restored; the caller supervises it and returns its status.
// Call before any thread starts.
int run_supervised(const std::function<int()>& body);

}  // namespace dind::runtime
