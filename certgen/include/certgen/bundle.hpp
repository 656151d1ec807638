#pragma once
// ensure_bundle: what the appliance runs at every start. Creates or refreshes
// the docker:dind bundle under options.dir:
//   * nothing there: a new CA, server and client key + certificate;
//   * a managed bundle (ca/key.pem present): CA key and CA certificate kept
//     (renewed from the same key when expired or within ca_renew_before of
//     expiry), leaf keys kept, leaf certificates re-issued (fresh SANs and
//     expiry), CA copies refreshed;
//   * "bring your own" (server/{ca,cert,key}.pem present, ca/key.pem absent):
//     verified, nothing written.
// Every existing file is read and checked before anything is written; on any
// error the directory is left byte-identical. Files land via temp+fsync+rename
// with client/ca.pem last, so its presence means the client set is complete.
// Concurrent callers on one directory are serialised with flock().

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "certgen/profile.hpp"
#include "certgen/x509.hpp"

namespace certgen {

struct BundleOptions {
  std::filesystem::path dir;
  KeyType key_type = KeyType::kEcdsaP256;  // for keys that must be generated
  PlanOptions plan;                        // validity and DOCKER_TLS_SAN
  std::chrono::days ca_renew_before{30};
  HostFacts host;
  Clock::time_point now = Clock::now();
};

enum class BundleMode { kCreated, kRefreshed, kUserManaged };

struct BundleReport {
  BundleMode mode = BundleMode::kCreated;
  bool ca_created = false;
  bool ca_renewed = false;
  std::vector<std::string> warnings;           // say these loudly
  std::vector<std::filesystem::path> written;  // in write order
  std::string ca_fingerprint;                  // SHA-256 of the CA cert
  std::vector<SubjectAltName> server_sans;
  Clock::time_point server_not_after{};
};

Result<BundleReport> ensure_bundle(const BundleOptions& options);

}  // namespace certgen
