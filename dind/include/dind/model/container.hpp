#pragma once
// Docker's container configuration as typed values: what `POST
// /containers/create` asks for (Config, HostConfig, NetworkingConfig), what
// `POST /containers/{id}/update` changes and what an image's config supplies.
// engine/ and runtime/ take these; Docker's JSON names live only in the codec
// (container_json.hpp), which the API and the record store use.
//
// Optional lists keep Go's nil-versus-empty distinction where dockerd's
// answers show it (`"Cmd": null` versus `"Cmd": []`).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dind::model {

using Strings = std::vector<std::string>;
using OptStrings = std::optional<Strings>;  // nullopt: null (Go's nil slice)
using StringMap = std::map<std::string, std::string>;

// Config.Healthcheck (durations in nanoseconds).
struct HealthConfig {
  Strings test;  // {"CMD", ...}, {"CMD-SHELL", "..."}, {"NONE"}; empty: the image's
  int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;
  int64_t retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

// The container's (and an image's) Config.
struct Config {
  std::string hostname, domainname, user;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  std::set<std::string> exposed_ports;  // "80/tcp"
  bool tty = false, open_stdin = false, stdin_once = false;
  OptStrings env;
  OptStrings cmd;
  std::optional<HealthConfig> healthcheck;
  bool args_escaped = false;
  std::string image;
  std::set<std::string> volumes;  // anonymous-volume destinations (VOLUME)
  std::string working_dir;
  OptStrings entrypoint;
  bool network_disabled = false;
  std::string mac_address;
  OptStrings on_build;
  StringMap labels;
  std::string stop_signal;
  std::optional<int64_t> stop_timeout;  // seconds
  OptStrings shell;
  bool operator==(const Config&) const = default;
};

struct PortBinding {
  std::string host_ip, host_port;
  bool operator==(const PortBinding&) const = default;
};
using PortMap = std::map<std::string, std::vector<PortBinding>>;  // "80/tcp" -> bindings

struct RestartPolicySpec {
  std::string name;  // "", "no", "always", "unless-stopped", "on-failure"
  int64_t maximum_retry_count = 0;
  bool operator==(const RestartPolicySpec&) const = default;
};

struct LogConfig {
  std::string type;
  StringMap config;
  bool operator==(const LogConfig&) const = default;
};

struct Ulimit {
  std::string name;
  int64_t soft = 0, hard = 0;
  bool operator==(const Ulimit&) const = default;
};

struct DeviceMapping {
  std::string path_on_host, path_in_container, cgroup_permissions;
  bool operator==(const DeviceMapping&) const = default;
};

struct WeightDevice {
  std::string path;
  int64_t weight = 0;
  bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
  std::string path;
  int64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

struct DeviceRequest {
  std::string driver;
  int64_t count = 0;
  Strings device_ids;
  std::vector<Strings> capabilities;
  StringMap options;
  bool operator==(const DeviceRequest&) const = default;
};

// HostConfig.Mounts (--mount).
struct MountRequest {
  std::string type;  // "bind", "volume", "tmpfs"
  std::string source, target;
  bool read_only = false;
  std::string consistency;
  std::string bind_propagation;  // BindOptions.Propagation
  bool volume_no_copy = false;   // VolumeOptions.NoCopy
  StringMap volume_labels;       // VolumeOptions.Labels
  std::optional<int64_t> tmpfs_size_bytes;  // TmpfsOptions.SizeBytes
  std::optional<int64_t> tmpfs_mode;        // TmpfsOptions.Mode
  bool operator==(const MountRequest&) const = default;
};

// The resource part of HostConfig: what `docker update` can change.
struct Resources {
  int64_t cpu_shares = 0, memory = 0, nano_cpus = 0;
  std::string cgroup_parent;
  int64_t blkio_weight = 0;
  std::vector<WeightDevice> blkio_weight_device;
  std::vector<ThrottleDevice> blkio_device_read_bps, blkio_device_write_bps,
      blkio_device_read_iops, blkio_device_write_iops;
  int64_t cpu_period = 0, cpu_quota = 0, cpu_realtime_period = 0, cpu_realtime_runtime = 0;
  std::string cpuset_cpus, cpuset_mems;
  std::vector<DeviceMapping> devices;
  OptStrings device_cgroup_rules;
  std::optional<std::vector<DeviceRequest>> device_requests;
  int64_t kernel_memory = 0, kernel_memory_tcp = 0, memory_reservation = 0, memory_swap = 0;
  std::optional<int64_t> memory_swappiness;  // nullopt: the kernel's
  bool oom_kill_disable = false;
  std::optional<int64_t> pids_limit;  // nullopt or <= 0: none
  std::vector<Ulimit> ulimits;
  int64_t cpu_count = 0, cpu_percent = 0, io_maximum_iops = 0, io_maximum_bandwidth = 0;
  bool operator==(const Resources&) const = default;
};

// HostConfig's members echoed as the request sent them (null or empty).
std::set<std::string> nullable_host_members();

struct HostConfig {
  OptStrings binds;
  std::string container_id_file;
  LogConfig log_config;
  std::string network_mode;
  PortMap port_bindings;
  RestartPolicySpec restart_policy;
  bool auto_remove = false;
  std::string volume_driver;
  OptStrings volumes_from;
  std::vector<int64_t> console_size = {0, 0};  // {height, width}
  std::string cgroupns_mode;
  OptStrings cap_add, cap_drop;
  Strings dns, dns_options, dns_search;
  OptStrings extra_hosts, group_add;
  std::string ipc_mode, cgroup;
  OptStrings links;
  int64_t oom_score_adj = 0;
  std::string pid_mode;
  bool privileged = false, publish_all_ports = false, readonly_rootfs = false;
  OptStrings security_opt;
  StringMap storage_opt;
  StringMap tmpfs;  // destination -> options ("size=64m,mode=1777")
  std::string uts_mode, userns_mode;
  int64_t shm_size = 0;
  StringMap sysctls;
  std::string runtime;
  std::string isolation;
  Resources resources;
  std::vector<MountRequest> mounts;
  OptStrings masked_paths, readonly_paths;
  std::optional<bool> init;
  // The list members (Dns, Devices, Ulimits, Blkio*, PortBindings) the
  // request left out or sent as null: dockerd echoes them as null, and []
  // or {} when sent so (the CLI sends [], the python SDK null). All of them
  // until a request says otherwise.
  std::set<std::string> null_members = nullable_host_members();
  bool operator==(const HostConfig&) const = default;
};

// NetworkingConfig.EndpointsConfig[name] (create, connect).
struct EndpointConfig {
  std::string ipv4_address, ipv6_address;  // IPAMConfig
  OptStrings link_local_ips;               // IPAMConfig.LinkLocalIPs
  bool has_ipam = false;                   // IPAMConfig was given (not null)
  OptStrings links, aliases;
  std::string mac_address;
  StringMap driver_opts;
  bool operator==(const EndpointConfig&) const = default;
};
using EndpointsConfig = std::map<std::string, EndpointConfig>;

// The body of `POST /containers/create`.
struct CreateRequest {
  Config config;
  HostConfig host_config;
  EndpointsConfig endpoints;
};

// The body of `POST /containers/{id}/exec`.
struct ExecConfig {
  std::string user;
  bool privileged = false, tty = false;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  std::string detach_keys;
  Strings env;
  Strings cmd;
  std::string working_dir;
  int64_t console_rows = 0, console_cols = 0;  // ConsoleSize; 0: unset
};

// The body of `POST /containers/{id}/update`: non-zero resource values
// replace the container's; the restart policy when its name is given.
struct UpdateRequest {
  Resources resources;
  std::optional<RestartPolicySpec> restart_policy;
};

}  // namespace dind::model
