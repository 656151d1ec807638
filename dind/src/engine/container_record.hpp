#pragma once
// The container record Containers keeps per container (internal to the
// engine's container files): configuration, persisted state and the runtime
// handles of the current run. Guarded by Containers::mu_.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/engine/container_state.hpp"
#include "dind/engine/container_view.hpp"
#include "dind/engine/containers.hpp"
#include "dind/engine/health.hpp"
#include "dind/model/container.hpp"

namespace dind::engine {

struct Containers::Container {
  std::string id, name, image_id, image_name, created;
  model::Config config;
  model::HostConfig host_config;
  model::EndpointsConfig networking;  // NetworkingConfig.EndpointsConfig
  std::string network_mode = "bridge";
  std::vector<MountSpec> mounts;  // volumes named (anonymous ones got names at create)
  std::vector<std::string> anon_volumes;
  // State.
  RunStatus status = RunStatus::kCreated;
  int pid = 0;
  int exit_code = 0;
  std::string error;
  std::string started_at = kZeroTime;
  std::string finished_at = kZeroTime;
  int restart_count = 0;
  bool manually_stopped = false;  // docker stop/kill (HasBeenManuallyStopped)
  bool paused = false;            // frozen (docker pause)
  bool oom_killed = false;        // the last run ended by the OOM killer
  bool build_step = false;        // a build's intermediate container (removed if a crash left it)
  int shim_pid = 0;
  std::map<std::string, EndpointView> endpoints;  // network name -> the endpoint (inspect)
  std::optional<HealthState> health;  // this run's, with a healthcheck
  std::vector<std::pair<std::string, std::string>> links;  // --link: (target ID, alias)
  // Runtime (not persisted).
  // Serialises the runtime operations on this container (pause, unpause,
  // update) without the engine's lock: taken before mu_, never while
  // holding it.
  std::mutex op_mu;
  uint64_t generation = 0;
  std::shared_ptr<base::UniqueFd> shim_pidfd;
  std::shared_ptr<base::UniqueFd> init_pidfd;  // signals go here, never to the raw pid
  base::UniqueFd sync;
  bool mounted = false;
  bool starting = false;
  bool removing = false;
  bool releasing = false;  // a finished run's mounts and network are being released (unlocked)
  bool stop_requested = false;  // docker stop during this run: no restart
  std::chrono::steady_clock::time_point started_steady;
  std::chrono::milliseconds restart_delay{0};  // the restart manager's backoff
  uint64_t restart_timer = 0;                  // bumped to cancel a pending restart
  std::string netns;  // bind-mounted namespace file
  std::vector<std::pair<AttachOptions, std::shared_ptr<base::RawStream>>> pending_attaches;
  std::vector<std::function<void(ExitInfo)>> exit_waiters;
  std::vector<std::function<void(ExitInfo)>> removal_waiters;
};

// What inspect shows of a container's endpoint on `network` (names: the DNS
// names, the container's name and short ID first, then its aliases; none on
// the default bridge).
EndpointView endpoint_view(const Networks& networks, const std::string& network,
                           const netsetup::EndpointState& ep, const std::vector<std::string>& names);

// The fixed address and MAC an endpoint config asks for (IPAMConfig, MacAddress),
// refused as dockerd does (a fixed address on the default bridge, malformed values).
struct FixedEndpoint {
  std::optional<netsetup::Ipv4> ip;
  std::optional<netsetup::Ipv6> ip6;
  std::optional<netsetup::Mac> mac;
};
base::Result<FixedEndpoint> endpoint_fixed(const std::string& network,
                                           const model::EndpointConfig& endpoint_config);

// The DNS names of a container on a user network: its name, short ID, then
// the aliases of `endpoint_config` ({"Aliases": [...]}) not already there.
std::vector<std::string> dns_names(const Containers::Container& c,
                                   const model::EndpointConfig& endpoint_config);

// The container's place in the lifecycle (container_state.hpp), from the
// persisted status and the marks of the operation under way.
inline State state_of(const Containers::Container& c) {
  if (c.removing) {
    return State::kRemoving;
  }
  if (c.starting) {
    return State::kStarting;
  }
  if (c.status == RunStatus::kRunning) {
    return c.paused ? State::kPaused : State::kRunning;
  }
  if (c.status == RunStatus::kRestarting) {
    return State::kRestarting;
  }
  return c.status == RunStatus::kCreated ? State::kCreated : State::kExited;
}

// The engine's lock. At its end (after unlocking) the records saved under it
// are written, so a request's reply still follows its record to disk while
// no other request waits for the fsync.
class Containers::EngineLock {
 public:
  explicit EngineLock(const Containers& engine) : engine_(engine), lock_(engine.mu_) {}
  ~EngineLock() {
    if (lock_.owns_lock()) {
      lock_.unlock();
    }
    (void)engine_.flush();
  }
  EngineLock(const EngineLock&) = delete;
  EngineLock& operator=(const EngineLock&) = delete;
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  const Containers& engine_;
  std::unique_lock<std::mutex> lock_;
};

inline std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

}  // namespace dind::engine
