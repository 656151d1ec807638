#include "dind/runtime/spec.hpp"

#include "dind/runtime/resources.hpp"
#include "dind/runtime/security.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

namespace dind::runtime {

std::vector<std::string> default_masked_paths() {
  return {"/proc/asound",     "/proc/acpi",        "/proc/interrupts",
          "/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap"};
}

std::vector<std::string> default_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The strings of a JSON list (or a lone string) in a seccomp template.
std::vector<std::string> strings(const json& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& s : v) {
      if (s.is_string()) {
        out.push_back(s.get<std::string>());
      }
    }
  } else if (v.is_string()) {
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string env_key(const std::string& kv) {
  return kv.substr(0, kv.find('='));
}

// Docker's device cgroup defaults: deny all, then the few safe char devices,
// and /dev/fuse explicitly denied.
json default_device_rules() {
  json rules = json::array();
  rules.push_back({{"allow", false}, {"access", "rwm"}});
  for (auto [maj, min] :
       std::vector<std::pair<int, int>>{{1, 5}, {1, 3}, {1, 9}, {1, 8}, {5, 0}, {5, 1}}) {
    rules.push_back(
        {{"allow", true}, {"type", "c"}, {"major", maj}, {"minor", min}, {"access", "rwm"}});
  }
  rules.push_back(
      {{"allow", false}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "rwm"}});
  return rules;
}

json mount(const std::string& dest, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

size_t depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

base::Result<std::vector<std::string>> process_args(const model::Config& config) {
  std::vector<std::string> args = config.entrypoint.value_or(model::Strings{});
  for (const auto& c : config.cmd.value_or(model::Strings{})) {
    args.push_back(c);
  }
  if (args.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "No command specified");
  }
  return args;
}

std::vector<std::string> process_env(const model::Config& config) {
  std::vector<std::string> env = {std::string("PATH=") + kDefaultPath,
                                  "HOSTNAME=" + config.hostname};
  if (config.tty) {
    env.emplace_back("TERM=xterm");
  }
  for (const auto& kv : config.env.value_or(model::Strings{})) {
    const std::string key = env_key(kv);
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return env_key(e) == key; });
    if (kv.find('=') == std::string::npos) {
      continue;  // "FOO" without a value: dockerd drops unset names
    }
    if (it != env.end()) {
      *it = kv;
    } else {
      env.push_back(kv);
    }
  }
  return env;
}

json plan_exec_process(const json& container_process, const model::Config& container_config,
                       const ExecInput& in) {
  json p = container_process.is_object() ? container_process : json::object();
  model::Config cfg = container_config;
  cfg.tty = in.tty;
  if (!cfg.env) {
    cfg.env.emplace();
  }
  cfg.env->insert(cfg.env->end(), in.env.begin(), in.env.end());
  p["args"] = in.args;
  p["env"] = process_env(cfg);
  p["terminal"] = in.tty;
  p.erase("consoleSize");
  if (in.tty && in.rows > 0 && in.cols > 0) {
    p["consoleSize"] = {{"height", in.rows}, {"width", in.cols}};
  }
  p["user"] = {{"uid", in.user.uid}, {"gid", in.user.gid}};
  if (!in.user.additional_gids.empty()) {
    p["user"]["additionalGids"] = in.user.additional_gids;
  }
  if (!in.working_dir.empty()) {
    p["cwd"] = in.working_dir;
  } else if (!p.contains("cwd")) {
    p["cwd"] = "/";
  }
  if (in.privileged) {
    p["capabilities"] = {{"bounding", in.privileged_caps},
                         {"effective", in.privileged_caps},
                         {"permitted", in.privileged_caps}};
  }
  return p;
}

