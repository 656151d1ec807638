#pragma once
// The container init for `--init`: the static dind-shim bound into the
// container at /sbin/docker-init runs this as PID 1 (`docker-init -- cmd
// args...`). It starts the command, forwards the signals it gets to it, reaps
// every zombie, and exits with the command's status (128+N for signal N).

namespace dind::runtime {

int init_main(int argc, char** argv);

}  // namespace dind::runtime
