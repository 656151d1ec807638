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

// An integer field; 0 when absent or null; an error for another type.
base::Result<int64_t> int_field(const json& hc, const char* key) {
  const auto it = hc.find(key);
  if (it == hc.end() || it->is_null()) {
    return int64_t{0};
  }
  if (!it->is_number_integer()) {
    return invalid(std::string("json: cannot unmarshal ") + it->type_name() +
                   " into Go struct field HostConfig." + key + " of type int64");
  }
  return it->get<int64_t>();
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

base::Result<json> settle_resources(json hc, const HostFacts& host, bool update,
                                    std::vector<std::string>* warnings) {
  if (!hc.is_object()) {
    hc = json::object();
  }
  DIND_ASSIGN_OR_RETURN(const int64_t memory, int_field(hc, "Memory"));
  DIND_ASSIGN_OR_RETURN(int64_t swap, int_field(hc, "MemorySwap"));
  DIND_ASSIGN_OR_RETURN(const int64_t reservation, int_field(hc, "MemoryReservation"));
  DIND_ASSIGN_OR_RETURN(const int64_t nano, int_field(hc, "NanoCpus"));
  DIND_ASSIGN_OR_RETURN(const int64_t period, int_field(hc, "CpuPeriod"));
  DIND_ASSIGN_OR_RETURN(const int64_t quota, int_field(hc, "CpuQuota"));
  DIND_ASSIGN_OR_RETURN(const int64_t shares, int_field(hc, "CpuShares"));
  DIND_ASSIGN_OR_RETURN(const int64_t pids, int_field(hc, "PidsLimit"));
  DIND_ASSIGN_OR_RETURN(const int64_t blkio, int_field(hc, "BlkioWeight"));
  DIND_ASSIGN_OR_RETURN(const int64_t oom_adj, int_field(hc, "OomScoreAdj"));

  if (memory < 0 || reservation < 0 || nano < 0 || period < 0 || shares < 0) {
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
  if (auto it = hc.find("MemorySwappiness"); it != hc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < -1 || it->get<int64_t>() > 100) {
      return invalid("Invalid value: " + it->dump() + ", valid memory swappiness range is 0-100");
    }
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
  DIND_TRY(check_cpuset(hc.value("CpusetCpus", ""), host.cpus_online, "cpuset cpus"));
  DIND_TRY(check_cpuset(hc.value("CpusetMems", ""), host.mems_online, "cpuset mems"));
  if (blkio != 0 && (blkio < 10 || blkio > 1000)) {
    return invalid("Range of blkio weight is from 10 to 1000");
  }
  if (oom_adj < -1000 || oom_adj > 1000) {
    return invalid("Invalid value " + std::to_string(oom_adj) +
                   ", range for oom score adj is [-1000, 1000]");
  }
  if (auto it = hc.find("Ulimits"); it != hc.end() && !it->is_null()) {
    if (!it->is_array()) {
      return invalid("json: cannot unmarshal " + std::string(it->type_name()) +
                     " into Go struct field HostConfig.Ulimits of type []*units.Ulimit");
    }
    for (const auto& u : *it) {
      if (!u.is_object() || !u.value("Name", json()).is_string() ||
          !u.value("Soft", json(0)).is_number_integer() ||
          !u.value("Hard", json(0)).is_number_integer()) {
        return invalid("invalid ulimit: " + u.dump());
      }
      const std::string name = u["Name"].get<std::string>();
      if (ulimit_names().count(name) == 0) {
        return invalid("invalid ulimit type: " + name);
      }
      const int64_t soft = u.value("Soft", int64_t{0});
      const int64_t hard = u.value("Hard", int64_t{0});
      if (soft > hard) {
        return invalid("ulimit soft limit must be less than or equal to hard limit: " +
                       std::to_string(soft) + " > " + std::to_string(hard));
      }
    }
  }
  for (const char* key : {"CpuRealtimePeriod", "CpuRealtimeRuntime"}) {
    if (hc.value(key, json(0)).is_number() && hc.value(key, json(0)).get<double>() != 0) {
      return invalid(std::string(key) + ": real-time CPU scheduling is not supported by dind");
    }
  }
  for (const char* key : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                          "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"}) {
    if (const json v = hc.value(key, json()); v.is_array() && !v.empty()) {
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
    hc["BlkioWeight"] = 0;
  }
  // dockerd's defaults.
  if (!update && memory > 0 && swap == 0) {
    swap = host.swap_limit ? memory * 2 : -1;
    hc["MemorySwap"] = swap;
  }
  if (pids < 0) {
    hc["PidsLimit"] = 0;
  }
  return hc;
}

json oci_resources(const json& hc, const HostFacts& host) {
  auto get = [&hc](const char* key) -> int64_t {
    const auto it = hc.find(key);
    return it != hc.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  json r = json::object();
  json memory = json::object();
  if (get("Memory") > 0) {
    memory["limit"] = get("Memory");
    if (host.swap_limit && get("MemorySwap") != 0) {
      memory["swap"] = get("MemorySwap");
    }
  }
  if (get("MemoryReservation") > 0) {
    memory["reservation"] = get("MemoryReservation");
  }
  if (auto it = hc.find("MemorySwappiness"); it != hc.end() && it->is_number_integer() &&
                                             it->get<int64_t>() >= 0) {
    memory["swappiness"] = it->get<int64_t>();
  }
  if (hc.value("OomKillDisable", false)) {
    memory["disableOOMKiller"] = true;
  }
  if (!memory.empty()) {
    r["memory"] = memory;
  }
  json cpu = json::object();
  if (get("CpuShares") > 0) {
    cpu["shares"] = get("CpuShares");
  }
  if (get("NanoCpus") > 0) {
    cpu["period"] = kCfsPeriod;
    cpu["quota"] = get("NanoCpus") * kCfsPeriod / 1000000000;
  } else {
    if (get("CpuPeriod") > 0) {
      cpu["period"] = get("CpuPeriod");
    }
    if (get("CpuQuota") != 0) {
      cpu["quota"] = get("CpuQuota");
    }
  }
  if (auto v = hc.value("CpusetCpus", ""); !v.empty()) {
    cpu["cpus"] = v;
  }
  if (auto v = hc.value("CpusetMems", ""); !v.empty()) {
    cpu["mems"] = v;
  }
  if (!cpu.empty()) {
    r["cpu"] = cpu;
  }
  if (get("PidsLimit") > 0) {
    r["pids"] = {{"limit", get("PidsLimit")}};
  }
  if (get("BlkioWeight") > 0) {
    r["blockIO"] = {{"weight", get("BlkioWeight")}};
  }
  return r;
}

base::Result<json> oci_rlimits(const json& hc, const HostFacts& host) {
  const bool can_raise = std::find(host.bounding_caps.begin(), host.bounding_caps.end(),
                                   "CAP_SYS_RESOURCE") != host.bounding_caps.end();
  json out = json::array();
  bool nofile_set = false;
  const json ulimits = hc.is_object() ? hc.value("Ulimits", json::array()) : json::array();
  for (const auto& u : ulimits.is_array() ? ulimits : json::array()) {
    const std::string name = u.value("Name", "");
    const auto soft = u.value("Soft", int64_t{0});
    const auto hard = u.value("Hard", int64_t{0});
    if (auto limit = host.rlimit_hard.find(name); !can_raise && limit != host.rlimit_hard.end() &&
                                                  hard >= 0 &&
                                                  static_cast<uint64_t>(hard) > limit->second) {
      return invalid("ulimit " + name + ": the hard limit " + std::to_string(hard) +
                     " is above this host's " + std::to_string(limit->second) +
                     " and the daemon lacks CAP_SYS_RESOURCE to raise it");
    }
    nofile_set = nofile_set || name == "nofile";
    out.push_back({{"type", "RLIMIT_" + upper(name)}, {"hard", hard}, {"soft", soft}});
  }
  if (!nofile_set) {
    const uint64_t nofile = std::min<uint64_t>(host.nofile_hard, 1048576);
    out.insert(out.begin(), json{{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}});
  }
  return out;
}

}  // namespace dind::runtime
