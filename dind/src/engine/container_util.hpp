#pragma once
// Helpers the container files share (internal to engine/).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/engine/container_config.hpp"

namespace dind::engine {

// The saved form of a mount (config.v2.json "MountSpecs").
nlohmann::json mount_spec_json(const MountSpec& m);
MountSpec mount_spec_from(const nlohmann::json& j);
// A small file inside a container's root file system ("" when absent).
std::string read_in_root(const std::string& root, const std::string& path);
// Rewrites a file in place (bind-mounted /etc files keep their inode).
base::Status write_in_place(const std::filesystem::path& path, const std::string& text);
// The container's /etc/hosts.
std::string hosts_file(const std::string& hostname, const std::vector<std::string>& ips,
                       const std::vector<std::string>& extra);
// The network whose resolver a container's resolv.conf names: its own when
// that is a user network, else the first user network it is connected to
// (as dockerd, any user network brings the embedded DNS), else the default
// bridge ("bridge": the host's servers). `name_of` gives a network's name
// from a name or an ID, nullopt when it is gone.
std::string resolver_network(
    const std::string& network_mode, const model::EndpointsConfig& networking,
    const std::function<std::optional<std::string>(const std::string&)>& name_of);
// The seconds a stop waits before SIGKILL: Config.StopTimeout, else 10.
int stop_timeout(const model::Config& config);

}  // namespace dind::engine
