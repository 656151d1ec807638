#pragma once
// The pure half of a container start: from what the executor gathered (the
// container's configuration, the image's /etc files, the network's
// resolv.conf, host facts, resolved devices), the files the container sees at
// /etc, the volumes and bind sources to create, the OCI spec and the shim's
// options. No file system, no processes: unit-tested, and the spec golden
// tests go through it. The executor (container_start.cpp) applies it: mount,
// write, spawn the shim, attach the network, start.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/engine/container_config.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::engine {

struct StartFacts {
  std::string id;
  model::Config config;           // the merged Config
  model::HostConfig host_config;  // HostConfig as created
  std::string network_mode = "bridge";
  // Another container's namespaces to join ("/proc/<pid>/ns/..."; "" for
  // none) and, when its network is joined, its hosts file (the plan's then).
  std::string join_net, join_pid, join_ipc, joined_hosts;
  std::vector<MountSpec> mounts;
  std::string rootfs;         // the mounted overlay
  std::string container_dir;  // <data-root>/containers/<id>
  std::string run_dir;        // <exec-root>/containers/<id>: the bundle
  std::string socket;         // the shim's attach socket
  std::string runc_root;
  std::string runtime = "runc";
  std::string cgroup_parent = "dind";
  std::string passwd, group;   // the image's /etc/passwd and /etc/group ("" when absent)
  std::string resolv_conf;     // the network's (the host's with --network host; "" for none)
  std::optional<nlohmann::json> seccomp;  // the daemon's default template
  runtime::HostFacts host;
  std::vector<runtime::Device> devices;
  std::string init_exe;        // the static init for --init ("" when none)
  bool runc_exec = false;      // DIND_RUNC_EXEC: execs through runc
  std::function<std::string(const std::string&)> volume_dir;  // volume name -> its _data
};

struct StartPlan {
  std::string hostname;      // /etc/hostname's content
  std::string hosts;         // /etc/hosts before the network's addresses join
  std::vector<std::string> extra_hosts;  // --add-host entries, for the hosts file with addresses
  std::string resolv_conf;   // --dns replaces the nameservers, keeps search/options
  std::vector<std::string> volumes;       // named volumes to create (on demand)
  std::vector<std::string> bind_sources;  // -v host paths to create when missing
  std::vector<std::string> required_sources;  // --mount bind sources that must exist
  runtime::SpecInput spec_input;
  nlohmann::json spec;       // runc's config.json
  runtime::ShimOptions shim;
};

base::Result<StartPlan> plan_start(const StartFacts& f);

}  // namespace dind::engine
