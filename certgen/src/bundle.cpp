#include "certgen/bundle.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "certgen/layout.hpp"
#include "dind/base/fs.hpp"

namespace certgen {
namespace fs = std::filesystem;
using dind::base::ErrorKind;
using dind::base::FileTransaction;
using dind::base::make_error;
using dind::base::UniqueFd;

namespace {

// Holds an exclusive flock on the bundle directory for the whole run, so two
// daemons starting on one shared volume do not interleave their writes.
Result<UniqueFd> lock_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return dind::base::sys_error(errno, "open " + dir.string());
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return dind::base::sys_error(errno, "lock " + dir.string());
    }
  }
  return fd;
}

dind::base::Error mismatch(const fs::path& root, BundleFile key, BundleFile cert) {
  return make_error(ErrorKind::kDataLoss,
                    path_of(root, key).string() + " does not match " +
                        path_of(root, cert).string() +
                        " (the key is not the certificate's key; restore the right pair, or "
                        "remove both to have them generated again)");
}

// The user-managed ("bring your own") mode: check, never write.
Result<BundleReport> check_user_managed(const fs::path& root, const LoadedBundle& b,
                                        Clock::time_point now) {
  if (!key_matches_cert(b.server_key->get(), b.server_cert->get())) {
    return mismatch(root, BundleFile::kServerKey, BundleFile::kServerCert);
  }
  auto st = verify_certificate(b.server_cert->get(), b.server_ca->get(), "sslserver", now);
  if (!st) {
    return std::move(st).error().with_context("user-managed certificates in " + root.string());
  }
  BundleReport report;
  report.mode = BundleMode::kUserManaged;
  report.ca_fingerprint = sha256_fingerprint(b.server_ca->get());
  report.server_sans = cert_sans(b.server_cert->get());
  report.server_not_after = not_after(b.server_cert->get());
  return report;
}

struct Leaf {
  PKey key;
  bool key_new = false;
  Cert cert;
};

// Reuses or generates a leaf key and issues a fresh certificate for it.
Result<Leaf> make_leaf(const fs::path& root, const Profile& profile, std::optional<PKey>& key,
                       const std::optional<Cert>& old_cert, BundleFile key_file,
                       BundleFile cert_file, const X509* ca_cert, EVP_PKEY* ca_key,
                       const BundleOptions& options, BundleReport& report) {
  Leaf leaf;
  if (key) {
    if (old_cert && !key_matches_cert(key->get(), old_cert->get())) {
      return mismatch(root, key_file, cert_file);
    }
    leaf.key = std::move(*key);
    if (std::string have = describe_key(leaf.key.get()); have != key_type_name(options.key_type)) {
      report.warnings.push_back("reusing the existing " + have + " key " +
                                path_of(root, key_file).string() + " (requested " +
                                std::string(key_type_name(options.key_type)) +
                                "; remove the key to switch)");
    }
  } else {
    auto k = generate_key(options.key_type);
    if (!k) {
      return std::move(k).error();
    }
    leaf.key = std::move(*k);
    leaf.key_new = true;
  }
  auto cert = issue_certificate(profile, leaf.key.get(), ca_cert, ca_key, options.now);
  if (!cert) {
    return std::move(cert).error();
  }
  leaf.cert = std::move(*cert);
  auto st = verify_certificate(leaf.cert.get(), ca_cert,
                               profile.server_auth ? "sslserver" : "sslclient", options.now);
  if (!st) {
    return std::move(st).error();
  }
  return leaf;
}

struct Staging {
  FileTransaction tx;
  const fs::path& root;

  dind::base::Status file(BundleFile f, const std::string& pem) {
    return tx.stage(path_of(root, f), pem, required_mode(f));
  }
  dind::base::Status key(BundleFile f, EVP_PKEY* k, bool is_new) {
    if (!is_new) {
      struct stat st {};
      fs::path p = path_of(root, f);
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 07777) != required_mode(f)) {
        tx.stage_chmod(p, required_mode(f));
      }
      return {};
    }
    auto pem = key_to_pem(k);
    if (!pem) {
      return std::move(pem).error();
    }
    return file(f, *pem);
  }
};

}  // namespace

