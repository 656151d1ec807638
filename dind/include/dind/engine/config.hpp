#pragma once
// Daemon configuration: dockerd-compatible flags plus a daemon.json with the
// same keys where they overlap. Pure parsing and planning; no I/O except
// reading the config file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::engine {

struct HostSpec {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // unix
  std::string host;  // tcp, without brackets
  uint16_t port = 0;
  std::string to_string() const;
};

// "unix:///path", "unix://" (default socket), "tcp://host:port", "tcp://:2376",
// "tcp://[::]:2376", "tcp://host" (port 2376 with TLS, 2375 without), a bare
// "/path" (unix). "fd://" (systemd activation) is refused as unsupported.
base::Result<HostSpec> parse_host(std::string_view text, bool tls);

inline constexpr const char* kDefaultSocket = "/var/run/docker.sock";
inline constexpr const char* kDefaultConfigFile = "/etc/docker/daemon.json";

struct DaemonConfig {
  std::vector<std::string> hosts;
  std::optional<bool> tls;
  std::optional<bool> tlsverify;
  std::string tlscacert;
  std::string tlscert;
  std::string tlskey;
  std::string data_root = "/var/lib/dind";
  std::string exec_root = "/run/dind";
  std::string pidfile = "/run/dind.pid";
  std::string config_file;  // empty: kDefaultConfigFile if it exists
  std::string log_level = "info";
  bool debug = false;
  int mtu = 0;  // 0: the uplink's
  std::string bip;
  std::string bridge = "dind0";        // the default network's bridge interface
  std::string cgroup_parent = "dind";  // containers' cgroups: /<parent>/<id>
  std::vector<std::string> registry_mirrors;
  std::vector<std::string> insecure_registries;
  std::string registry_certs_dir = "/etc/docker/certs.d";
  int max_concurrent_downloads = 3;
  int max_concurrent_uploads = 5;
  int push_gzip_level = 1;
  std::vector<std::string> address_pools;  // "base=CIDR,size=N" (dockerd's default-address-pools)
  // true: containers outlive the daemon (SIGTERM leaves them running);
  // false: SIGTERM stops them first, within shutdown_timeout seconds.
  bool live_restore = true;
  int shutdown_timeout = 15;
};

// Parses dockerd-style flags ("--flag value", "--flag=value", "-H value",
// booleans "--tlsverify" / "--tlsverify=false"), then merges the config file
// (a key given both ways is an error, as with dockerd; unknown keys are an
// error). `config_required` makes a missing default config file an error.
base::Result<DaemonConfig> parse_daemon_args(const std::vector<std::string>& args,
                                             DaemonConfig defaults = {});
// Merges daemon.json text into config; `flags_seen` are the flag names given
// on the command line (for the conflict check).
base::Status merge_config_json(std::string_view json, const std::vector<std::string>& flags_seen,
                               DaemonConfig& config);

std::string daemon_usage();

}  // namespace dind::engine
