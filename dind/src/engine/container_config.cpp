#include "dind/engine/container_config.hpp"

#include <signal.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

bool empty_value(const json& v) {
  return v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
         ((v.is_array() || v.is_object()) && v.empty());
}

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

json merge_config(json req, const json& image, const std::string& id) {
  if (!req.is_object()) {
    req = json::object();
  }
  const json img = image.is_object() ? image : json::object();
  if (empty_value(req.value("Hostname", json()))) {
    req["Hostname"] = id.substr(0, 12);
  }
  if (empty_value(req.value("User", json()))) {
    req["User"] = img.value("User", "");
  }
  // Env: the request's entries win; the image's others are appended.
  json env = req.value("Env", json());
  if (!env.is_array()) {
    env = json::array();
  }
  std::set<std::string> keys;
  for (const auto& e : env) {
    if (e.is_string()) {
      keys.insert(key_of(e.get<std::string>()));
    }
  }
  for (const auto& e : img.value("Env", json::array())) {
    if (e.is_string() && keys.count(key_of(e.get<std::string>())) == 0) {
      env.push_back(e);
    }
  }
  req["Env"] = env;
  if (empty_value(req.value("Entrypoint", json()))) {
    if (empty_value(req.value("Cmd", json()))) {
      req["Cmd"] = img.value("Cmd", json());
    }
    req["Entrypoint"] = img.value("Entrypoint", json());
  }
  if (empty_value(req.value("WorkingDir", json()))) {
    req["WorkingDir"] = img.value("WorkingDir", "");
  }
  for (const char* key : {"Labels", "ExposedPorts", "Volumes"}) {
    json merged = img.value(key, json::object());
    if (!merged.is_object()) {
      merged = json::object();
    }
    const json mine = req.value(key, json::object());
    if (mine.is_object()) {
      for (const auto& [k, v] : mine.items()) {
        merged[k] = v;
      }
    }
    req[key] = merged.empty() && key != std::string("Labels") ? json() : merged;
  }
  if (empty_value(req.value("StopSignal", json())) && img.contains("StopSignal")) {
    req["StopSignal"] = img["StopSignal"];
  }
  if (!req.contains("Healthcheck") && img.contains("Healthcheck")) {
    req["Healthcheck"] = img["Healthcheck"];
  }
  if (empty_value(req.value("OnBuild", json()))) {
    req["OnBuild"] = img.value("OnBuild", json());
  }
  for (const char* key : {"Domainname", "WorkingDir", "User"}) {
    if (!req[key].is_string()) {
      req[key] = "";
    }
  }
  for (const char* key :
       {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"}) {
    if (!req.contains(key) || !req[key].is_boolean()) {
      req[key] = false;
    }
  }
  return req;
}

base::Result<std::vector<MountSpec>> parse_mounts(const json& config, const json& hc) {
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
  for (const auto& b : hc.value("Binds", json::array())) {
    if (!b.is_string()) {
      return make_error(ErrorKind::kInvalidArgument, "invalid volume specification: not a string");
    }
    const std::string spec = b.get<std::string>();
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
      size_t s = 0;
      for (;;) {
        const size_t c = opts.find(',', s);
        const std::string o = opts.substr(s, c == std::string::npos ? std::string::npos : c - s);
        if (o == "ro") {
          m.read_only = true;
        } else if (o != "rw" && o != "z" && o != "Z" && o != "nocopy" && o != "rprivate" &&
                   o != "private" && o != "rshared" && o != "shared" && o != "rslave" &&
                   o != "slave" && o != "consistent" && o != "cached" && o != "delegated") {
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
  for (const auto& mj : hc.value("Mounts", json::array())) {
    const std::string type = mj.value("Type", "");
    MountSpec m;
    m.source = mj.value("Source", "");
    m.destination = mj.value("Target", "");
    m.read_only = mj.value("ReadOnly", false);
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
    } else if (type == "volume") {
      m.type = MountSpec::Type::kVolume;
    } else if (type == "tmpfs") {
      if (!m.source.empty()) {
        return make_error(ErrorKind::kInvalidArgument,
                          prefix + "field Source must not be specified");
      }
      m.type = MountSpec::Type::kTmpfs;
      const json t = mj.value("TmpfsOptions", json::object());
      if (t.is_object() && t.contains("SizeBytes") && t["SizeBytes"].is_number_integer()) {
        m.tmpfs_options = "size=" + std::to_string(t["SizeBytes"].get<int64_t>());
      }
      if (t.is_object() && t.contains("Mode") && t["Mode"].is_number_integer()) {
        std::array<char, 16> buf{};
        std::snprintf(buf.data(), buf.size(), "%o", t["Mode"].get<unsigned>());
        m.tmpfs_options += std::string(m.tmpfs_options.empty() ? "" : ",") + "mode=" + buf.data();
      }
    } else {
      return make_error(ErrorKind::kInvalidArgument, "mount type unknown: \"" + type + "\"");
    }
    DIND_TRY(add(std::move(m)));
  }
  const json tmpfs = hc.value("Tmpfs", json::object());
  for (const auto& [dest, opts] : tmpfs.items()) {
    if (!is_abs(dest)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid mount config for type \"tmpfs\": invalid mount path: '" + dest +
                            "' mount path must be absolute");
    }
    MountSpec m;
    m.type = MountSpec::Type::kTmpfs;
    m.destination = dest;
    m.tmpfs_options = opts.is_string() ? opts.get<std::string>() : "";
    DIND_TRY(add(std::move(m)));
  }
  // The image's VOLUMEs not covered by a mount become anonymous volumes.
  const json vols = config.value("Volumes", json::object());
  if (vols.is_object()) {
    for (const auto& [dest, unused] : vols.items()) {
      (void)unused;
      if (seen.count(clean_path(dest)) == 0 && is_abs(dest)) {
        MountSpec m;
        m.type = MountSpec::Type::kVolume;
        m.destination = dest;
        DIND_TRY(add(std::move(m)));
      }
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
      om.options = {"rbind", m.read_only ? "ro" : "rw", "rprivate"};
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

base::Result<std::vector<netsetup::PortRequest>> parse_port_bindings(const json& config,
                                                                     const json& hc) {
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
  const json pb = hc.value("PortBindings", json::object());
  if (pb.is_object()) {
    for (const auto& [key, list] : pb.items()) {
      bound.insert(key);
      const json entries = list.is_array() && !list.empty() ? list : json::array({json::object()});
      for (const auto& b : entries) {
        netsetup::PortRequest r;
        DIND_TRY(parse_key(key, r));
        const std::string ip = b.is_object() ? b.value("HostIp", "") : "";
        if (!ip.empty() && ip != "0.0.0.0") {
          auto addr = netsetup::Ipv4::parse(ip);
          if (!addr) {
            return make_error(ErrorKind::kInvalidArgument, "invalid IP address: " + ip);
          }
          r.host_ip = *addr;
        }
        const std::string hp = b.is_object() ? b.value("HostPort", "") : "";
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
  if (hc.value("PublishAllPorts", false)) {
    const json exposed = config.value("ExposedPorts", json::object());
    if (exposed.is_object()) {
      for (const auto& [key, unused] : exposed.items()) {
        (void)unused;
        if (bound.count(key) == 0) {
          netsetup::PortRequest r;
          DIND_TRY(parse_key(key, r));
          out.push_back(r);
        }
      }
    }
  }
  return out;
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

base::Result<RestartPolicy> parse_restart_policy(const json& host_config) {
  RestartPolicy p;
  const json rp = host_config.is_object() ? host_config.value("RestartPolicy", json()) : json();
  if (rp.is_null()) {
    return p;
  }
  if (!rp.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid restart policy: not an object");
  }
  const json name = rp.value("Name", json(""));
  const json count = rp.value("MaximumRetryCount", json(0));
  if (!name.is_string() || !count.is_number_integer()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid restart policy: Name must be a string and MaximumRetryCount a "
                      "number");
  }
  const std::string n = name.get<std::string>();
  const int64_t max = count.get<int64_t>();
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
  if (p.kind != RestartPolicy::Kind::kNo && host_config.value("AutoRemove", false)) {
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
