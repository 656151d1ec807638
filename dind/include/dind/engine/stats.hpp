#pragma once
// docker stats: one sample of a container's cgroups (v1 controllers or the
// v2 unified hierarchy) and of its network namespace's interfaces, in
// dockerd's StatsJSON shape. Pure over a file reader, so the parsing is
// tested on recorded files without a container.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dind::engine {

using StatsFileReader = std::function<std::optional<std::string>(const std::string& path)>;

struct StatsSource {
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup;  // the container's cgroup path, "/dind/<id>"
  int pid = 0;         // its init (for /proc/<pid>/net/dev); 0: no network
  StatsFileReader read;
  int64_t clock_ticks = 100;  // sysconf(_SC_CLK_TCK)
  int online_cpus = 1;
  uint64_t host_memory = 0;  // the limit shown when the cgroup has none
};

// One sample: cpu_stats, memory_stats, pids_stats, blkio_stats and (when
// the container has interfaces besides lo) networks.
nlohmann::json sample_stats(const StatsSource& source);

// The message dockerd sends: `read` and `preread` times, the sample as
// cpu_stats, the previous one's cpu as precpu_stats (zeros for the first),
// name ("/name") and id. A stopped container's message has zero times and
// empty sections (sample null).
nlohmann::json stats_message(const nlohmann::json& sample, const std::string& read,
                             const nlohmann::json& previous, const std::string& preread,
                             const std::string& name, const std::string& id);

// Reads a file whole (for StatsSource::read).
std::optional<std::string> read_stats_file(const std::string& path);

}  // namespace dind::engine