json render_seccomp(const json& profile, const std::string& arch,
                    const std::vector<std::string>& caps) {
  static const std::map<std::string, std::string> kNative = {
      {"amd64", "SCMP_ARCH_X86_64"},    {"arm64", "SCMP_ARCH_AARCH64"},
      {"386", "SCMP_ARCH_X86"},         {"arm", "SCMP_ARCH_ARM"},
      {"ppc64le", "SCMP_ARCH_PPC64LE"}, {"s390x", "SCMP_ARCH_S390X"},
      {"riscv64", "SCMP_ARCH_RISCV64"}};
  const std::set<std::string> capset(caps.begin(), caps.end());
  json out;
  out["defaultAction"] = profile.value("defaultAction", "SCMP_ACT_ERRNO");
  if (profile.contains("defaultErrnoRet")) {
    out["defaultErrnoRet"] = profile["defaultErrnoRet"];
  }
  json arches = json::array();
  const auto native = kNative.find(arch);
  for (const auto& m : profile.value("archMap", json::array())) {
    if (native != kNative.end() && m.value("architecture", "") == native->second) {
      arches.push_back(native->second);
      for (const auto& sub : m.value("subArchitectures", json::array())) {
        arches.push_back(sub);
      }
    }
  }
  out["architectures"] = arches;
  auto matches = [&](const json& filter, bool include) {
    if (!filter.is_object()) {
      return true;
    }
    const auto a = strings(filter.value("arches", json()));
    const auto c = strings(filter.value("caps", json()));
    if (include) {
      if (!a.empty() && std::find(a.begin(), a.end(), arch) == a.end()) {
        return false;
      }
      for (const auto& cap : c) {
        if (capset.count(cap) == 0) {
          return false;
        }
      }
      return true;
    }
    // excludes: drop the rule when any listed arch/cap matches
    if (std::find(a.begin(), a.end(), arch) != a.end()) {
      return false;
    }
    return std::none_of(c.begin(), c.end(),
                        [&](const std::string& cap) { return capset.count(cap) > 0; });
  };
  json syscalls = json::array();
  for (const auto& rule : profile.value("syscalls", json::array())) {
    if (!matches(rule.value("includes", json()), true) ||
        !matches(rule.value("excludes", json()), false)) {
      continue;
    }
    json r;
    r["names"] = rule.value("names", json::array());
    if (rule.contains("name")) {
      r["names"].push_back(rule["name"]);
    }
    r["action"] = rule.value("action", "SCMP_ACT_ALLOW");
    if (rule.contains("errnoRet")) {
      r["errnoRet"] = rule["errnoRet"];
    }
    if (rule.contains("args") && rule["args"].is_array() && !rule["args"].empty()) {
      r["args"] = rule["args"];
    }
    syscalls.push_back(std::move(r));
  }
  out["syscalls"] = syscalls;
  return out;
}

