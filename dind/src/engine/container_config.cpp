#include "dind/engine/container_config.hpp"

#include <signal.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>
#include <type_traits>

namespace dind::engine {
using base::ErrorKind;
using base::make_error;

namespace {

std::string key_of(const std::string& kv) {
  return kv.substr(0, kv.find('='));
}

bool is_abs(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

std::string clean_path(const std::string& p) {
  std::string out = p;
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

}  // namespace

base::Status validate_container_name(const std::string& raw) {
  const std::string name = !raw.empty() && raw[0] == '/' ? raw.substr(1) : raw;
  auto ok_first = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto ok_rest = [&](char c) { return ok_first(c) || c == '_' || c == '.' || c == '-'; };
  if (name.size() < 2 || !ok_first(name[0]) ||
      !std::all_of(name.begin() + 1, name.end(), ok_rest)) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "Invalid container name (" + raw + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  return {};
}

model::Config merge_config(model::Config req, const model::Config& img, const std::string& id) {
  auto empty = [](const model::OptStrings& v) { return !v || v->empty(); };
  if (req.hostname.empty()) {
    req.hostname = id.substr(0, 12);
  }
  if (req.user.empty()) {
    req.user = img.user;
  }
  // Env: the request's entries win; the image's others are appended.
  if (img.env && !img.env->empty()) {
    std::set<std::string> keys;
    for (const auto& e : req.env.value_or(model::Strings{})) {
      keys.insert(key_of(e));
    }
    if (!req.env) {
      req.env.emplace();
    }
    for (const auto& e : *img.env) {
      if (keys.count(key_of(e)) == 0) {
        req.env->push_back(e);
      }
    }
  }
  if (empty(req.entrypoint)) {
    if (empty(req.cmd)) {
      req.cmd = img.cmd;
    }
    // dockerd: only a missing entrypoint takes the image's; an empty list
    // means none (the builder's RUN steps ask for that).
    if (!req.entrypoint) {
      req.entrypoint = img.entrypoint;
    }
  }
  if (req.working_dir.empty()) {
    req.working_dir = img.working_dir;
  }
  for (const auto& [k, v] : img.labels) {
    req.labels.emplace(k, v);  // the request's value wins
  }
  req.exposed_ports.insert(img.exposed_ports.begin(), img.exposed_ports.end());
  req.volumes.insert(img.volumes.begin(), img.volumes.end());
  if (req.stop_signal.empty()) {
    req.stop_signal = img.stop_signal;
  }
  // dockerd's merge: the image's healthcheck, or the request's with the
  // image's values where it leaves one unset.
  if (!req.healthcheck) {
    req.healthcheck = img.healthcheck;
  } else if (img.healthcheck) {
    model::HealthConfig& h = *req.healthcheck;
    const model::HealthConfig& i = *img.healthcheck;
    if (h.test.empty()) {
      h.test = i.test;
    }
    for (auto [mine, theirs] : {std::pair{&h.interval, &i.interval}, std::pair{&h.timeout, &i.timeout},
                                std::pair{&h.start_period, &i.start_period},
                                std::pair{&h.start_interval, &i.start_interval},
                                std::pair{&h.retries, &i.retries}}) {
      if (*mine == 0) {
        *mine = *theirs;
      }
    }
  }
  if (empty(req.on_build)) {
    req.on_build = img.on_build;
  }
  if (!req.shell) {
    req.shell = img.shell;
  }
  return req;
}

base::Result<std::pair<std::string, std::string>> parse_link(const std::string& text) {
  const std::string t = !text.empty() && text[0] == '/' ? text.substr(1) : text;
  const size_t colon = t.find(':');
  if (t.empty() || (colon != std::string::npos && t.find(':', colon + 1) != std::string::npos) ||
      colon == 0 || colon + 1 == t.size()) {
    return make_error(ErrorKind::kInvalidArgument, "bad format for links: " + text);
  }
  if (colon == std::string::npos) {
    return std::make_pair(t, t);
  }
  std::string alias = t.substr(colon + 1);
  if (!alias.empty() && alias[0] == '/') {
    alias = alias.substr(1);
  }
  return std::make_pair(t.substr(0, colon), alias);
}

std::vector<std::string> link_env(const std::string& alias, const std::string& self_name,
                                  const std::string& ip, const std::set<std::string>& exposed_ports,
                                  const model::Strings& target_env) {
  std::string prefix;
  for (char ch : alias) {
    prefix += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  // Ports sorted by number, then protocol (nat.Sort).
  std::vector<std::pair<int, std::string>> ports;
  for (const auto& p : exposed_ports) {
    const size_t slash = p.find('/');
    ports.emplace_back(std::atoi(p.substr(0, slash).c_str()), slash == std::string::npos ? "tcp" : p.substr(slash + 1));
  }
  std::sort(ports.begin(), ports.end());
  std::vector<std::string> env;
  if (!ports.empty()) {
    env.push_back(prefix + "_PORT=" + ports[0].second + "://" + ip + ":" + std::to_string(ports[0].first));
  }
  for (const auto& [port, proto] : ports) {
    std::string upper;
    for (char ch : proto) {
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    const std::string key = prefix + "_PORT_" + std::to_string(port) + "_" + upper;
    env.push_back(key + "=" + proto + "://" + ip + ":" + std::to_string(port));
    env.push_back(key + "_ADDR=" + ip);
    env.push_back(key + "_PORT=" + std::to_string(port));
    env.push_back(key + "_PROTO=" + proto);
  }
  env.push_back(prefix + "_NAME=" + self_name + "/" + alias);
  for (const auto& v : target_env) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    const std::string k = v.substr(0, eq);
    if (k != "HOME" && k != "PATH") {
      env.push_back(prefix + "_ENV_" + v);
    }
  }
  return env;
}

base::Status check_log_config(const model::LogConfig& lc) {
  static const std::map<std::string, std::set<std::string>> kDrivers = {
      {"json-file",
       {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}},
      {"local", {"max-size", "max-file", "compress"}},
      {"none", {}}};
  static const std::set<std::string> kElsewhere = {"syslog", "journald", "gelf", "fluentd",
                                                  "awslogs", "splunk", "etwlogs", "gcplogs",
                                                  "logentries"};
  const std::string type = lc.type.empty() ? "json-file" : lc.type;
  const auto d = kDrivers.find(type);
  if (d == kDrivers.end()) {
    if (kElsewhere.count(type) != 0) {
      return make_error(ErrorKind::kInvalidArgument,
                        "logging driver \"" + type +
                            "\" is not supported by this engine (json-file, local and none are)");
    }
    return make_error(ErrorKind::kInvalidArgument,
                      "error looking up logging plugin " + type + ": plugin \"" + type + "\" not found");
  }
  for (const auto& [key, value] : lc.config) {
    (void)value;
    if (d->second.count(key) == 0) {
      return make_error(ErrorKind::kInvalidArgument,
                        type == "json-file" ? "unknown log opt '" + key + "' for json-file log driver"
                                            : "unknown log opt '" + key + "' for log driver " + type);
    }
  }
  return {};
}

namespace {
bool is_propagation(const std::string& o) {
  return o == "private" || o == "rprivate" || o == "shared" || o == "rshared" || o == "slave" ||
         o == "rslave";
}
}  // namespace

base::Result<std::vector<MountSpec>> parse_mounts(const model::Config& config,
                                                  const model::HostConfig& hc) {
  std::vector<MountSpec> out;
  std::set<std::string> seen;
  auto add = [&](MountSpec m) -> base::Status {
    m.destination = clean_path(m.destination);
    if (!seen.insert(m.destination).second) {
      return make_error(ErrorKind::kInvalidArgument, "Duplicate mount point: " + m.destination);
    }
    out.push_back(std::move(m));
    return {};
  };
  for (const auto& spec : hc.binds.value_or(model::Strings{})) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
      const size_t c = spec.find(':', start);
      parts.push_back(spec.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) {
        break;
      }
      start = c + 1;
    }
    if (parts.size() < 2 || parts.size() > 3) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid volume specification: '" + spec + "'");
    }
    for (const auto& p : parts) {
      if (p.empty()) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid spec: " + spec + ": empty section between colons");
      }
    }
    MountSpec m;
    m.source = parts[0];
    m.destination = parts[1];
    if (!is_abs(m.destination)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid volume specification: '" + spec +
                            "': invalid mount config for type \"" +
                            (is_abs(m.source) ? "bind" : "volume") + "\": invalid mount path: '" +
                            m.destination + "' mount path must be absolute");
    }
    if (is_abs(m.source)) {
      m.type = MountSpec::Type::kBind;
      m.create_source = true;
    } else {
      m.type = MountSpec::Type::kVolume;
      if (auto st = validate_container_name(m.source); !st || m.source.size() < 2) {
        return make_error(
            ErrorKind::kInvalidArgument,
            "create " + m.source + ": \"" + m.source +
                "\" includes invalid characters for a local volume name, only "
                "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                "host directory, use absolute path");
      }
    }
    if (parts.size() == 3) {
      std::string opts = parts[2];
      m.mode = opts;
      size_t s = 0;
      for (;;) {
        const size_t c = opts.find(',', s);
        const std::string o = opts.substr(s, c == std::string::npos ? std::string::npos : c - s);
        if (o == "ro") {
          m.read_only = true;
        } else if (is_propagation(o)) {
          if (m.type != MountSpec::Type::kBind) {
            return make_error(ErrorKind::kInvalidArgument, "invalid mode: " + opts);
          }
          m.propagation = o;
        } else if (o != "rw" && o != "z" && o != "Z" && o != "nocopy" && o != "consistent" &&
                   o != "cached" && o != "delegated") {
          return make_error(ErrorKind::kInvalidArgument, "invalid mode: " + o);
        }
        if (c == std::string::npos) {
          break;
        }
        s = c + 1;
      }
    }
    DIND_TRY(add(std::move(m)));
  }
  for (const auto& mr : hc.mounts) {
    const std::string& type = mr.type;
    MountSpec m;
    m.source = mr.source;
    m.destination = mr.target;
    m.read_only = mr.read_only;
    const std::string prefix = "invalid mount config for type \"" + type + "\": ";
    if (m.destination.empty()) {
      return make_error(ErrorKind::kInvalidArgument, prefix + "field Target must not be empty");
    }
    if (!is_abs(m.destination)) {
      return make_error(
          ErrorKind::kInvalidArgument,
          prefix + "invalid mount path: '" + m.destination + "' mount path must be absolute");
    }
    if (type == "bind") {
      if (m.source.empty()) {
        return make_error(ErrorKind::kInvalidArgument, prefix + "field Source must not be empty");
      }
      if (!is_abs(m.source)) {
        return make_error(ErrorKind::kInvalidArgument, prefix + "invalid mount path: '" + m.source +
                                                           "' mount path must be absolute");
      }
      m.type = MountSpec::Type::kBind;
      if (!mr.bind_propagation.empty()) {
        if (!is_propagation(mr.bind_propagation)) {
          return make_error(ErrorKind::kInvalidArgument,
                            prefix + "invalid propagation mode: " + mr.bind_propagation);
        }
        m.propagation = mr.bind_propagation;
      }
    } else if (type == "volume") {
      m.type = MountSpec::Type::kVolume;
    } else if (type == "tmpfs") {
      if (!m.source.empty()) {
        return make_error(ErrorKind::kInvalidArgument,
                          prefix + "field Source must not be specified");
      }
      m.type = MountSpec::Type::kTmpfs;
      if (mr.tmpfs_size_bytes) {
        m.tmpfs_options = "size=" + std::to_string(*mr.tmpfs_size_bytes);
      }
      if (mr.tmpfs_mode) {
        std::array<char, 16> buf{};
        std::snprintf(buf.data(), buf.size(), "%o", static_cast<unsigned>(*mr.tmpfs_mode));
        m.tmpfs_options += std::string(m.tmpfs_options.empty() ? "" : ",") + "mode=" + buf.data();
      }
    } else {
      return make_error(ErrorKind::kInvalidArgument, "mount type unknown: \"" + type + "\"");
    }
    DIND_TRY(add(std::move(m)));
  }
  for (const auto& [dest, opts] : hc.tmpfs) {
    if (!is_abs(dest)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid mount config for type \"tmpfs\": invalid mount path: '" + dest +
                            "' mount path must be absolute");
    }
    MountSpec m;
    m.type = MountSpec::Type::kTmpfs;
    m.destination = dest;
    m.tmpfs_options = opts;
    DIND_TRY(add(std::move(m)));
  }
  // The image's VOLUMEs not covered by a mount become anonymous volumes.
  for (const auto& dest : config.volumes) {
    if (seen.count(clean_path(dest)) == 0 && is_abs(dest)) {
      MountSpec m;
      m.type = MountSpec::Type::kVolume;
      m.destination = dest;
      DIND_TRY(add(std::move(m)));
    }
  }
  return out;
}

