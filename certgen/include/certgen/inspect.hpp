#pragma once
// Read-only views of a bundle: a summary for humans and scripts, and a full
// verification (what `dind-certgen verify` and the restart checks run).

#include <filesystem>
#include <string>
#include <vector>

#include "certgen/bundle.hpp"

namespace certgen {

struct CertSummary {
  std::string file;  // relative path, "server/cert.pem"
  std::string subject;
  std::string key_type;
  std::string fingerprint;
  std::vector<SubjectAltName> sans;
  Clock::time_point not_before{};
  Clock::time_point not_after{};
};

struct BundleSummary {
  BundleMode mode = BundleMode::kRefreshed;  // kRefreshed = managed by certgen
  std::vector<CertSummary> certs;
};

Result<BundleSummary> inspect_bundle(const std::filesystem::path& dir);

// Every file present and parseable, keys match certificates, server and client
// certificates chain to the CA with the right purpose at `now`, the CA copies
// equal the CA certificate, and private key modes are as required.
dind::base::Status verify_bundle(const std::filesystem::path& dir, Clock::time_point now);

std::string format_summary(const BundleSummary& summary, Clock::time_point now);
std::string format_summary_json(const BundleSummary& summary);

}  // namespace certgen
