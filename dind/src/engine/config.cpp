#include "dind/engine/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "netsetup/pools.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

std::string HostSpec::to_string() const {
  if (kind == Kind::kUnix) {
    return "unix://" + path;
  }
  const bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostSpec> parse_host(std::string_view text, bool tls) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid host \"" + std::string(text) + "\": " + why);
  };
  HostSpec h;
  if (text.empty()) {
    return bad("empty");
  }
  if (text.starts_with("/")) {
    h.path = std::string(text);
    return h;
  }
  if (text.starts_with("unix://")) {
    h.path = std::string(text.substr(7));
    if (h.path.empty()) {
      h.path = kDefaultSocket;
    }
    if (h.path[0] != '/') {
      return bad("the socket path must be absolute");
    }
    if (h.path.size() >= 108) {
      return bad("the socket path is longer than 107 bytes");
    }
    return h;
  }
  if (text.starts_with("fd://")) {
    return make_error(ErrorKind::kUnimplemented,
                      "fd:// (systemd socket activation) is not supported; use unix:// or tcp://");
  }
  if (!text.starts_with("tcp://")) {
    return bad("expected unix://, tcp:// or an absolute socket path");
  }
  std::string_view rest = text.substr(6);
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return bad("a path is not allowed");
    }
    rest = rest.substr(0, slash);
  }
  h.kind = HostSpec::Kind::kTcp;
  std::string_view port_text;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated [");
    }
    h.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("expected :port");
      }
      port_text = after.substr(1);
    }
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find(':') != colon) {
      return bad("IPv6 addresses must be in brackets");
    }
    h.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
    }
  }
  if (h.host.empty()) {
    h.host = "0.0.0.0";
  }
  if (h.host == "localhost") {
    h.host = "127.0.0.1";
  }
  if (port_text.empty()) {
    h.port = tls ? 2376 : 2375;
  } else {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p > 65535) {
      return bad("invalid port");
    }
    h.port = static_cast<uint16_t>(p);
  }
  return h;
}

