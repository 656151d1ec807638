#pragma once
// Applying a start plan: every side effect of a start goes through StartOs,
// one interface over the mounts, files, the shim, the network namespace and
// the network (in the spirit of Envoy's os_sys_calls.h), so that tests can
// fail its Nth call. run_start is a transaction: each step that leaves
// something behind registers its undo, and a failure undoes them in reverse,
// leaving nothing of the attempt.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dind/base/result.hpp"
#include "netsetup/manager.hpp"
#include "start_plan.hpp"

namespace dind::engine {

class StartOs {
 public:
  virtual ~StartOs() = default;
  virtual base::Status mount_rootfs() = 0;
  virtual void unmount_rootfs() = 0;
  // A file of the container directory (hostname, hosts, resolv.conf), in place.
  virtual base::Status write_file(const std::string& name, const std::string& text) = 0;
  virtual base::Status create_volume(const std::string& name) = 0;
  // A bind source: created when `create`, else it must exist.
  virtual base::Status ensure_bind_source(const std::string& path, bool create) = 0;
  virtual base::Status write_bundle(const nlohmann::json& spec) = 0;  // config.json and friends
  // `runc create` through a new shim; the pids of the container's init and the shim.
  virtual base::Result<std::pair<int, int>> spawn_shim(const runtime::ShimOptions& options) = 0;
  virtual void abort_shim() = 0;  // the shim deletes the container and exits
  virtual base::Status start_shim() = 0;  // `runc start`; a failed one deleted the container
  // The init's network namespace, bind-mounted at the run's netns path.
  virtual base::Status bind_netns(int init_pid) = 0;
  virtual void unbind_netns() = 0;
  virtual base::Result<netsetup::EndpointState> attach(const netsetup::AttachRequest& request) = 0;
  virtual void detach(const std::string& network) = 0;
};

struct NetworkJoin {
  std::string network;             // resolved name
  std::vector<std::string> names;  // DNS names on it (none on the default bridge)
  std::optional<netsetup::Ipv4> ip;  // a fixed address (IPAMConfig)
  std::optional<netsetup::Mac> mac;  // a fixed MAC
  std::optional<netsetup::Ipv6> ip6;  // a fixed IPv6 address
};

struct RunRequest {
  const StartPlan* plan = nullptr;
  bool rootfs_mounted = false;           // kept mounted from an earlier run
  std::string netns_path;                // "" : no network namespace of ours (none, host)
  std::vector<NetworkJoin> networks;     // the first gets the default route and the ports
  std::vector<netsetup::PortRequest> ports;
  std::string hostname;                  // for /etc/hosts with the addresses
  std::function<void()> before_start;    // attach streams that waited (no undo)
  std::function<void(const char*)> mark;  // timing laps (may be empty)
};

struct StartRun {
  int init_pid = 0;
  int shim_pid = 0;
  bool mounted_here = false;
  std::vector<std::pair<std::string, netsetup::EndpointState>> endpoints;
};

base::Result<StartRun> run_start(StartOs& os, const RunRequest& request);

}  // namespace dind::engine
