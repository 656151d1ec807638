#pragma once
// Security settings of a container, checked with dockerd's messages:
// --security-opt (seccomp, no-new-privileges, apparmor, label),
// --cap-add/--cap-drop, --sysctl, and the capability set a container gets
// (Docker's defaults edited, or every capability the daemon holds when
// privileged). Pure.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"
#include "dind/runtime/capabilities.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::runtime {

// Whether a --cap-add/--cap-drop value names a capability ("ALL" does);
// case and the "CAP_" prefix are optional.
bool known_capability(const std::string& name);

struct SecurityOptions {
  bool no_new_privileges = false;
  bool seccomp_unconfined = false;
  std::optional<nlohmann::json> seccomp_profile;  // seccomp=<profile JSON>
};

// HostConfig.SecurityOpt. `invalid --security-opt 2: "x"` as dockerd says.
base::Result<SecurityOptions> parse_security_opts(const model::HostConfig& host_config);

// CapAdd/CapDrop name known capabilities ("ALL" allowed); Sysctls only
// namespaced ones (net.* not with the host's network).
base::Status check_caps_and_sysctls(const model::HostConfig& host_config, bool host_network);

// The container's capabilities: the default set edited by CapAdd/CapDrop
// ("ALL" works in both), or with Privileged every capability in `bounding`.
std::vector<std::string> container_capabilities(const model::HostConfig& host_config,
                                                const std::vector<std::string>& bounding);

// container_capabilities, refusing any the daemon's bounding set lacks (when
// the set is known): runc would fail the start with "unable to apply caps".
base::Result<std::vector<std::string>> granted_capabilities(
    const model::HostConfig& host_config, const std::vector<std::string>& bounding);

}  // namespace dind::runtime
