#pragma once
// The pure half of `POST /containers/create`: name validation, the merge of
// the request's Config with the image's, and the parsing of mounts, port
// bindings and signals, each with Docker's messages.

#include <cstdint>
#include <functional>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"
#include "dind/runtime/spec.hpp"
#include "netsetup/manager.hpp"

namespace dind::engine {

// "[a-zA-Z0-9][a-zA-Z0-9_.-]+" after an optional leading "/".
base::Status validate_container_name(const std::string& name);

// Docker's merge (daemon/commit.go merge): the image supplies what the
// request leaves empty; Env and Labels and ExposedPorts and Volumes merge by
// key; an Entrypoint in the request drops the image's Cmd.
model::Config merge_config(model::Config request, const model::Config& image,
                           const std::string& id);

struct MountSpec {
  enum class Type { kBind, kVolume, kTmpfs };
  Type type = Type::kBind;
  std::string source;  // host path (bind), volume name ("" = anonymous), ""
  std::string destination;
  bool read_only = false;
  bool create_source = false;  // -v host paths are created when missing
  std::string tmpfs_options;   // "size=64m,mode=1777"
  std::string mode;            // -v's third field as given (inspect's Mode)
  std::string propagation;     // binds: "rprivate" (default), "rshared", "rslave", ...
};

// HostConfig.Binds (-v), HostConfig.Mounts (--mount), HostConfig.Tmpfs
// (--tmpfs) and anonymous volumes from Config.Volumes; a destination used
// twice is refused ("Duplicate mount point: /x").
base::Result<std::vector<MountSpec>> parse_mounts(const model::Config& config,
                                                  const model::HostConfig& host_config);

// The OCI mounts for the parsed specs; `volume_dir` gives a named volume's
// host directory. Binds are rbind + rprivate; tmpfs gets nosuid,nodev,noexec.
std::vector<runtime::Mount> oci_mounts(
    const std::vector<MountSpec>& specs,
    const std::function<std::string(const std::string&)>& volume_dir);

// HostConfig.PortBindings (+ Config.ExposedPorts with PublishAllPorts, where
// host port 0 means "pick one").
base::Result<std::vector<netsetup::PortRequest>> parse_port_bindings(
    const model::Config& config, const model::HostConfig& host_config);

// docker update: the non-zero values of `update` replace the container's
// resource settings (dockerd leaves a limit alone when given zero); a new
// memory limit takes its swap along as at create (2x) unless the swap is
// given too or unlimited.
model::Resources merge_update(model::Resources current, const model::Resources& update,
                              bool swap_limit);

// "KILL", "SIGKILL", "9", "sigterm" -> number; kInvalidArgument
// "Invalid signal: X" otherwise.
base::Result<int> parse_signal(const std::string& text);

// A legacy link ("name" or "name:alias"; a leading "/" allowed) as (target,
// alias); "bad format for links: X" otherwise.
base::Result<std::pair<std::string, std::string>> parse_link(const std::string& text);

// What a legacy link gives the linking container (dockerd's links.ToEnv):
// ALIAS_NAME=/self/alias, ALIAS_PORT (the lowest exposed port),
// ALIAS_PORT_<port>_<PROTO>{,_ADDR,_PORT,_PROTO} per exposed port, and
// ALIAS_ENV_<var> per variable of the target (HOME and PATH aside).
std::vector<std::string> link_env(const std::string& alias, const std::string& self_name,
                                  const std::string& ip, const std::set<std::string>& exposed_ports,
                                  const model::Strings& target_env);

// HostConfig.LogConfig: json-file (the default), local (kept as json-file) or
// none, with each driver's options; dockerd's other drivers are refused by
// name, unknown ones as dockerd's plugin lookup fails.
base::Status check_log_config(const model::LogConfig& log_config);

// HostConfig.RestartPolicy.
struct RestartPolicy {
  enum class Kind { kNo, kAlways, kUnlessStopped, kOnFailure };
  Kind kind = Kind::kNo;
  int max_retries = 0;  // on-failure only; 0: no limit
};
// Docker's validation messages ("invalid restart policy: ..."); an empty
// name is "no"; with AutoRemove only "no" is allowed.
base::Result<RestartPolicy> parse_restart_policy(const model::HostConfig& host_config);

// Docker's restart manager: whether a container that exited restarts, and
// after how long. The delay starts at 100 ms, doubles each time up to one
// minute, and starts over when the container ran 10 s or more. `always`
// ignores a manual stop (docker stop cancels the restart itself);
// `unless-stopped` does not; `on-failure` restarts non-zero exits until
// max_retries restarts were made.
struct RestartStep {
  bool restart = false;
  std::chrono::milliseconds delay{0};  // also the next call's previous delay
};
RestartStep next_restart(const RestartPolicy& policy, int exit_code, bool manually_stopped,
                         int restart_count, std::chrono::milliseconds ran_for,
                         std::chrono::milliseconds previous_delay);

// Whether the daemon starts the container when it starts itself.
bool restart_on_daemon_start(const RestartPolicy& policy, bool manually_stopped);

}  // namespace dind::engine
