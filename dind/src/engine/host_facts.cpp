#include "host_facts.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/runtime/capabilities.hpp"

namespace dind::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

runtime::HostFacts gather_host_facts() {
  runtime::HostFacts h;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    h.nofile_hard = rl.rlim_max;
  }
  h.has_unprivileged_port_sysctl = fs::exists("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  h.has_ping_group_range_sysctl = fs::exists("/proc/sys/net/ipv4/ping_group_range");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/devices/system/cpu", ec)) {
    if (fs::exists(e.path() / "thermal_throttle")) {
      h.thermal_throttle_paths.push_back((e.path() / "thermal_throttle").string());
    }
  }
  std::sort(h.thermal_throttle_paths.begin(), h.thermal_throttle_paths.end());
  h.ncpus = std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
  auto first_line = [](const char* path, const std::string& fallback) {
    std::string t = base::read_file(path, 4096).value_or(fallback);
    t = t.substr(0, t.find('\n'));
    return t.empty() ? fallback : t;
  };
  h.cpus_online = first_line("/sys/devices/system/cpu/online", "0-" + std::to_string(h.ncpus - 1));
  h.mems_online = first_line("/sys/devices/system/node/online", "0");
  h.swap_limit = fs::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") ||
                 (fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
                  first_line("/sys/fs/cgroup/cgroup.controllers", "").find("memory") !=
                      std::string::npos);
  h.blkio_weight = fs::exists("/sys/fs/cgroup/blkio/blkio.weight") ||
                   fs::exists("/sys/fs/cgroup/blkio/blkio.bfq.weight") ||
                   (fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
                    first_line("/sys/fs/cgroup/cgroup.controllers", "").find("io") !=
                        std::string::npos);
  for (const auto& [name, resource] : std::initializer_list<std::pair<const char*, int>>{
           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
           {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
           {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
           {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
           {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
           {"stack", RLIMIT_STACK}}) {
    rlimit r{};
    if (::getrlimit(resource, &r) == 0 && r.rlim_max != RLIM_INFINITY) {
      h.rlimit_hard[name] = r.rlim_max;
    }
  }
  // CapBnd: hex mask of the bounding set.
  std::istringstream status(base::read_file("/proc/self/status").value_or(""));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapBnd:", 0) == 0) {
      h.bounding_caps = runtime::capability_names(std::stoull(line.substr(7), nullptr, 16));
    }
  }
  return h;
}

}  // namespace dind::engine
