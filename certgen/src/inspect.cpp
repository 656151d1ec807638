#include "certgen/inspect.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "certgen/layout.hpp"

namespace certgen {
namespace fs = std::filesystem;
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Status;

namespace {

CertSummary summarize(BundleFile file, const X509* cert, EVP_PKEY* key) {
  CertSummary s;
  s.file = relative_path(file);
  s.subject = subject_cn(cert);
  s.fingerprint = sha256_fingerprint(cert);
  s.sans = cert_sans(cert);
  s.not_before = not_before(cert);
  s.not_after = not_after(cert);
  if (key != nullptr) {
    s.key_type = describe_key(key);
  } else {
    PKey pub(X509_get_pubkey(const_cast<X509*>(cert)));
    s.key_type = pub ? describe_key(pub.get()) : "unknown";
  }
  return s;
}

std::string iso8601(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status missing(const fs::path& dir, BundleFile f) {
  return make_error(ErrorKind::kNotFound, path_of(dir, f).string() + " is missing");
}

Status same_cert(const fs::path& dir, BundleFile copy, const X509* got, const X509* ca) {
  if (X509_cmp(got, ca) != 0) {
    return make_error(ErrorKind::kDataLoss,
                      path_of(dir, copy).string() + " is not the CA certificate in use");
  }
  return {};
}

}  // namespace

Result<BundleSummary> inspect_bundle(const fs::path& dir) {
  auto loaded = load_bundle(dir);
  if (!loaded) {
    return std::move(loaded).error();
  }
  const LoadedBundle& b = *loaded;
  BundleSummary out;
  out.mode = (!b.ca_key && b.server_ca && b.server_cert && b.server_key) ? BundleMode::kUserManaged
                                                                         : BundleMode::kRefreshed;
  auto key_of = [](const std::optional<PKey>& k) { return k ? k->get() : nullptr; };
  if (b.ca_cert) {
    out.certs.push_back(summarize(BundleFile::kCaCert, b.ca_cert->get(), key_of(b.ca_key)));
  } else if (b.server_ca) {
    out.certs.push_back(summarize(BundleFile::kServerCa, b.server_ca->get(), nullptr));
  }
  if (b.server_cert) {
    out.certs.push_back(
        summarize(BundleFile::kServerCert, b.server_cert->get(), key_of(b.server_key)));
  }
  if (b.client_cert) {
    out.certs.push_back(
        summarize(BundleFile::kClientCert, b.client_cert->get(), key_of(b.client_key)));
  }
  if (out.certs.empty()) {
    return make_error(ErrorKind::kNotFound, "no certificates in " + dir.string());
  }
  return out;
}

Status verify_bundle(const fs::path& dir, Clock::time_point now) {
  auto loaded = load_bundle(dir);
  if (!loaded) {
    return std::move(loaded).error();
  }
  const LoadedBundle& b = *loaded;
  const bool user_managed = !b.ca_key && b.server_ca && b.server_cert && b.server_key;
  // Server side: the part the daemon uses.
  for (BundleFile f : {BundleFile::kServerCa, BundleFile::kServerCert, BundleFile::kServerKey}) {
    if (!b.present(f)) {
      return missing(dir, f);
    }
  }
  if (!key_matches_cert(b.server_key->get(), b.server_cert->get())) {
    return make_error(ErrorKind::kDataLoss, path_of(dir, BundleFile::kServerKey).string() +
                                                " does not match server/cert.pem");
  }
  DIND_TRY(verify_certificate(b.server_cert->get(), b.server_ca->get(), "sslserver", now));
  if (user_managed) {
    return {};
  }
  for (BundleFile f : kAllBundleFiles) {
    if (!b.present(f)) {
      return missing(dir, f);
    }
  }
  if (!key_matches_cert(b.ca_key->get(), b.ca_cert->get())) {
    return make_error(ErrorKind::kDataLoss, "ca/key.pem does not match ca/cert.pem");
  }
  if (!key_matches_cert(b.client_key->get(), b.client_cert->get())) {
    return make_error(ErrorKind::kDataLoss, "client/key.pem does not match client/cert.pem");
  }
  DIND_TRY(same_cert(dir, BundleFile::kServerCa, b.server_ca->get(), b.ca_cert->get()));
  DIND_TRY(same_cert(dir, BundleFile::kClientCa, b.client_ca->get(), b.ca_cert->get()));
  DIND_TRY(verify_certificate(b.client_cert->get(), b.ca_cert->get(), "sslclient", now));
  for (BundleFile f : kAllBundleFiles) {
    struct stat st {};
    fs::path p = path_of(dir, f);
    if (::stat(p.c_str(), &st) == 0 && is_key_file(f) && (st.st_mode & 07777) != required_mode(f)) {
      char want[8];
      std::snprintf(want, sizeof(want), "%04o", required_mode(f));
      return make_error(ErrorKind::kFailedPrecondition, p.string() + " should have mode " + want);
    }
  }
  return {};
}

std::string format_summary(const BundleSummary& summary, Clock::time_point now) {
  std::ostringstream out;
  out << "mode: "
      << (summary.mode == BundleMode::kUserManaged ? "user-managed (bring your own)"
                                                   : "managed by dind-certgen")
      << "\n";
  for (const auto& c : summary.certs) {
    const auto days = std::chrono::duration_cast<std::chrono::days>(c.not_after - now).count();
    out << c.file << "\n"
        << "  subject:     CN=" << c.subject << "\n"
        << "  key:         " << c.key_type << "\n"
        << "  sha256:      " << c.fingerprint << "\n"
        << "  valid:       " << iso8601(c.not_before) << " .. " << iso8601(c.not_after) << " ("
        << (days >= 0 ? std::to_string(days) + " days left" : "EXPIRED") << ")\n";
    if (!c.sans.empty()) {
      out << "  sans:        ";
      for (size_t i = 0; i < c.sans.size(); ++i) {
        out << (i ? ", " : "") << c.sans[i].to_string();
      }
      out << "\n";
    }
  }
  return out.str();
}

std::string format_summary_json(const BundleSummary& summary) {
  nlohmann::json certs = nlohmann::json::array();
  for (const auto& c : summary.certs) {
    nlohmann::json sans = nlohmann::json::array();
    for (const auto& san : c.sans) {
      sans.push_back(san.to_string());
    }
    certs.push_back({{"file", c.file},
                     {"subject", c.subject},
                     {"key", c.key_type},
                     {"sha256", c.fingerprint},
                     {"not_before", iso8601(c.not_before)},
                     {"not_after", iso8601(c.not_after)},
                     {"sans", sans}});
  }
  nlohmann::json doc = {
      {"mode", summary.mode == BundleMode::kUserManaged ? "user-managed" : "managed"},
      {"certificates", certs}};
  return doc.dump(2) + "\n";
}

}  // namespace certgen