Result<BundleReport> ensure_bundle(const BundleOptions& options) {
  const fs::path& root = options.dir;
  // Plan first: a malformed DOCKER_TLS_SAN must fail before the disk is touched.
  auto server_profile = plan_server_profile(options.host, options.plan);
  if (!server_profile) {
    return std::move(server_profile).error();
  }
  const Profile ca_profile = plan_ca_profile(options.plan);
  const Profile client_profile = plan_client_profile(options.plan);

  Staging staging{FileTransaction{}, root};
  DIND_TRY(staging.tx.ensure_dir(root, 0755));
  auto lock = lock_dir(root);
  if (!lock) {
    return std::move(lock).error();
  }
  auto loaded = load_bundle(root);
  if (!loaded) {
    return std::move(loaded).error();
  }
  LoadedBundle& b = *loaded;

  if (b.server_ca && b.server_cert && b.server_key && !b.ca_key) {
    return check_user_managed(root, b, options.now);
  }
  if (b.ca_cert && !b.ca_key) {
    return make_error(ErrorKind::kFailedPrecondition,
                      path_of(root, BundleFile::kCaCert).string() + " exists without " +
                          path_of(root, BundleFile::kCaKey).string() +
                          ": cannot issue certificates. Provide ca/key.pem, or provide "
                          "server/{ca,cert,key}.pem to manage the certificates yourself");
  }

  BundleReport report;
  report.mode = b.ca_key ? BundleMode::kRefreshed : BundleMode::kCreated;

  // The CA.
  PKey ca_key;
  bool ca_key_new = false;
  if (b.ca_key) {
    ca_key = std::move(*b.ca_key);
  } else {
    auto k = generate_key(options.key_type);
    if (!k) {
      return std::move(k).error();
    }
    ca_key = std::move(*k);
    ca_key_new = true;
    report.ca_created = true;
  }
  Cert ca_cert;
  bool ca_cert_new = true;
  if (b.ca_cert) {
    if (!key_matches_cert(ca_key.get(), b.ca_cert->get())) {
      return mismatch(root, BundleFile::kCaKey, BundleFile::kCaCert);
    }
    if (!is_ca_cert(b.ca_cert->get())) {
      return make_error(ErrorKind::kDataLoss,
                        path_of(root, BundleFile::kCaCert).string() + " is not a CA certificate");
    }
    const auto expires = not_after(b.ca_cert->get());
    if (expires - options.now < options.ca_renew_before) {
      report.ca_renewed = true;
      report.warnings.push_back(
          std::string("the CA certificate ") +
          (expires <= options.now
               ? "has expired"
               : "expires within " + std::to_string(options.ca_renew_before.count()) + " days") +
          ": issued a new CA certificate from the same key; clients must fetch the new "
          "client/ca.pem");
    } else {
      ca_cert = std::move(*b.ca_cert);
      ca_cert_new = false;
    }
  } else if (!ca_key_new) {
    report.warnings.push_back(
        "ca/cert.pem was missing: issued a new CA certificate from ca/key.pem");
  }
  if (ca_cert_new) {
    auto c = issue_certificate(ca_profile, ca_key.get(), nullptr, ca_key.get(), options.now);
    if (!c) {
      return std::move(c).error();
    }
    ca_cert = std::move(*c);
  }

  // The leaves.
  auto server =
      make_leaf(root, *server_profile, b.server_key, b.server_cert, BundleFile::kServerKey,
                BundleFile::kServerCert, ca_cert.get(), ca_key.get(), options, report);
  if (!server) {
    return std::move(server).error();
  }
  auto client = make_leaf(root, client_profile, b.client_key, b.client_cert, BundleFile::kClientKey,
                          BundleFile::kClientCert, ca_cert.get(), ca_key.get(), options, report);
  if (!client) {
    return std::move(client).error();
  }

  // Encode, stage, commit. client/ca.pem is staged last, so it lands last.
  auto ca_pem = cert_to_pem(ca_cert.get());
  auto server_pem = cert_to_pem(server->cert.get());
  auto client_pem = cert_to_pem(client->cert.get());
  if (!ca_pem || !server_pem || !client_pem) {
    return make_error(ErrorKind::kInternal, "encoding certificates failed");
  }
  for (const char* sub : {"ca", "server", "client"}) {
    DIND_TRY(staging.tx.ensure_dir(root / sub, 0755));
  }
  DIND_TRY(staging.key(BundleFile::kCaKey, ca_key.get(), ca_key_new));
  if (ca_cert_new) {
    DIND_TRY(staging.file(BundleFile::kCaCert, *ca_pem));
  }
  DIND_TRY(staging.key(BundleFile::kServerKey, server->key.get(), server->key_new));
  DIND_TRY(staging.file(BundleFile::kServerCert, *server_pem));
  DIND_TRY(staging.file(BundleFile::kServerCa, *ca_pem));
  DIND_TRY(staging.key(BundleFile::kClientKey, client->key.get(), client->key_new));
  DIND_TRY(staging.file(BundleFile::kClientCert, *client_pem));
  DIND_TRY(staging.file(BundleFile::kClientCa, *ca_pem));
  DIND_TRY(staging.tx.commit());

  report.written = staging.tx.staged_paths();
  report.ca_fingerprint = sha256_fingerprint(ca_cert.get());
  report.server_sans = server_profile->sans;
  report.server_not_after = not_after(server->cert.get());
  return report;
}

}  // namespace certgen
