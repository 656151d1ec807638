// dind: the docker-in-docker appliance.
//   dind [FLAGS]          appliance mode: TLS bundle from $DOCKER_TLS_CERTDIR (default
//                         /certs), then serve unix:///var/run/docker.sock and
//                         tcp://0.0.0.0:2376 (mutual TLS), plus FLAGS
//   dind daemon [FLAGS]   a dockerd-compatible daemon with exactly FLAGS
//   dind shim ...         the per-container shim (started by the daemon)
//   dind version
// main only parses the command line and wires the parts together.

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "dind/appliance/certs.hpp"
#include "dind/base/log.hpp"
#include "dind/engine/config.hpp"
#include "dind/engine/daemon.hpp"
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
  std::vector<std::string> flags;
  if (!args.empty() && args[0] == "daemon") {
    flags.assign(args.begin() + 1, args.end());
  } else if (args.empty() || args[0].rfind('-', 0) == 0) {
    auto tls = dind::appliance::bootstrap_certificates(certgen::process_environment(), std::cerr);
    if (!tls) {
      DIND_LOG(kError) << tls.error().message;
      return 1;
    }
    // docker:dind honours a unix:// DOCKER_HOST for the socket (and ignores
    // tcp:// ones, which CI systems set for the client side).
    const char* docker_host = std::getenv("DOCKER_HOST");
    std::string socket = docker_host && std::string(docker_host).rfind("unix://", 0) == 0
                             ? docker_host
                             : std::string("unix://") + dind::engine::kDefaultSocket;
    const char* tcp_env = std::getenv("DIND_TCP_ADDRESS");
    const std::string tcp =
        std::string("tcp://") + (tcp_env && *tcp_env ? tcp_env : "0.0.0.0:2376");
    flags = {"--host", socket};
    if (*tls) {
      flags.insert(flags.end(),
                   {"--host", tcp, "--tlsverify", "--tlscacert", (*tls)->ca.string(), "--tlscert",
                    (*tls)->cert.string(), "--tlskey", (*tls)->key.string()});
    }
    flags.insert(flags.end(), args.begin(), args.end());
  } else {
    std::cerr << "dind: unknown command \"" << args[0] << "\"\n\n" << dind::engine::daemon_usage();
    return 2;
  }
  auto config = dind::engine::parse_daemon_args(flags);
  if (!config) {
    std::cerr << "dind: " << config.error().message << "\n";
    return 2;
  }
  return dind::engine::run_daemon(std::move(*config));
}
