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
#include "dind/model/container.hpp"

namespace dind::runtime {

// Docker's default capability set (14, the same for every set).
const std::vector<std::string>& default_capabilities();


struct HostFacts {
  std::string arch = "amd64";      // Go's GOARCH naming, for the seccomp arch map
  uint64_t nofile_hard = 1048576;  // this host's RLIMIT_NOFILE hard limit
  bool has_unprivileged_port_sysctl = true;
  bool has_ping_group_range_sysctl = true;
  std::vector<std::string> thermal_throttle_paths;  // /sys/devices/system/cpu/cpuN/thermal_throttle
  // The daemon's own capability bounding set: what --privileged can grant.
  std::vector<std::string> bounding_caps;
  int ncpus = 1;
  std::string cpus_online = "0";  // e.g. "0-1"
  std::string mems_online = "0";
  bool swap_limit = true;  // memory.memsw (v1) or memory.swap.max (v2) exists
  bool blkio_weight = true;  // blkio.weight / blkio.bfq.weight (v1) or io.weight (v2) exists
  // Hard rlimits of the daemon ("nofile" -> n); without CAP_SYS_RESOURCE no
  // container may go above them.
  std::map<std::string, uint64_t> rlimit_hard;
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

// A device node the container gets (--device, or every host device when
// privileged), with the host node's facts.
struct Device {
  std::string path;  // in the container
  char type = 'c';   // 'c' or 'b'
  int64_t major = 0, minor = 0;
  uint32_t file_mode = 0666;
  uint32_t uid = 0, gid = 0;
  std::string permissions = "rwm";  // the cgroup rule's access
};

struct SpecInput {
  std::string id;
  model::Config config;           // the container's merged Config (Cmd, Env, ...)
  model::HostConfig host_config;  // HostConfig as created (settled)
  std::string rootfs;          // the mounted overlay
  std::string container_dir;   // holds hosts, hostname, resolv.conf
  std::string cgroups_path;    // "/dind/<id>"
  bool host_network = false;   // --network host: no network namespace
  bool host_pid = false;       // --pid host: no pid namespace
  // Another container's namespaces to join (/proc/<pid>/ns/...), "" for an own one:
  // --network container:X, --pid container:X, --ipc container:X.
  std::string join_net, join_pid, join_ipc;
  User user;
  std::vector<Mount> mounts;              // user mounts (binds, volumes, tmpfs)
  std::optional<nlohmann::json> seccomp;  // a Docker-style profile template; nullopt: unconfined
  HostFacts host;
  std::vector<Device> devices;  // resolved --device entries (all host devices when privileged)
  std::string init_path;        // the static init bound at /sbin/docker-init for --init
};

// The process args: Entrypoint + Cmd; kInvalidArgument "No command specified"
// when both are empty.
base::Result<std::vector<std::string>> process_args(const model::Config& config);

// The process environment as dockerd builds it: PATH and HOSTNAME (and TERM
// with a TTY) first, the container's Env replacing or adding.
std::vector<std::string> process_env(const model::Config& config);

// The paths a container that is not privileged gets masked or read-only
// (dockerd's defaults; the host's thermal throttle files are masked too).
std::vector<std::string> default_masked_paths();
std::vector<std::string> default_readonly_paths();

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
                                 const model::Config& container_config, const ExecInput& in);

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

// --group-add: names (from the image's group file) or numbers join the
// user's additional groups. "Unable to find group X: ..." otherwise.
base::Status add_groups(User& user, const std::vector<std::string>& groups,
                        const std::string& group);

}  // namespace dind::runtime
