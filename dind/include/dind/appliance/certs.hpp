#pragma once
// The appliance's certificate bootstrap: runs certgen with the settings from
// the environment (certgen/env.hpp), exactly as `dind-certgen` with no
// arguments does, and reports what it did.

#include <filesystem>
#include <optional>
#include <ostream>

#include "certgen/env.hpp"

namespace dind::appliance {

struct TlsFiles {
  std::filesystem::path ca;    // server/ca.pem
  std::filesystem::path cert;  // server/cert.pem
  std::filesystem::path key;   // server/key.pem
  std::filesystem::path client_dir;
};

// nullopt when DOCKER_TLS_CERTDIR is empty (TLS disabled). Warnings and a
// one-line summary go to log.
base::Result<std::optional<TlsFiles>> bootstrap_certificates(const certgen::EnvLookup& env,
                                                             std::ostream& log);

}  // namespace dind::appliance