namespace {

enum class FlagType { kString, kBool, kStringList, kInt };

struct FlagDef {
  const char* long_name;
  const char* short_name;  // may be null
  const char* json_key;
  FlagType type;
};

// dockerd's spellings. json_key null: flag only.
const FlagDef kFlags[] = {
    {"host", "H", "hosts", FlagType::kStringList},
    {"tls", nullptr, "tls", FlagType::kBool},
    {"tlsverify", nullptr, "tlsverify", FlagType::kBool},
    {"tlscacert", nullptr, "tlscacert", FlagType::kString},
    {"tlscert", nullptr, "tlscert", FlagType::kString},
    {"tlskey", nullptr, "tlskey", FlagType::kString},
    {"data-root", nullptr, "data-root", FlagType::kString},
    {"exec-root", nullptr, "exec-root", FlagType::kString},
    {"pidfile", "p", "pidfile", FlagType::kString},
    {"config-file", nullptr, nullptr, FlagType::kString},
    {"log-level", "l", "log-level", FlagType::kString},
    {"debug", "D", "debug", FlagType::kBool},
    {"mtu", nullptr, "mtu", FlagType::kInt},
    {"bip", nullptr, "bip", FlagType::kString},
    {"bridge", "b", "bridge", FlagType::kString},
    {"cgroup-parent", nullptr, "cgroup-parent", FlagType::kString},
    {"registry-mirror", nullptr, "registry-mirrors", FlagType::kStringList},
    {"insecure-registry", nullptr, "insecure-registries", FlagType::kStringList},
    {"live-restore", nullptr, "live-restore", FlagType::kBool},
    {"default-address-pool", nullptr, "default-address-pools", FlagType::kStringList},
    {"shutdown-timeout", nullptr, "shutdown-timeout", FlagType::kInt},
    {"max-concurrent-downloads", nullptr, "max-concurrent-downloads", FlagType::kInt},
    {"max-concurrent-uploads", nullptr, "max-concurrent-uploads", FlagType::kInt},
    {"registry-certs-dir", nullptr, "registry-certs-dir", FlagType::kString},
    {"push-gzip-level", nullptr, "push-gzip-level", FlagType::kInt},
};

const FlagDef* find_flag(std::string_view name, bool is_short) {
  for (const auto& f : kFlags) {
    if (is_short ? (f.short_name && name == f.short_name) : name == f.long_name) {
      return &f;
    }
  }
  return nullptr;
}

Result<bool> parse_bool(std::string_view flag, std::string_view v) {
  if (v == "true" || v == "1" || v == "TRUE" || v == "True" || v == "t") {
    return true;
  }
  if (v == "false" || v == "0" || v == "FALSE" || v == "False" || v == "f") {
    return false;
  }
  return make_error(ErrorKind::kInvalidArgument,
                    "invalid boolean value \"" + std::string(v) + "\" for --" + std::string(flag));
}

Status apply(const FlagDef& f, const std::string& value, DaemonConfig& c) {
  const std::string name = f.long_name;
  if (f.type == FlagType::kBool) {
    auto b = parse_bool(name, value);
    if (!b) {
      return std::move(b).error();
    }
    if (name == "tls")
      c.tls = *b;
    else if (name == "tlsverify")
      c.tlsverify = *b;
    else if (name == "debug")
      c.debug = *b;
    else if (name == "live-restore")
      c.live_restore = *b;
    return {};
  }
  if (f.type == FlagType::kInt) {
    int v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || v < 0 || v > 65535) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid value \"" + value + "\" for --" + name);
    }
    if (name == "shutdown-timeout") {
      c.shutdown_timeout = v;
    } else if (name == "push-gzip-level") {
      if (v < 1 || v > 9) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid value \"" + value + "\" for --push-gzip-level (1 to 9)");
      }
      c.push_gzip_level = v;
    } else if (name == "max-concurrent-downloads" || name == "max-concurrent-uploads") {
      if (v < 1 || v > 64) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid value \"" + value + "\" for --" + name + " (1 to 64)");
      }
      (name == "max-concurrent-downloads" ? c.max_concurrent_downloads
                                          : c.max_concurrent_uploads) = v;
    } else {
      c.mtu = v;
    }
    return {};
  }
  if (name == "host")
    c.hosts.push_back(value);
  else if (name == "registry-mirror")
    c.registry_mirrors.push_back(value);
  else if (name == "insecure-registry")
    c.insecure_registries.push_back(value);
  else if (name == "default-address-pool") {
    DIND_TRY(netsetup::parse_pool(value));
    c.address_pools.push_back(value);
  }
  else if (name == "tlscacert")
    c.tlscacert = value;
  else if (name == "tlscert")
    c.tlscert = value;
  else if (name == "tlskey")
    c.tlskey = value;
  else if (name == "data-root")
    c.data_root = value;
  else if (name == "exec-root")
    c.exec_root = value;
  else if (name == "pidfile")
    c.pidfile = value;
  else if (name == "config-file")
    c.config_file = value;
  else if (name == "log-level")
    c.log_level = value;
  else if (name == "bip")
    c.bip = value;
  else if (name == "bridge")
    c.bridge = value;
  else if (name == "cgroup-parent")
    c.cgroup_parent = value;
  else if (name == "registry-certs-dir")
    c.registry_certs_dir = value;
  return {};
}

}  // namespace

Status merge_config_json(std::string_view text, const std::vector<std::string>& flags_seen,
                         DaemonConfig& config) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the configuration file is not a JSON object");
  }
  std::vector<std::string> unknown;
  std::vector<std::string> conflicts;
  for (auto& [key, value] : doc.items()) {
    const FlagDef* def = nullptr;
    for (const auto& f : kFlags) {
      if (f.json_key && key == f.json_key) {
        def = &f;
      }
    }
    if (def == nullptr) {
      unknown.push_back(key);
      continue;
    }
    if (std::find(flags_seen.begin(), flags_seen.end(), def->long_name) != flags_seen.end()) {
      conflicts.push_back(key);
      continue;
    }
    // (a copy: clang 14 cannot capture a structured binding)
    auto type_error = [name = std::string(key)] {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid value for \"" + name + "\" in the configuration file");
    };
    switch (def->type) {
      case FlagType::kBool:
        if (!value.is_boolean())
          return type_error();
        DIND_TRY(apply(*def, value.get<bool>() ? "true" : "false", config));
        break;
      case FlagType::kInt:
        if (!value.is_number_integer())
          return type_error();
        DIND_TRY(apply(*def, std::to_string(value.get<long long>()), config));
        break;
      case FlagType::kString:
        if (!value.is_string())
          return type_error();
        DIND_TRY(apply(*def, value.get<std::string>(), config));
        break;
      case FlagType::kStringList:
        if (!value.is_array())
          return type_error();
        for (auto& item : value) {
          // dockerd's default-address-pools are {"base": CIDR, "size": N}.
          if (item.is_object() && item.contains("base") && item["base"].is_string() &&
              item.contains("size") && item["size"].is_number_integer()) {
            DIND_TRY(apply(*def,
                           "base=" + item["base"].get<std::string>() +
                               ",size=" + std::to_string(item["size"].get<int>()),
                           config));
            continue;
          }
          if (!item.is_string())
            return type_error();
          DIND_TRY(apply(*def, item.get<std::string>(), config));
        }
        break;
    }
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
      out += (out.empty() ? "" : ", ") + s;
    }
    return out;
  };
  if (!unknown.empty()) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "the following directives don't match any configuration option: " + join(unknown));
  }
  if (!conflicts.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the following directives are specified both as a flag and in the "
                      "configuration file: " +
                          join(conflicts));
  }
  return {};
}

