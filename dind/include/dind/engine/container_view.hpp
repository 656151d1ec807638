#pragma once
// What the engine shows of a container, as typed values: the API encodes
// them into inspect's and list's JSON (api/container_json.cpp). No Docker
// field names here.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dind/engine/container_state.hpp"
#include "dind/engine/health.hpp"
#include "dind/model/container.hpp"

namespace dind::engine {

// Go's zero time: StartedAt/FinishedAt of a container that never ran/ended.
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// A published port of one endpoint.
struct PublishedPort {
  std::string proto = "tcp";
  std::string host_ip = "0.0.0.0";
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  bool operator==(const PublishedPort&) const = default;
};

// A container's place on one network (inspect's NetworkSettings.Networks
// entry); empty for --network none/host.
struct EndpointView {
  std::string network_id, endpoint_id, gateway, ip_address, mac_address;
  int prefix_len = 0;
  std::string ipv6_address, ipv6_gateway;  // on a network with IPv6
  int ipv6_prefix_len = 0;
  model::EndpointConfig config;  // as given at create or connect (echoed)
  model::OptStrings aliases, dns_names;
  std::vector<PublishedPort> ports;
  bool operator==(const EndpointView&) const = default;
};

struct MountView {
  std::string type;  // "volume", "bind", "tmpfs"
  std::string name;  // a volume's
  std::string source, destination, driver, mode, propagation;
  bool rw = true;
};

struct ContainerView {
  std::string id, name, created, image_id, image_name;
  std::string path;               // the process: Path and Args
  std::vector<std::string> args;
  RunStatus status = RunStatus::kCreated;
  bool paused = false;  // frozen while running
  bool oom_killed = false;
  int pid = 0, exit_code = 0, restart_count = 0;
  std::string error, started_at, finished_at;
  std::string container_dir;  // holds resolv.conf, hostname, hosts and the log
  std::string layer_dir;      // the overlay's merged, diff and work directories
  std::string lower_dirs;     // inspect only: its lower directories, ":"-joined
  std::string sandbox_key;    // the network namespace file ("" when none)
  std::string network_mode;   // "bridge", a network's name, "none", "host"
  model::Config config;
  model::HostConfig host_config;
  std::map<std::string, EndpointView> networks;
  std::vector<MountView> mounts;
  std::optional<HealthState> health;  // with a healthcheck: this run's (or the last run's)
  std::optional<int64_t> size_rw, size_root_fs;  // when asked for

  bool running() const { return status == RunStatus::kRunning; }
  // Docker's State.Status: the record's, or "paused".
  std::string docker_state() const {
    return paused && running() ? "paused" : std::string(run_status_name(status));
  }
};

}  // namespace dind::engine
