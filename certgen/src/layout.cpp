#include "certgen/layout.hpp"

#include <cerrno>

#include "dind/base/fs.hpp"

namespace certgen {
namespace fs = std::filesystem;
using dind::base::ErrorKind;
using dind::base::make_error;

std::string_view relative_path(BundleFile file) {
  switch (file) {
    case BundleFile::kCaCert:
      return "ca/cert.pem";
    case BundleFile::kCaKey:
      return "ca/key.pem";
    case BundleFile::kServerCa:
      return "server/ca.pem";
    case BundleFile::kServerCert:
      return "server/cert.pem";
    case BundleFile::kServerKey:
      return "server/key.pem";
    case BundleFile::kClientCa:
      return "client/ca.pem";
    case BundleFile::kClientCert:
      return "client/cert.pem";
    case BundleFile::kClientKey:
      return "client/key.pem";
  }
  return "";
}

fs::path path_of(const fs::path& root, BundleFile file) {
  return root / relative_path(file);
}

bool is_key_file(BundleFile file) {
  return file == BundleFile::kCaKey || file == BundleFile::kServerKey ||
         file == BundleFile::kClientKey;
}

mode_t required_mode(BundleFile file) {
  if (file == BundleFile::kCaKey || file == BundleFile::kServerKey) {
    return 0600;
  }
  return 0644;
}

bool LoadedBundle::present(BundleFile file) const {
  switch (file) {
    case BundleFile::kCaCert:
      return ca_cert.has_value();
    case BundleFile::kCaKey:
      return ca_key.has_value();
    case BundleFile::kServerCa:
      return server_ca.has_value();
    case BundleFile::kServerCert:
      return server_cert.has_value();
    case BundleFile::kServerKey:
      return server_key.has_value();
    case BundleFile::kClientCa:
      return client_ca.has_value();
    case BundleFile::kClientCert:
      return client_cert.has_value();
    case BundleFile::kClientKey:
      return client_key.has_value();
  }
  return false;
}

namespace {

// nullopt when absent; the file's bytes otherwise.
Result<std::optional<std::string>> read_optional(const fs::path& path) {
  auto text = dind::base::read_file(path, 1u << 20);
  if (!text) {
    // ENOTDIR: a file where the directory should be; ensure_dir reports it.
    if (text.error().sys_errno == ENOENT || text.error().sys_errno == ENOTDIR) {
      return std::optional<std::string>{};
    }
    return std::move(text).error();
  }
  return std::optional<std::string>(std::move(*text));
}

template <typename T, typename Parse>
dind::base::Status load_one(const fs::path& root, BundleFile file, std::optional<T>& slot,
                            Parse parse) {
  fs::path path = path_of(root, file);
  auto text = read_optional(path);
  if (!text) {
    return std::move(text).error();
  }
  if (!text->has_value()) {
    return {};
  }
  if ((*text)->empty()) {
    return make_error(ErrorKind::kDataLoss, path.string() + " is empty");
  }
  auto parsed = parse(**text);
  if (!parsed) {
    return std::move(parsed).error().with_context(path.string());
  }
  slot = std::move(*parsed);
  return {};
}

}  // namespace

Result<LoadedBundle> load_bundle(const fs::path& root) {
  LoadedBundle b;
  auto cert = [](std::string_view t) { return cert_from_pem(t); };
  auto key = [](std::string_view t) { return key_from_pem(t); };
  DIND_TRY(load_one(root, BundleFile::kCaCert, b.ca_cert, cert));
  DIND_TRY(load_one(root, BundleFile::kCaKey, b.ca_key, key));
  DIND_TRY(load_one(root, BundleFile::kServerCa, b.server_ca, cert));
  DIND_TRY(load_one(root, BundleFile::kServerCert, b.server_cert, cert));
  DIND_TRY(load_one(root, BundleFile::kServerKey, b.server_key, key));
  DIND_TRY(load_one(root, BundleFile::kClientCa, b.client_ca, cert));
  DIND_TRY(load_one(root, BundleFile::kClientCert, b.client_cert, cert));
  DIND_TRY(load_one(root, BundleFile::kClientKey, b.client_key, key));
  return b;
}

}  // namespace certgen
