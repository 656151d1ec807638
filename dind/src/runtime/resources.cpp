#include "dind/runtime/resources.hpp"

#include <algorithm>
#include <charconv>

namespace dind::runtime {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // dockerd's linuxMinMemory
constexpr int64_t kCfsPeriod = 100000;

base::Error invalid(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::move(message));
}

const std::set<std::string>& ulimit_names() {
  static const std::set<std::string> k = {"core",   "cpu",   "data",     "fsize",      "locks",
                                          "memlock", "msgqueue", "nice", "nofile",   "nproc",
                                          "rss",    "rtprio", "rttime", "sigpending", "stack"};
  return k;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

base::Status check_cpuset(const std::string& value, const std::string& online, const char* what) {
  if (value.empty()) {
    return {};
  }
  auto want = parse_cpu_list(value);
  if (!want) {
    return invalid("Invalid value " + value + " for " + what);
  }
  auto have = parse_cpu_list(online).value_or(std::set<int>{});
  for (int c : *want) {
    if (have.count(c) == 0) {
      return invalid(std::string("Requested ") + (std::string(what) == "cpuset cpus" ? "CPUs" : "memory nodes") +
                     " are not available - requested " + value + ", available: " + online);
    }
  }
  return {};
}

}  // namespace

std::optional<std::set<int>> parse_cpu_list(const std::string& text) {
  std::set<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const size_t dash = part.find('-');
    auto number = [](const std::string& s) -> std::optional<int> {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0 || v > 4095) {
        return std::nullopt;
      }
      return v;
    };
    auto lo = number(dash == std::string::npos ? part : part.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : number(part.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) {
      return std::nullopt;
    }
    for (int c = *lo; c <= *hi; ++c) {
      out.insert(c);
    }
    start = end + 1;
  }
  return out;
}

