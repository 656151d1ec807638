// dind: the docker-in-docker appliance. Today it performs the appliance's
// start-up certificate step and reports where clients find their files; the
// API server arrives with issue #3.

#include <iostream>
#include <string>

#include "dind/appliance/certs.hpp"

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "-h" || cmd == "--help") {
    std::cout << "Usage: dind            prepare the appliance (TLS certificates in "
                 "$DOCKER_TLS_CERTDIR, default /certs)\n"
                 "       dind version    print the version\n";
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "dind 0.1.0\n";
    return 0;
  }
  if (!cmd.empty()) {
    std::cerr << "dind: unknown argument \"" << cmd << "\"\n";
    return 2;
  }
  auto tls = dind::appliance::bootstrap_certificates(certgen::process_environment(), std::cerr);
  if (!tls) {
    std::cerr << "dind: error: " << tls.error().message << "\n";
    return 1;
  }
  if (*tls) {
    std::cout << "server: --tlscacert " << (*tls)->ca.string() << " --tlscert " << (*tls)->cert.string()
              << " --tlskey " << (*tls)->key.string() << "\n"
              << "clients: export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=" << (*tls)->client_dir.string()
              << "\n"
              << "dind: the API server is not implemented yet (issue #3); exiting\n";
  }
  return 0;
}
