#pragma once
// The appliance's daemon settings: docker:dind's contract (a unix:// DOCKER_HOST
// moves the socket; with certificates tcp://0.0.0.0:2376 with --tlsverify)
// and the drop-in paths every docker:dind recipe mounts (/var/lib/docker), as
// flags and defaults, plus the knobs users asked docker:dind for as
// environment variables:
//   DIND_MTU                  MTU of the default bridge and new networks
//   DIND_BIP                  the default bridge's address (CIDR)
//   DIND_ADDRESS_POOLS        pools for new networks: "base=CIDR,size=N" separated by spaces or ;
//   DIND_REGISTRY_MIRRORS     registry mirrors (comma or space separated)
//   DIND_INSECURE_REGISTRIES  insecure registries (comma or space separated)
//   DIND_LOG_LEVEL            debug, info, warn, error
//   DIND_SHUTDOWN_TIMEOUT     seconds containers get to stop at SIGTERM (default 8)
//   DIND_INSECURE_TCP=1       with DOCKER_TLS_CERTDIR empty: plain tcp://0.0.0.0:2375
//   DIND_TCP_ADDRESS          the TCP listener's address (default 0.0.0.0:2376 / :2375)
// Defaults yield to daemon.json and to the user's arguments, which come last.
// Pure: the environment is a lookup.

#include <optional>
#include <string>
#include <vector>

#include "certgen/env.hpp"
#include "dind/appliance/certs.hpp"
#include "dind/base/result.hpp"
#include "dind/engine/config.hpp"

namespace dind::appliance {

inline constexpr const char* kAppliancePidfile = "/var/run/dind.pid";

struct AppliancePlan {
  engine::DaemonConfig defaults;    // what the flags and daemon.json start from
  std::vector<std::string> flags;   // listeners, TLS files, then the user's arguments
  std::vector<std::string> warnings;
};

base::Result<AppliancePlan> plan_appliance(const certgen::EnvLookup& env,
                                           const std::optional<TlsFiles>& tls,
                                           const std::vector<std::string>& user_args);

}  // namespace dind::appliance