std::vector<runtime::Mount> oci_mounts(
    const std::vector<MountSpec>& specs,
    const std::function<std::string(const std::string&)>& volume_dir) {
  std::vector<runtime::Mount> out;
  for (const auto& m : specs) {
    runtime::Mount om;
    om.destination = m.destination;
    if (m.type == MountSpec::Type::kTmpfs) {
      om.type = "tmpfs";
      om.source = "tmpfs";
      om.options = {"nosuid", "nodev", "noexec"};
      size_t start = 0;
      while (start <= m.tmpfs_options.size()) {
        const size_t comma = m.tmpfs_options.find(',', start);
        const std::string o = m.tmpfs_options.substr(
            start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!o.empty()) {
          om.options.push_back(o);
        }
        if (comma == std::string::npos) {
          break;
        }
        start = comma + 1;
      }
    } else {
      om.type = "bind";
      om.source = m.type == MountSpec::Type::kVolume ? volume_dir(m.source) : m.source;
      om.options = {"rbind", m.read_only ? "ro" : "rw",
                    m.propagation.empty() ? "rprivate" : m.propagation};
    }
    out.push_back(std::move(om));
  }
  return out;
}

namespace {

base::Result<uint16_t> port_number(const std::string& text, const std::string& context) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 65535) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid port specification: \"" + context + "\"");
  }
  return static_cast<uint16_t>(v);
}

}  // namespace

