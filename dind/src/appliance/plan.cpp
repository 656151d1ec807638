#include "dind/appliance/plan.hpp"

#include <charconv>

#include "netsetup/pools.hpp"

namespace dind::appliance {
using base::ErrorKind;
using base::make_error;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text + ",") {
    if (ch == ',' || ch == ' ' || ch == '\t' || ch == '\n') {
      if (!cur.empty()) {
        out.push_back(cur);
      }
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

base::Result<int> number(const std::string& name, const std::string& text, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
    return make_error(ErrorKind::kInvalidArgument,
                      name + "=\"" + text + "\" is not a number from " + std::to_string(lo) +
                          " to " + std::to_string(hi));
  }
  return v;
}

bool truthy(const std::optional<std::string>& v) {
  return v && (*v == "1" || *v == "true" || *v == "yes" || *v == "TRUE" || *v == "True");
}

}  // namespace

base::Result<AppliancePlan> plan_appliance(const certgen::EnvLookup& env,
                                           const std::optional<TlsFiles>& tls,
                                           const std::vector<std::string>& user_args) {
  AppliancePlan plan;
  auto& d = plan.defaults;
  // The paths docker:dind users already mount and expect.
  d.data_root = "/var/lib/docker";
  d.exec_root = "/var/run/dind";
  d.pidfile = kAppliancePidfile;
  // PID 1 of a container: SIGTERM (docker stop) stops the containers within
  // the grace period docker stop gives (10 s) rather than orphaning them.
  d.live_restore = false;
  d.shutdown_timeout = 8;
  if (auto v = env("DIND_SHUTDOWN_TIMEOUT"); v && !v->empty()) {
    DIND_ASSIGN_OR_RETURN(d.shutdown_timeout, number("DIND_SHUTDOWN_TIMEOUT", *v, 0, 3600));
  }
  if (auto v = env("DIND_MTU"); v && !v->empty()) {
    DIND_ASSIGN_OR_RETURN(d.mtu, number("DIND_MTU", *v, 576, 65535));
  }
  if (auto v = env("DIND_BIP"); v && !v->empty()) {
    d.bip = *v;
  }
  if (auto v = env("DIND_REGISTRY_MIRRORS")) {
    d.registry_mirrors = split_list(*v);
  }
  if (auto v = env("DIND_ADDRESS_POOLS")) {
    // "base=10.10.0.0/16,size=24 base=10.20.0.0/16,size=24": pools separated by spaces or ";".
    std::string cur;
    for (char ch : *v + ";") {
      if (ch == ';' || ch == ' ' || ch == '\n') {
        if (!cur.empty()) {
          if (auto pool = netsetup::parse_pool(cur); !pool) {
            return make_error(ErrorKind::kInvalidArgument,
                              "DIND_ADDRESS_POOLS: " + pool.error().message);
          }
          d.address_pools.push_back(cur);
        }
        cur.clear();
      } else {
        cur += ch;
      }
    }
  }
  if (auto v = env("DIND_INSECURE_REGISTRIES")) {
    d.insecure_registries = split_list(*v);
  }
  if (auto v = env("DIND_LOG_LEVEL"); v && !v->empty()) {
    if (*v != "debug" && *v != "info" && *v != "warn" && *v != "error") {
      return make_error(ErrorKind::kInvalidArgument,
                        "DIND_LOG_LEVEL=\"" + *v + "\": use debug, info, warn or error");
    }
    d.log_level = *v;
  }

  // docker:dind honours a unix:// DOCKER_HOST for the socket and ignores
  // tcp:// ones (CI systems set those for the client side).
  const auto docker_host = env("DOCKER_HOST");
  const std::string socket = docker_host && docker_host->rfind("unix://", 0) == 0
                                 ? *docker_host
                                 : std::string("unix://") + engine::kDefaultSocket;
  plan.flags = {"--host", socket};
  const auto tcp_address = env("DIND_TCP_ADDRESS");
  if (tls) {
    const std::string tcp =
        "tcp://" + (tcp_address && !tcp_address->empty() ? *tcp_address : "0.0.0.0:2376");
    plan.flags.insert(plan.flags.end(),
                      {"--host", tcp, "--tlsverify", "--tlscacert", tls->ca.string(), "--tlscert",
                       tls->cert.string(), "--tlskey", tls->key.string()});
  } else if (truthy(env("DIND_INSECURE_TCP"))) {
    const std::string tcp =
        "tcp://" + (tcp_address && !tcp_address->empty() ? *tcp_address : "0.0.0.0:2375");
    plan.flags.insert(plan.flags.end(), {"--host", tcp, "--tls=false"});
    plan.warnings.push_back(
        "DOCKER_TLS_CERTDIR is empty and DIND_INSECURE_TCP is set: the API on " + tcp +
        " accepts ANYONE who can reach it, with full control of this engine and its host. "
        "Use it on an isolated network only.");
  } else {
    plan.warnings.push_back(
        "DOCKER_TLS_CERTDIR is empty: TLS is off, so there is no TCP listener (only " + socket +
        "); set DIND_INSECURE_TCP=1 to serve plain tcp://0.0.0.0:2375 anyway");
  }
  plan.flags.insert(plan.flags.end(), user_args.begin(), user_args.end());
  return plan;
}

}  // namespace dind::appliance
