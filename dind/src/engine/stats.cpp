#include "dind/engine/stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "dind/base/fs.hpp"

namespace dind::engine {
using nlohmann::json;

namespace {

uint64_t number(const std::optional<std::string>& text, uint64_t fallback = 0) {
  if (!text) {
    return fallback;
  }
  try {
    return std::stoull(*text);
  } catch (...) {
    return fallback;  // "max", empty
  }
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
std::map<std::string, uint64_t> key_values(const std::optional<std::string>& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text.value_or(""));
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    out[key] = value;
  }
  return out;
}

// cgroup v1's memory.stat as dockerd reports it: the fixed set of keys of
// containerd's v1 metrics (a newer kernel's extra lines, such as shmem or
// swap, are left out), each with its total_ twin.
std::map<std::string, uint64_t> memory_stats_v1(const std::optional<std::string>& text) {
  static const char* const kKeys[] = {
      "cache",         "rss",         "rss_huge",    "mapped_file",  "dirty",
      "writeback",     "pgpgin",      "pgpgout",     "pgfault",      "pgmajfault",
      "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"};
  auto all = key_values(text);
  std::map<std::string, uint64_t> out;
  for (const char* k : kKeys) {
    for (const std::string& key : {std::string(k), "total_" + std::string(k)}) {
      if (auto it = all.find(key); it != all.end()) {
        out[key] = it->second;
      }
    }
  }
  for (const char* k : {"hierarchical_memory_limit", "hierarchical_memsw_limit"}) {
    if (auto it = all.find(k); it != all.end()) {
      out[k] = it->second;
    }
  }
  return out;
}

// The machine's CPU time in nanoseconds (the first line of /proc/stat).
uint64_t system_cpu(const StatsSource& s) {
  std::istringstream in(s.read("/proc/stat").value_or(""));
  std::string cpu;
  in >> cpu;
  uint64_t total = 0, v = 0;
  for (int i = 0; i < 8 && (in >> v); ++i) {  // user nice system idle iowait irq softirq steal
    total += v;
  }
  return total * (1'000'000'000 / static_cast<uint64_t>(s.clock_ticks));
}

json blkio_entries_v1(const std::optional<std::string>& text) {
  json out = json::array();
  std::istringstream in(text.value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string dev, op;
    uint64_t value = 0;
    if (!(l >> dev >> op >> value) || dev.find(':') == std::string::npos) {
      continue;  // "Total 0"
    }
    out.push_back({{"major", std::stoull(dev.substr(0, dev.find(':')))},
                   {"minor", std::stoull(dev.substr(dev.find(':') + 1))},
                   {"op", op},
                   {"value", value}});
  }
  return out;
}

json empty_blkio() {
  json b = json::object();
  for (const char* k : {"io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                        "io_time_recursive", "sectors_recursive"}) {
    b[k] = json::array();
  }
  return b;
}

json networks(const StatsSource& s) {
  json out = json::object();
  if (s.pid <= 0) {
    return out;
  }
  std::istringstream in(s.read("/proc/" + std::to_string(s.pid) + "/net/dev").value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name == "lo" || name.empty()) {
      continue;
    }
    std::istringstream f(line.substr(colon + 1));
    std::vector<uint64_t> v;
    uint64_t x = 0;
    while (f >> x) {
      v.push_back(x);
    }
    if (v.size() < 12) {
      continue;
    }
    out[name] = {{"rx_bytes", v[0]},  {"rx_packets", v[1]}, {"rx_errors", v[2]},  {"rx_dropped", v[3]},
                 {"tx_bytes", v[8]},  {"tx_packets", v[9]}, {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
  }
  return out;
}

}  // namespace

json sample_stats(const StatsSource& s) {
  const bool v2 = s.read(s.cgroup_root + "/cgroup.controllers").has_value();
  json cpu_usage, throttling, memory, pids;
  json blkio = empty_blkio();
  if (v2) {
    const std::string dir = s.cgroup_root + s.cgroup;
    auto cpu = key_values(s.read(dir + "/cpu.stat"));
    cpu_usage = {{"total_usage", cpu["usage_usec"] * 1000},
                 {"usage_in_kernelmode", cpu["system_usec"] * 1000},
                 {"usage_in_usermode", cpu["user_usec"] * 1000}};
    throttling = {{"periods", cpu["nr_periods"]},
                  {"throttled_periods", cpu["nr_throttled"]},
                  {"throttled_time", cpu["throttled_usec"] * 1000}};
    auto stat = key_values(s.read(dir + "/memory.stat"));
    memory = {{"usage", number(s.read(dir + "/memory.current"))},
              {"stats", stat},
              {"limit", number(s.read(dir + "/memory.max"), s.host_memory)}};
    pids = {{"current", number(s.read(dir + "/pids.current"))}};
    if (auto limit = number(s.read(dir + "/pids.max")); limit > 0) {
      pids["limit"] = limit;
    }
    json bytes = json::array(), ios = json::array();
    std::istringstream in(s.read(dir + "/io.stat").value_or(""));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string dev, kv;
      l >> dev;
      const auto colon = dev.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      const uint64_t major = std::stoull(dev.substr(0, colon)), minor = std::stoull(dev.substr(colon + 1));
      while (l >> kv) {
        const auto eq = kv.find('=');
        const std::string key = kv.substr(0, eq);
        const uint64_t value = number(kv.substr(eq + 1));
        if (key == "rbytes" || key == "wbytes") {
          bytes.push_back({{"major", major}, {"minor", minor}, {"op", key == "rbytes" ? "read" : "write"}, {"value", value}});
        } else if (key == "rios" || key == "wios") {
          ios.push_back({{"major", major}, {"minor", minor}, {"op", key == "rios" ? "read" : "write"}, {"value", value}});
        }
      }
    }
    blkio["io_service_bytes_recursive"] = bytes;
    blkio["io_serviced_recursive"] = ios;
  } else {
    auto at = [&](const char* ctrl, const std::string& file) { return s.read(s.cgroup_root + "/" + ctrl + s.cgroup + "/" + file); };
    json percpu = json::array();
    std::istringstream per(at("cpuacct", "cpuacct.usage_percpu").value_or(""));
    uint64_t v = 0;
    while (per >> v) {
      percpu.push_back(v);
    }
    auto times = key_values(at("cpuacct", "cpuacct.stat"));
    const uint64_t tick = 1'000'000'000 / static_cast<uint64_t>(s.clock_ticks);
    cpu_usage = {{"total_usage", number(at("cpuacct", "cpuacct.usage"))},
                 {"percpu_usage", percpu},
                 {"usage_in_kernelmode", times["system"] * tick},
                 {"usage_in_usermode", times["user"] * tick}};
    auto cpu = key_values(at("cpu", "cpu.stat"));
    throttling = {{"periods", cpu["nr_periods"]},
                  {"throttled_periods", cpu["nr_throttled"]},
                  {"throttled_time", cpu["throttled_time"]}};
    uint64_t limit = number(at("memory", "memory.limit_in_bytes"), s.host_memory);
    if (s.host_memory > 0 && limit > s.host_memory) {
      limit = s.host_memory;  // "unlimited" is a huge number in v1
    }
    memory = {{"usage", number(at("memory", "memory.usage_in_bytes"))},
              {"max_usage", number(at("memory", "memory.max_usage_in_bytes"))},
              {"stats", memory_stats_v1(at("memory", "memory.stat"))},
              {"limit", limit}};
    pids = {{"current", number(at("pids", "pids.current"))}};
    if (auto plimit = number(at("pids", "pids.max")); plimit > 0) {
      pids["limit"] = plimit;
    }
    blkio["io_service_bytes_recursive"] = blkio_entries_v1(at("blkio", "blkio.throttle.io_service_bytes_recursive"));
    blkio["io_serviced_recursive"] = blkio_entries_v1(at("blkio", "blkio.throttle.io_serviced_recursive"));
  }
  json out = {{"cpu_stats",
               {{"cpu_usage", cpu_usage},
                {"system_cpu_usage", system_cpu(s)},
                {"online_cpus", s.online_cpus},
                {"throttling_data", throttling}}},
              {"memory_stats", memory},
              {"pids_stats", pids},
              {"blkio_stats", blkio}};
  if (auto nets = networks(s); !nets.empty()) {
    out["networks"] = nets;
  }
  return out;
}

json stats_message(const json& sample, const std::string& read, const json& previous,
                   const std::string& preread, const std::string& name, const std::string& id) {
  const json zero_cpu = {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
                         {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
  json m = {{"read", read},
            {"preread", preread},
            {"pids_stats", json::object()},
            {"blkio_stats", empty_blkio()},
            {"num_procs", 0},
            {"storage_stats", json::object()},
            {"cpu_stats", zero_cpu},
            {"precpu_stats", zero_cpu},
            {"memory_stats", json::object()},
            {"name", name},
            {"id", id}};
  if (sample.is_object()) {
    for (const char* k : {"pids_stats", "blkio_stats", "cpu_stats", "memory_stats"}) {
      m[k] = sample[k];
    }
    if (sample.contains("networks")) {
      m["networks"] = sample["networks"];
    }
  }
  if (previous.is_object()) {
    m["precpu_stats"] = previous["cpu_stats"];
  }
  return m;
}

std::optional<std::string> read_stats_file(const std::string& path) {
  auto read = base::read_file(path, 1u << 20);
  if (!read) {
    return std::nullopt;
  }
  std::string out = std::move(*read);
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

}  // namespace dind::engine
