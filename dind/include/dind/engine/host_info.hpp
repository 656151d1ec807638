#pragma once
// Facts about the machine the daemon reports in /info and /version, read once
// at start (procfs, sysfs, uname, os-release). Parsers are pure and tested.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::engine {

struct HostInfo {
  std::string kernel_version;    // uname -r
  std::string architecture;      // uname -m
  std::string operating_system;  // PRETTY_NAME
  std::string os_version;        // VERSION_ID
  std::string hostname;
  int ncpu = 0;
  int64_t mem_total = 0;
  std::string cgroup_version;  // "1" or "2"
  bool memory_controller = false;
  bool cpu_controller = false;
  bool cpuset_controller = false;
  bool pids_controller = false;
  bool swap_limit = false;
  bool ipv4_forwarding = false;
  bool bridge_nf_iptables = false;
  bool bridge_nf_ip6tables = false;
  std::string backing_filesystem;  // of the data root
};

// KEY=value lines, quotes removed ("#" comments and blank lines skipped).
std::map<std::string, std::string> parse_os_release(std::string_view text);
// /proc/cgroups: controller name -> enabled.
std::map<std::string, bool> parse_proc_cgroups(std::string_view text);

HostInfo gather_host_info(const std::filesystem::path& data_root);

// The engine's ID: a UUID kept in <data_root>/engine-id, created on first
// start (atomically, 0600) so that it is stable across restarts.
base::Result<std::string> load_or_create_engine_id(const std::filesystem::path& data_root);

}  // namespace dind::engine
