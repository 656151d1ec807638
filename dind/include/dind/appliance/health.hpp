#pragma once
// `dind health [-H unix:///path]`: exit 0 when the daemon's API answers
// GET /_ping with 200 over its unix socket (for HEALTHCHECK, Kubernetes
// probes and CI scripts), 1 otherwise with the reason on stderr. The socket
// is -H's, else a unix:// DOCKER_HOST, else /var/run/docker.sock.

#include <string>
#include <vector>

namespace dind::appliance {

int health(const std::vector<std::string>& args);

}  // namespace dind::appliance