base::Result<std::vector<netsetup::PortRequest>> parse_port_bindings(
    const model::Config& config, const model::HostConfig& hc) {
  std::vector<netsetup::PortRequest> out;
  auto parse_key = [](const std::string& key, netsetup::PortRequest& r) -> base::Status {
    const size_t slash = key.find('/');
    const std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    if (proto == "tcp") {
      r.proto = netsetup::Proto::kTcp;
    } else if (proto == "udp") {
      r.proto = netsetup::Proto::kUdp;
    } else {
      return make_error(ErrorKind::kInvalidArgument, "invalid proto: " + proto);
    }
    auto port = port_number(key.substr(0, slash), key);
    if (!port) {
      return std::move(port).error();
    }
    if (*port == 0) {
      return make_error(ErrorKind::kInvalidArgument, "invalid port specification: \"" + key + "\"");
    }
    r.container_port = *port;
    return {};
  };
  std::set<std::string> bound;
  {
    for (const auto& [key, list] : hc.port_bindings) {
      bound.insert(key);
      const std::vector<model::PortBinding> entries =
          list.empty() ? std::vector<model::PortBinding>{model::PortBinding{}} : list;
      for (const auto& b : entries) {
        netsetup::PortRequest r;
        DIND_TRY(parse_key(key, r));
        const std::string& ip = b.host_ip;
        if (!ip.empty() && ip != "0.0.0.0") {
          auto addr = netsetup::Ipv4::parse(ip);
          if (!addr) {
            return make_error(ErrorKind::kInvalidArgument, "invalid IP address: " + ip);
          }
          r.host_ip = *addr;
        }
        const std::string& hp = b.host_port;
        if (!hp.empty()) {
          auto port = port_number(hp, hp);
          if (!port) {
            return std::move(port).error();
          }
          r.host_port = *port;
        }
        out.push_back(r);
      }
    }
  }
  if (hc.publish_all_ports) {
    for (const auto& key : config.exposed_ports) {
      if (bound.count(key) == 0) {
        netsetup::PortRequest r;
        DIND_TRY(parse_key(key, r));
        out.push_back(r);
      }
    }
  }
  return out;
}

