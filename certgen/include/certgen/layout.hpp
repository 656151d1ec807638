#pragma once
// The docker:dind certificate layout under $DOCKER_TLS_CERTDIR and a loader
// that reads and parses whatever part of it exists.

#include <sys/types.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string_view>

#include "certgen/x509.hpp"

namespace certgen {

enum class BundleFile {
  kCaCert,
  kCaKey,
  kServerCa,
  kServerCert,
  kServerKey,
  kClientCa,
  kClientCert,
  kClientKey,
};
inline constexpr std::array kAllBundleFiles = {
    BundleFile::kCaCert,    BundleFile::kCaKey,    BundleFile::kServerCa,   BundleFile::kServerCert,
    BundleFile::kServerKey, BundleFile::kClientCa, BundleFile::kClientCert, BundleFile::kClientKey,
};

std::string_view relative_path(BundleFile file);  // "server/cert.pem"
std::filesystem::path path_of(const std::filesystem::path& root, BundleFile file);
bool is_key_file(BundleFile file);
// Private keys 0600 except client/key.pem 0644 (docker:dind does this so a
// sibling container running as another uid can read it); certificates 0644.
mode_t required_mode(BundleFile file);

// What exists of a bundle, parsed. A missing file is nullopt; a file that
// exists but does not parse (empty, truncated, wrong type, encrypted key)
// makes load_bundle fail with kDataLoss naming the file.
struct LoadedBundle {
  std::optional<Cert> ca_cert;
  std::optional<PKey> ca_key;
  std::optional<Cert> server_ca;
  std::optional<Cert> server_cert;
  std::optional<PKey> server_key;
  std::optional<Cert> client_ca;
  std::optional<Cert> client_cert;
  std::optional<PKey> client_key;

  bool present(BundleFile file) const;
};

Result<LoadedBundle> load_bundle(const std::filesystem::path& root);

}  // namespace certgen