namespace {

std::vector<std::vector<std::string>> split_lines(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::vector<std::string> fields;
    size_t start = 0;
    for (;;) {
      const size_t colon = line.find(':', start);
      fields.push_back(
          line.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::optional<uint32_t> number(const std::string& s) {
  uint32_t v = 0;
  if (s.empty()) {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

base::Result<User> resolve_user(const std::string& spec, const std::string& passwd,
                                const std::string& group) {
  User u;
  if (spec.empty()) {
    return u;
  }
  const size_t colon = spec.find(':');
  const std::string user_part = spec.substr(0, colon);
  const std::string group_part = colon == std::string::npos ? "" : spec.substr(colon + 1);
  std::string user_name;
  const auto pw = split_lines(passwd);
  bool found = false;
  if (auto n = number(user_part)) {
    u.uid = *n;
    for (const auto& row : pw) {
      if (row.size() >= 4 && number(row[2]) == *n) {
        u.gid = number(row[3]).value_or(0);
        user_name = row[0];
        found = true;
        break;
      }
    }
  } else {
    for (const auto& row : pw) {
      if (row.size() >= 4 && row[0] == user_part) {
        u.uid = number(row[2]).value_or(0);
        u.gid = number(row[3]).value_or(0);
        user_name = row[0];
        found = true;
        break;
      }
    }
    if (!found) {
      return make_error(ErrorKind::kInvalidArgument, "unable to find user " + user_part +
                                                         ": no matching entries in passwd file");
    }
  }
  const auto gr = split_lines(group);
  if (!group_part.empty()) {
    if (auto n = number(group_part)) {
      u.gid = *n;
    } else {
      bool group_found = false;
      for (const auto& row : gr) {
        if (row.size() >= 3 && row[0] == group_part) {
          u.gid = number(row[2]).value_or(0);
          group_found = true;
          break;
        }
      }
      if (!group_found) {
        return make_error(ErrorKind::kInvalidArgument, "unable to find group " + group_part +
                                                           ": no matching entries in group file");
      }
    }
  }
  if (found && !user_name.empty()) {
    for (const auto& row : gr) {
      if (row.size() < 4) {
        continue;
      }
      std::istringstream members(row[3]);
      std::string m;
      while (std::getline(members, m, ',')) {
        if (m == user_name) {
          if (auto g = number(row[2]); g && *g != u.gid &&
                                       std::find(u.additional_gids.begin(), u.additional_gids.end(),
                                                 *g) == u.additional_gids.end()) {
            u.additional_gids.push_back(*g);
          }
        }
      }
    }
  }
  return u;
}

base::Status add_groups(User& user, const std::vector<std::string>& groups,
                        const std::string& group) {
  const auto gr = split_lines(group);
  for (const auto& g : groups) {
    std::optional<uint32_t> gid;
    if (auto n = number(g)) {
      gid = *n;
    } else {
      for (const auto& row : gr) {
        if (row.size() >= 3 && row[0] == g) {
          gid = number(row[2]);
          break;
        }
      }
    }
    if (!gid) {
      return make_error(ErrorKind::kInvalidArgument,
                        "Unable to find group " + g + ": no matching entries in group file");
    }
    if (std::find(user.additional_gids.begin(), user.additional_gids.end(), *gid) ==
        user.additional_gids.end()) {
      user.additional_gids.push_back(*gid);
    }
  }
  return {};
}

base::Result<json> plan_spec(const SpecInput& in) {
  const model::Config& cfg = in.config;
  const model::HostConfig& hc = in.host_config;
  auto args = process_args(cfg);
  if (!args) {
    return std::move(args).error();
  }
  const bool privileged = hc.privileged;
  const bool tty = cfg.tty;

  auto security = parse_security_opts(hc);
  if (!security) {
    return std::move(security).error();
  }
  if (auto st = check_caps_and_sysctls(hc, in.host_network); !st) {
    return std::move(st).error();
  }
  auto granted = granted_capabilities(hc, in.host.bounding_caps);
  if (!granted) {
    return std::move(granted).error();
  }
  const std::vector<std::string>& caps = *granted;
  std::vector<std::string> argv = *args;
  const bool init = hc.init.value_or(false) && !in.init_path.empty();
  if (init) {
    argv.insert(argv.begin(), {"/sbin/docker-init", "--"});
  }

  json process;
  process["terminal"] = tty;
  if (tty) {
    const auto& size = hc.console_size;
    if (size.size() == 2 && size[0] > 0 && size[1] >= 0) {
      process["consoleSize"] = {{"height", size[0]}, {"width", size[1]}};
    }
  }
  process["user"] = {{"uid", in.user.uid}, {"gid", in.user.gid}};
  if (!in.user.additional_gids.empty()) {
    process["user"]["additionalGids"] = in.user.additional_gids;
  }
  process["args"] = argv;
  process["env"] = process_env(cfg);
  process["cwd"] = cfg.working_dir.empty() ? "/" : cfg.working_dir;
  process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  if (security->no_new_privileges) {
    process["noNewPrivileges"] = true;
  }
  auto rlimits = oci_rlimits(hc.resources, in.host);
  if (!rlimits) {
    return std::move(rlimits).error();
  }
  process["rlimits"] = *rlimits;
  if (hc.oom_score_adj != 0) {
    process["oomScoreAdj"] = hc.oom_score_adj;
  }

  json spec;
  spec["ociVersion"] = "1.0.2-dev";
  spec["process"] = process;
  spec["root"] = {{"path", in.rootfs}, {"readonly", hc.readonly_rootfs}};
  spec["hostname"] = cfg.hostname;
  if (!cfg.domainname.empty()) {
    spec["domainname"] = cfg.domainname;
  }

  // Mounts: the defaults, the container files, then the user's (which
  // replace a default at the same destination), parents before children.
  const int64_t shm = hc.shm_size > 0 ? hc.shm_size : 64 << 20;
  std::vector<json> mounts = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup",
            {"nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/dev/shm", "tmpfs", "shm",
            {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm / 1024) + "k"}),
  };
  const std::string rw = hc.readonly_rootfs ? "ro" : "rw";
  for (const char* f : {"resolv.conf", "hostname", "hosts"}) {
    mounts.push_back(mount(std::string("/etc/") + f, "bind", in.container_dir + "/" + f,
                           {"rbind", "rprivate", rw}));
  }
  std::vector<Mount> user_mounts = in.mounts;
  if (init) {
    user_mounts.push_back({"/sbin/docker-init", "bind", in.init_path, {"bind", "ro"}});
  }
  for (const auto& m : user_mounts) {
    mounts.erase(std::remove_if(mounts.begin(), mounts.end(),
                                [&](const json& d) { return d["destination"] == m.destination; }),
                 mounts.end());
    mounts.push_back(mount(m.destination, m.type, m.source, m.options));
  }
  std::stable_sort(mounts.begin(), mounts.end(), [](const json& a, const json& b) {
    return depth(a["destination"].get<std::string>()) < depth(b["destination"].get<std::string>());
  });
  spec["mounts"] = mounts;

  json linux;
  auto ns = [](const char* type, const std::string& join) {
    json n = {{"type", type}};
    if (!join.empty()) {
      n["path"] = join;
    }
    return n;
  };
  json namespaces = json::array({{{"type", "mount"}}});
  if (!in.host_pid) {
    namespaces.push_back(ns("pid", in.join_pid));
  }
  namespaces.push_back(ns("ipc", in.join_ipc));
  namespaces.push_back({{"type", "uts"}});
  if (!in.join_net.empty()) {
    namespaces.push_back(ns("network", in.join_net));  // its sysctls are the other container's
  } else if (!in.host_network) {
    namespaces.push_back({{"type", "network"}});
    json sysctl = json::object();
    if (in.host.has_unprivileged_port_sysctl) {
      sysctl["net.ipv4.ip_unprivileged_port_start"] = "0";
    }
    if (in.host.has_ping_group_range_sysctl) {
      sysctl["net.ipv4.ping_group_range"] = "0 2147483647";
    }
    for (const auto& [k, v] : hc.sysctls) {
      sysctl[k] = v;
    }
    linux["sysctl"] = sysctl;
  }
  linux["namespaces"] = namespaces;
  linux["cgroupsPath"] = in.cgroups_path;
  json resources = oci_resources(hc.resources, in.host);
  json device_rules = privileged ? json::array({{{"allow", true}, {"access", "rwm"}}})
                                 : default_device_rules();
  json devices = json::array();
  for (const auto& d : in.devices) {
    devices.push_back({{"path", d.path},
                       {"type", std::string(1, d.type)},
                       {"major", d.major},
                       {"minor", d.minor},
                       {"fileMode", d.file_mode},
                       {"uid", d.uid},
                       {"gid", d.gid}});
    if (!privileged) {
      device_rules.push_back({{"allow", true},
                              {"type", std::string(1, d.type)},
                              {"major", d.major},
                              {"minor", d.minor},
                              {"access", d.permissions}});
    }
  }
  if (!devices.empty()) {
    linux["devices"] = devices;
  }
  resources["devices"] = device_rules;
  linux["resources"] = resources;
  if (!privileged) {
    // The request's lists when it has them (systempaths=unconfined sends []).
    std::vector<std::string> masked = hc.masked_paths ? *hc.masked_paths : default_masked_paths();
    if (!hc.masked_paths) {
      for (const auto& p : in.host.thermal_throttle_paths) {
        masked.push_back(p);
      }
    }
    linux["maskedPaths"] = masked;
    linux["readonlyPaths"] = hc.readonly_paths ? *hc.readonly_paths : default_readonly_paths();
    if (security->seccomp_profile) {
      linux["seccomp"] = render_seccomp(*security->seccomp_profile, in.host.arch, caps);
    } else if (in.seccomp && !security->seccomp_unconfined) {
      linux["seccomp"] = render_seccomp(*in.seccomp, in.host.arch, caps);
    }
  }
  spec["linux"] = linux;
  return spec;
}

}  // namespace dind::runtime
