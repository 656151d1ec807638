#pragma once
// The OCI spec planner: a container's settled configuration in, runc's
// config.json out. Pure (no file system, no clock): host facts, the resolved
// user, the mounts and the seccomp template are inputs. Emits only what runc
// 1.1 supports (no time namespace).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::runtime {

// Docker's default capability set (14, the same for every set).
const std::vector<std::string>& default_capabilities();

// "CAP_X" names of the capabilities in a mask (bit N = capability N), as
// /proc/<pid>/status shows them (CapBnd); unknown bits are left out.
std::vector<std::string> capability_names(uint64_t mask);
// Whether a --cap-add/--cap-drop value names a capability ("ALL" does);
// case and the "CAP_" prefix are optional.
bool known_capability(const std::string& name);

struct HostFacts {
  std::string arch = "amd64";      // Go's GOARCH naming, for the seccomp arch map
  uint64_t nofile_hard = 1048576;  // this host's RLIMIT_NOFILE hard limit
  bool has_unprivileged_port_sysctl = true;
  bool has_ping_group_range_sysctl = true;
  std::vector<std::string> thermal_throttle_paths;  // /sys/devices/system/cpu/cpuN/thermal_throttle
  // The daemon's own capability bounding set: what --privileged can grant.
  std::vector<std::string> bounding_caps;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// A mount the engine resolved (a bind of a host path or a volume's _data, a
// tmpfs): already in OCI terms.
struct Mount {
  std::string destination;
  std::string type;    // "bind" or "tmpfs"
  std::string source;  // host path; "tmpfs" for tmpfs
  std::vector<std::string> options;
};

struct SpecInput {
  std::string id;
  nlohmann::json config;       // the container's merged Config (Cmd, Env, ...)
  nlohmann::json host_config;  // HostConfig as created
  std::string rootfs;          // the mounted overlay
  std::string container_dir;   // holds hosts, hostname, resolv.conf
  std::string cgroups_path;    // "/dind/<id>"
  bool host_network = false;   // --network host: no network namespace
  User user;
  std::vector<Mount> mounts;              // user mounts (binds, volumes, tmpfs)
  std::optional<nlohmann::json> seccomp;  // a Docker-style profile template; nullopt: unconfined
  HostFacts host;
};

// The process args: Entrypoint + Cmd; kInvalidArgument "No command specified"
// when both are empty.
base::Result<std::vector<std::string>> process_args(const nlohmann::json& config);

// The process environment as dockerd builds it: PATH and HOSTNAME (and TERM
// with a TTY) first, the container's Env replacing or adding.
std::vector<std::string> process_env(const nlohmann::json& config);

base::Result<nlohmann::json> plan_spec(const SpecInput& in);

// An exec's settled request (the API's exec config, with the user resolved in
// the container's root).
struct ExecInput {
  std::vector<std::string> args;  // non-empty
  std::vector<std::string> env;   // KEY=value, on top of the container's
  User user;
  std::string working_dir;  // "": the container's
  bool tty = false;
  int rows = 0, cols = 0;  // the initial terminal size (0: unset)
  bool privileged = false;
  std::vector<std::string> privileged_caps;  // every capability the host allows
};

// The OCI process object for `runc exec`: the container's process (from its
// config.json) with the exec's args, environment (dockerd's rules: defaults,
// the container's Env, then the exec's), user, cwd and terminal on top;
// a privileged exec gets `privileged_caps`.
nlohmann::json plan_exec_process(const nlohmann::json& container_process,
                                 const nlohmann::json& container_config, const ExecInput& in);

// Renders a Docker/containers-style seccomp template (archMap, syscalls with
// includes/excludes by arch and capability) into an OCI linux.seccomp object
// for one architecture and capability set.
nlohmann::json render_seccomp(const nlohmann::json& profile, const std::string& arch,
                              const std::vector<std::string>& caps);

// /etc/passwd and /etc/group lookups for `--user` (name, uid, name:group,
// uid:gid). `passwd` and `group` are the files' contents ("" when absent).
// Docker's errors: "unable to find user X: no matching entries in passwd file".
base::Result<User> resolve_user(const std::string& spec, const std::string& passwd,
                                const std::string& group);

}  // namespace dind::runtime
