// dind: the docker-in-docker appliance.
//   dind [FLAGS]          appliance mode: TLS bundle from $DOCKER_TLS_CERTDIR (default
//                         /certs), then serve unix:///var/run/docker.sock and
//                         tcp://0.0.0.0:2376 (mutual TLS), plus FLAGS
//   dind daemon [FLAGS]   a dockerd-compatible daemon with exactly FLAGS
//   dind health [-H unix:///path]  exit 0 when the API answers /_ping
//   dind shim ...         the per-container shim (started by the daemon)
//   dind version
// main only parses the command line and wires the parts together.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "dind/appliance/certs.hpp"
#include "dind/appliance/health.hpp"
#include "dind/appliance/nested.hpp"
#include "dind/appliance/plan.hpp"
#include "dind/base/log.hpp"
#include "dind/engine/config.hpp"
#include "dind/daemon/daemon.hpp"
#include "dind/runtime/init.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/version.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "shim") {
    return dind::runtime::shim_main(argc - 1, argv + 1);  // before anything else runs
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  ::signal(SIGPIPE, SIG_IGN);  // a client closing early must not kill the daemon
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")) {
    std::cout << dind::engine::daemon_usage();
    return 0;
  }
  if (!args.empty() && (args[0] == "version" || args[0] == "--version" || args[0] == "-v")) {
    std::cout << "dind " << dind::kDindVersion << " (engine " << dind::kEngineVersion << ")\n";
    return 0;
  }
  if (!args.empty() && args[0] == "health") {
    return dind::appliance::health(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "daemon") {
    auto config = dind::engine::parse_daemon_args({args.begin() + 1, args.end()});
    if (!config) {
      std::cerr << "dind: " << config.error().message << "\n";
      return 2;
    }
    return dind::daemon::run_daemon(std::move(*config));
  }
  if (!args.empty() && args[0].rfind('-', 0) != 0) {
    std::cerr << "dind: unknown command \"" << args[0] << "\"\n\n" << dind::engine::daemon_usage();
    return 2;
  }
  // The appliance. As PID 1 of its container the daemon runs in a child and
  // this process reaps and forwards signals (a SIGTERM during the certificate
  // generation ends it at once; later the daemon stops its containers).
  const bool pid1 = ::getpid() == 1;
  auto appliance = [&args, pid1]() -> int {
    const auto env = certgen::process_environment();
    auto tls = dind::appliance::bootstrap_certificates(env, std::cerr);
    if (!tls) {
      DIND_LOG(kError) << tls.error().message;
      return 1;
    }
    auto plan = dind::appliance::plan_appliance(env, *tls, args);
    if (!plan) {
      std::cerr << "dind: " << plan.error().message << "\n";
      return 2;
    }
    for (const auto& w : plan->warnings) {
      DIND_LOG(kWarn) << w;
    }
    auto config = dind::engine::parse_daemon_args(plan->flags, plan->defaults);
    if (!config) {
      std::cerr << "dind: " << config.error().message << "\n";
      return 2;
    }
    if (pid1) {  // the container's own setup, as docker:dind's hack/dind
      std::vector<std::string> paths = {config->data_root, config->exec_root, config->pidfile};
      for (const auto& h : config->hosts) {
        if (h.rfind("unix://", 0) == 0) {
          paths.push_back(h.substr(7));
        }
      }
      std::vector<std::string> done;
      dind::appliance::apply_nested(
          dind::appliance::plan_nested(dind::appliance::gather_nested_facts(paths)), done);
      for (const auto& line : done) {
        DIND_LOG(kInfo) << line;
      }
    }
    return dind::daemon::run_daemon(std::move(*config));
  };
  if (pid1) {
    return dind::runtime::run_supervised(appliance);
  }
  return appliance();
}