model::Resources merge_update(model::Resources r, const model::Resources& u, bool swap_limit) {
  auto take = [](auto& to, const auto& from) {
    if (from != std::decay_t<decltype(from)>{}) {
      to = from;
    }
  };
  take(r.memory, u.memory);
  take(r.memory_swap, u.memory_swap);
  take(r.memory_reservation, u.memory_reservation);
  take(r.nano_cpus, u.nano_cpus);
  take(r.cpu_shares, u.cpu_shares);
  take(r.cpu_period, u.cpu_period);
  take(r.cpu_quota, u.cpu_quota);
  take(r.cpuset_cpus, u.cpuset_cpus);
  take(r.cpuset_mems, u.cpuset_mems);
  take(r.blkio_weight, u.blkio_weight);
  if (u.memory_swappiness.value_or(0) != 0) {
    r.memory_swappiness = u.memory_swappiness;
  }
  if (u.pids_limit.value_or(0) != 0) {
    r.pids_limit = u.pids_limit;
  }
  if (u.oom_kill_disable) {
    r.oom_kill_disable = true;
  }
  if (u.memory != 0 && u.memory_swap == 0 && r.memory_swap > 0 && swap_limit) {
    r.memory_swap = r.memory * 2;
  }
  return r;
}

base::Result<int> parse_signal(const std::string& text) {
  static const std::array<std::pair<const char*, int>, 31> kSignals = {{
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"SYS", SIGSYS},
  }};
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && p == text.data() + text.size() && v >= 1 && v <= 64) {
      return v;
    }
    return make_error(ErrorKind::kInvalidArgument, "Invalid signal: " + text);
  }
  std::string name = text;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (name.rfind("SIG", 0) == 0) {
    name = name.substr(3);
  }
  for (const auto& [n, v] : kSignals) {
    if (name == n) {
      return v;
    }
  }
  return make_error(ErrorKind::kInvalidArgument, "Invalid signal: " + text);
}