base::Result<model::HostConfig> settle_resources(model::HostConfig hc, const HostFacts& host,
                                                 bool update, std::vector<std::string>* warnings) {
  model::Resources& r = hc.resources;
  const int64_t memory = r.memory;
  const int64_t swap = r.memory_swap;
  const int64_t reservation = r.memory_reservation;
  const int64_t nano = r.nano_cpus;
  const int64_t period = r.cpu_period;
  const int64_t quota = r.cpu_quota;
  const int64_t blkio = r.blkio_weight;
  const int64_t oom_adj = hc.oom_score_adj;

  if (memory < 0 || reservation < 0 || nano < 0 || period < 0 || r.cpu_shares < 0) {
    return invalid("invalid resource limit: values cannot be negative");
  }
  if (memory != 0 && memory < kMinMemory) {
    return invalid("Minimum memory limit allowed is 6MB");
  }
  if (memory > 0 && swap > 0 && swap < memory) {
    return invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (memory == 0 && swap > 0 && !update) {
    return invalid("You should always set the Memory limit when using Memoryswap limit, see usage");
  }
  if (reservation != 0 && reservation < kMinMemory) {
    return invalid("Minimum memory reservation allowed is 6MB");
  }
  if (memory > 0 && reservation > 0 && memory < reservation) {
    return invalid(
        "Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  if (r.memory_swappiness && (*r.memory_swappiness < -1 || *r.memory_swappiness > 100)) {
    return invalid("Invalid value: " + std::to_string(*r.memory_swappiness) +
                   ", valid memory swappiness range is 0-100");
  }
  if (nano > 0 && period > 0) {
    return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  }
  if (nano > 0 && quota > 0) {
    return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  }
  if (nano > static_cast<int64_t>(host.ncpus) * 1000000000) {
    return invalid("Range of CPUs is from 0.01 to " + std::to_string(host.ncpus) +
                   ".00, as there are only " + std::to_string(host.ncpus) + " CPUs available");
  }
  if (period != 0 && (period < 1000 || period > 1000000)) {
    return invalid(
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (quota > 0 && quota < 1000) {
    return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  }
  DIND_TRY(check_cpuset(r.cpuset_cpus, host.cpus_online, "cpuset cpus"));
  DIND_TRY(check_cpuset(r.cpuset_mems, host.mems_online, "cpuset mems"));
  if (blkio != 0 && (blkio < 10 || blkio > 1000)) {
    return invalid("Range of blkio weight is from 10 to 1000");
  }
  if (oom_adj < -1000 || oom_adj > 1000) {
    return invalid("Invalid value " + std::to_string(oom_adj) +
                   ", range for oom score adj is [-1000, 1000]");
  }
  for (const auto& u : r.ulimits) {
    if (ulimit_names().count(u.name) == 0) {
      return invalid("invalid ulimit type: " + u.name);
    }
    if (u.soft > u.hard) {
      return invalid("ulimit soft limit must be less than or equal to hard limit: " +
                     std::to_string(u.soft) + " > " + std::to_string(u.hard));
    }
  }
  if (r.cpu_realtime_period != 0) {
    return invalid("CpuRealtimePeriod: real-time CPU scheduling is not supported by dind");
  }
  if (r.cpu_realtime_runtime != 0) {
    return invalid("CpuRealtimeRuntime: real-time CPU scheduling is not supported by dind");
  }
  const std::pair<const char*, bool> per_device[] = {
      {"BlkioWeightDevice", !r.blkio_weight_device.empty()},
      {"BlkioDeviceReadBps", !r.blkio_device_read_bps.empty()},
      {"BlkioDeviceWriteBps", !r.blkio_device_write_bps.empty()},
      {"BlkioDeviceReadIOps", !r.blkio_device_read_iops.empty()},
      {"BlkioDeviceWriteIOps", !r.blkio_device_write_iops.empty()}};
  for (const auto& [key, given] : per_device) {
    if (given) {
      return invalid(std::string(key) + ": per-device block I/O limits are not supported by dind");
    }
  }
  if (blkio > 0 && !host.blkio_weight) {
    // dockerd's warning, and the weight goes.
    if (warnings != nullptr) {
      warnings->push_back(
          "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight "
          "discarded.");
    }
    r.blkio_weight = 0;
  }
  // dockerd's defaults.
  if (!update && memory > 0 && swap == 0) {
    r.memory_swap = host.swap_limit ? memory * 2 : -1;
  }
  if (r.pids_limit && *r.pids_limit < 0) {
    r.pids_limit = 0;
  }
  return hc;
}

json oci_resources(const model::Resources& r, const HostFacts& host) {
  json out = json::object();
  json memory = json::object();
  if (r.memory > 0) {
    memory["limit"] = r.memory;
    if (host.swap_limit && r.memory_swap != 0) {
      memory["swap"] = r.memory_swap;
    }
  }
  if (r.memory_reservation > 0) {
    memory["reservation"] = r.memory_reservation;
  }
  if (r.memory_swappiness && *r.memory_swappiness >= 0) {
    memory["swappiness"] = *r.memory_swappiness;
  }
  if (r.oom_kill_disable) {
    memory["disableOOMKiller"] = true;
  }
  if (!memory.empty()) {
    out["memory"] = memory;
  }
  json cpu = json::object();
  if (r.cpu_shares > 0) {
    cpu["shares"] = r.cpu_shares;
  }
  if (r.nano_cpus > 0) {
    cpu["period"] = kCfsPeriod;
    cpu["quota"] = r.nano_cpus * kCfsPeriod / 1000000000;
  } else {
    if (r.cpu_period > 0) {
      cpu["period"] = r.cpu_period;
    }
    if (r.cpu_quota != 0) {
      cpu["quota"] = r.cpu_quota;
    }
  }
  if (!r.cpuset_cpus.empty()) {
    cpu["cpus"] = r.cpuset_cpus;
  }
  if (!r.cpuset_mems.empty()) {
    cpu["mems"] = r.cpuset_mems;
  }
  if (!cpu.empty()) {
    out["cpu"] = cpu;
  }
  if (r.pids_limit.value_or(0) > 0) {
    out["pids"] = {{"limit", *r.pids_limit}};
  }
  if (r.blkio_weight > 0) {
    out["blockIO"] = {{"weight", r.blkio_weight}};
  }
  return out;
}

base::Result<json> oci_rlimits(const model::Resources& r, const HostFacts& host) {
  const bool can_raise = std::find(host.bounding_caps.begin(), host.bounding_caps.end(),
                                   "CAP_SYS_RESOURCE") != host.bounding_caps.end();
  json out = json::array();
  bool nofile_set = false;
  for (const auto& u : r.ulimits) {
    if (auto limit = host.rlimit_hard.find(u.name); !can_raise &&
                                                    limit != host.rlimit_hard.end() &&
                                                    u.hard >= 0 &&
                                                    static_cast<uint64_t>(u.hard) > limit->second) {
      return invalid("ulimit " + u.name + ": the hard limit " + std::to_string(u.hard) +
                     " is above this host's " + std::to_string(limit->second) +
                     " and the daemon lacks CAP_SYS_RESOURCE to raise it");
    }
    nofile_set = nofile_set || u.name == "nofile";
    out.push_back({{"type", "RLIMIT_" + upper(u.name)}, {"hard", u.hard}, {"soft", u.soft}});
  }
  if (!nofile_set) {
    const uint64_t nofile = std::min<uint64_t>(host.nofile_hard, 1048576);
    out.insert(out.begin(), json{{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}});
  }
  return out;
}

}  // namespace dind::runtime