Result<DaemonConfig> parse_daemon_args(const std::vector<std::string>& args,
                                       DaemonConfig defaults) {
  DaemonConfig c = std::move(defaults);
  std::vector<std::string> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      return make_error(ErrorKind::kInvalidArgument, "unexpected argument \"--\"");
    }
    const bool is_long = a.starts_with("--");
    if (!is_long && !(a.starts_with("-") && a.size() >= 2)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "unexpected argument \"" + std::string(a) + "\" (flags only; see --help)");
    }
    std::string_view body = a.substr(is_long ? 2 : 1);
    std::optional<std::string> value;
    std::string_view name = body;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
    } else if (!is_long && body.size() > 1) {  // "-Hunix:///x"
      name = body.substr(0, 1);
      value = std::string(body.substr(1));
    }
    const FlagDef* f = find_flag(name, !is_long);
    if (f == nullptr) {
      return make_error(ErrorKind::kInvalidArgument, "unknown flag: " + std::string(a));
    }
    if (!value) {
      if (f->type == FlagType::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return make_error(ErrorKind::kInvalidArgument,
                          "flag needs an argument: --" + std::string(f->long_name));
      }
    }
    DIND_TRY(apply(*f, *value, c));
    seen.emplace_back(f->long_name);
  }
  // The config file: an explicit one must exist; the default is optional.
  std::string path = c.config_file.empty() ? kDefaultConfigFile : c.config_file;
  struct stat st {};
  if (!c.config_file.empty() || ::stat(path.c_str(), &st) == 0) {
    auto text = base::read_file(path, 1u << 20);
    if (!text) {
      return std::move(text).error().with_context("unable to read the configuration file");
    }
    auto merged = merge_config_json(*text, seen, c);
    if (!merged) {
      return std::move(merged).error().with_context(path);
    }
  }
  if (c.debug) {
    c.log_level = "debug";
  }
  if (c.hosts.empty()) {
    c.hosts.push_back(std::string("unix://") + kDefaultSocket);
  }
  return c;
}

std::string daemon_usage() {
  return R"(Usage: dind daemon [OPTIONS]      a dockerd-compatible daemon
       dind [OPTIONS]             the appliance: TLS certificates from $DOCKER_TLS_CERTDIR,
                                  unix:///var/run/docker.sock and tcp://0.0.0.0:2376, plus OPTIONS
       dind health [-H unix:///path]  exit 0 when the daemon answers /_ping (HEALTHCHECK, probes)
       dind version

Options (dockerd's spellings; also accepted as daemon.json keys):
  -H, --host list            unix:///path or tcp://addr:port (repeatable)
      --tlsverify            require client certificates signed by --tlscacert
      --tlscacert, --tlscert, --tlskey PATH
      --tls=false            explicitly allow plain, unauthenticated TCP (a warning is printed)
      --data-root PATH       default /var/lib/dind
      --exec-root PATH       default /run/dind
  -p, --pidfile PATH         default /run/dind.pid
      --config-file PATH     default /etc/docker/daemon.json (if present)
  -l, --log-level LEVEL      debug, info, warn, error
  -D, --debug
      --mtu N, --bip CIDR, -b/--bridge NAME (default bridge interface, dind0),
      --cgroup-parent NAME (default dind), --registry-mirror URL (repeatable; Docker Hub pulls try it first),
      --insecure-registry HOST|CIDR (HTTPS without verification, then plain HTTP)
      --registry-certs-dir PATH  per-registry trust, <PATH>/<host:port>/{ca.crt,*.cert,*.key}
                             (default /etc/docker/certs.d)
      --max-concurrent-downloads N (default 3), --max-concurrent-uploads N (default 5)
      --push-gzip-level N    zlib level of layers compressed for a push (1-9, default 1:
                             fastest; 6 gives blobs about 10% smaller at a third of the speed)
      --live-restore=false   SIGTERM stops the containers first (default: they keep running)
      --default-address-pool base=CIDR,size=N   pools for new networks (repeatable)
      --shutdown-timeout N   seconds each container gets to stop then (default 15)
)";
}

}  // namespace dind::engine