base::Result<RestartPolicy> parse_restart_policy(const model::HostConfig& host_config) {
  RestartPolicy p;
  const std::string& n = host_config.restart_policy.name;
  const int64_t max = host_config.restart_policy.maximum_retry_count;
  if (n == "always" || n == "unless-stopped" || n == "no") {
    if (max != 0) {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string("invalid restart policy: maximum retry count can only be "
                                    "used with 'on-failure'") +
                            (max < 0 ? " and cannot be negative" : ""));
    }
    p.kind = n == "always"           ? RestartPolicy::Kind::kAlways
             : n == "unless-stopped" ? RestartPolicy::Kind::kUnlessStopped
                                     : RestartPolicy::Kind::kNo;
  } else if (n == "on-failure") {
    if (max < 0) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid restart policy: maximum retry count cannot be negative");
    }
    p.kind = RestartPolicy::Kind::kOnFailure;
    p.max_retries = static_cast<int>(std::min<int64_t>(max, 1 << 30));
  } else if (!n.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid restart policy: unknown policy '" + n +
                          "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
  }
  if (p.kind != RestartPolicy::Kind::kNo && host_config.auto_remove) {
    return make_error(ErrorKind::kInvalidArgument,
                      "can't create 'AutoRemove' container with restart policy");
  }
  return p;
}

RestartStep next_restart(const RestartPolicy& policy, int exit_code, bool manually_stopped,
                         int restart_count, std::chrono::milliseconds ran_for,
                         std::chrono::milliseconds previous_delay) {
  using std::chrono::milliseconds;
  constexpr milliseconds kFirst{100};
  constexpr milliseconds kMax{60000};
  RestartStep step;
  if (policy.kind == RestartPolicy::Kind::kNo) {
    return step;
  }
  milliseconds delay = ran_for >= std::chrono::seconds(10) ? milliseconds(0) : previous_delay;
  delay = delay <= milliseconds(0) ? kFirst : std::min(delay * 2, kMax);
  switch (policy.kind) {
    case RestartPolicy::Kind::kAlways:
      step.restart = true;
      break;
    case RestartPolicy::Kind::kUnlessStopped:
      step.restart = !manually_stopped;
      break;
    case RestartPolicy::Kind::kOnFailure:
      step.restart = exit_code != 0 && (policy.max_retries == 0 || restart_count < policy.max_retries);
      break;
    case RestartPolicy::Kind::kNo:
      break;
  }
  step.delay = delay;
  return step;
}

bool restart_on_daemon_start(const RestartPolicy& policy, bool manually_stopped) {
  return policy.kind == RestartPolicy::Kind::kAlways ||
         (policy.kind == RestartPolicy::Kind::kUnlessStopped && !manually_stopped);
}

}  // namespace dind::engine
