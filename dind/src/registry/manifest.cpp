#include "dind/registry/manifest.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "dind/base/text.hpp"
#include "dind/image/reference.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;
using nlohmann::json;

std::vector<std::string> manifest_accept() {
  return {kOciManifest, kDockerManifest, kDockerManifestList, kOciIndex};
}

std::string Platform::to_string() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

namespace {

std::string normalise_arch(std::string arch, std::string& variant) {
  arch = base::ascii_lower(arch);
  if (arch == "x86_64" || arch == "x86-64") {
    arch = "amd64";
  } else if (arch == "aarch64") {
    arch = "arm64";
  } else if (arch == "i386" || arch == "i686") {
    arch = "386";
  } else if (arch == "armhf") {
    arch = "arm";
    variant = variant.empty() ? "v7" : variant;
  } else if (arch == "armel") {
    arch = "arm";
    variant = variant.empty() ? "v6" : variant;
  }
  if (arch == "arm64" && variant == "8") {
    variant = "v8";
  }
  if (arch == "arm64" && variant.empty()) {
    variant = "v8";
  }
  if (arch == "arm" && (variant == "7" || variant == "6" || variant == "5")) {
    variant = "v" + variant;
  }
  if (arch == "arm" && variant.empty()) {
    variant = "v7";
  }
  return arch;
}

bool known_arch(const std::string& a) {
  for (const char* k : {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le",
                        "mips64", "loong64", "ppc64", "mips", "mipsle"}) {
    if (a == k) {
      return true;
    }
  }
  return false;
}

std::string string_member(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Descriptor> descriptor(const json& j, const char* what) {
  if (!j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument,
                      std::string("invalid manifest: ") + what + " is not an object");
  }
  Descriptor d;
  d.media_type = string_member(j, "mediaType");
  d.digest = string_member(j, "digest");
  if (!image::valid_digest(d.digest)) {
    return make_error(ErrorKind::kInvalidArgument, std::string("invalid manifest: ") + what +
                                                       " has an invalid digest \"" +
                                                       d.digest.substr(0, 80) + "\"");
  }
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return make_error(ErrorKind::kInvalidArgument,
                      std::string("invalid manifest: ") + what + " has no valid size");
  }
  d.size = size->get<int64_t>();
  if (auto urls = j.find("urls"); urls != j.end() && urls->is_array()) {
    for (const auto& u : *urls) {
      if (u.is_string()) {
        d.urls.push_back(u.get<std::string>());
      }
    }
  }
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    Platform pl;
    pl.os = string_member(*p, "os");
    pl.variant = string_member(*p, "variant");
    pl.architecture = normalise_arch(string_member(*p, "architecture"), pl.variant);
    d.platform = pl;
  }
  return d;
}

bool layer_type_ok(const std::string& t) {
  for (const char* k :
       {"application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}) {
    if (t == k) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<Platform> parse_platform(std::string_view text) {
  const std::string t = base::trim(text);
  std::vector<std::string> parts;
  size_t b = 0;
  for (;;) {
    const size_t slash = t.find('/', b);
    parts.push_back(t.substr(b, slash == std::string::npos ? std::string::npos : slash - b));
    if (slash == std::string::npos) {
      break;
    }
    b = slash + 1;
  }
  Platform p;
  auto invalid = [&] {
    return make_error(ErrorKind::kInvalidArgument,
                      "\"" + t + "\": unknown operating system or architecture: invalid argument");
  };
  if (t.empty() || parts.size() > 3) {
    return invalid();
  }
  for (const auto& part : parts) {
    if (part.empty()) {
      return invalid();
    }
  }
  if (parts.size() == 1) {
    std::string variant;
    std::string arch = normalise_arch(parts[0], variant);
    if (known_arch(arch)) {
      p.architecture = arch;
      p.variant = variant;
      return p;
    }
    if (base::ascii_lower(parts[0]) != "linux") {
      return invalid();
    }
    p = host_platform();
    return p;
  }
  p.os = base::ascii_lower(parts[0]);
  if (p.os != "linux") {
    return make_error(ErrorKind::kInvalidArgument,
                      "operating system is not supported: " + p.os + " (this daemon runs linux)");
  }
  p.variant = parts.size() == 3 ? base::ascii_lower(parts[2]) : "";
  p.architecture = normalise_arch(parts[1], p.variant);
  if (!known_arch(p.architecture)) {
    return invalid();
  }
  return p;
}

Platform host_platform() {
  struct utsname u {};
  ::uname(&u);
  Platform p;
  p.architecture = normalise_arch(u.machine, p.variant);
  return p;
}

Result<Manifest> parse_manifest(std::string_view bytes, std::string_view content_type) {
  if (bytes.size() > kMaxManifestBytes) {
    return make_error(ErrorKind::kInvalidArgument, "the manifest is larger than 4 MiB (" +
                                                       std::to_string(bytes.size()) + " bytes)");
  }
  auto j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid manifest: not a JSON object");
  }
  auto schema = j.find("schemaVersion");
  if (schema != j.end() && schema->is_number_integer() && schema->get<int>() == 1) {
    return make_error(ErrorKind::kInvalidArgument,
                      "support for Docker Image Format v1 and Docker Image manifest version 2, "
                      "schema 1 has been removed: push the image again with a newer tool "
                      "(schema 2 or OCI)");
  }
  Manifest m;
  m.media_type = string_member(j, "mediaType");
  if (m.media_type.empty()) {
    std::string ct(content_type.substr(0, content_type.find(';')));
    m.media_type = base::trim(ct);
    if (m.media_type.empty() || m.media_type == "application/json" ||
        m.media_type == "text/plain") {
      // OCI allows mediaType to be absent: tell an index from a manifest by
      // its members.
      m.media_type = j.contains("manifests") ? kOciIndex : kOciManifest;
    }
  }
  if (m.media_type.find("manifest.v1") != std::string::npos &&
      m.media_type.find("docker.distribution") != std::string::npos) {
    return make_error(ErrorKind::kInvalidArgument,
                      "support for Docker Image manifest version 2, schema 1 has been removed");
  }
  if (schema == j.end() || !schema->is_number_integer() || schema->get<int>() != 2) {
    return make_error(ErrorKind::kInvalidArgument, "invalid manifest: schemaVersion is not 2");
  }
  if (m.media_type == kDockerManifestList || m.media_type == kOciIndex) {
    m.kind = Manifest::Kind::kIndex;
    auto list = j.find("manifests");
    if (list == j.end() || !list->is_array()) {
      return make_error(ErrorKind::kInvalidArgument, "invalid manifest list: no manifests");
    }
    for (const auto& e : *list) {
      DIND_ASSIGN_OR_RETURN(auto d, descriptor(e, "a manifest list entry"));
      m.manifests.push_back(std::move(d));
    }
    return m;
  }
  if (m.media_type != kDockerManifest && m.media_type != kOciManifest) {
    return make_error(ErrorKind::kInvalidArgument,
                      "unsupported manifest media type " + m.media_type.substr(0, 100));
  }
  auto cfg = j.find("config");
  if (cfg == j.end()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid manifest: no config");
  }
  DIND_ASSIGN_OR_RETURN(m.config, descriptor(*cfg, "the config"));
  if (m.config.media_type.find("json") == std::string::npos) {
    return make_error(ErrorKind::kInvalidArgument,
                      "this is not a container image: its config is of type " +
                          m.config.media_type.substr(0, 100));
  }
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid manifest: no layers");
  }
  for (const auto& e : *layers) {
    DIND_ASSIGN_OR_RETURN(auto d, descriptor(e, "a layer"));
    if (!layer_type_ok(d.media_type)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "unsupported layer media type " + d.media_type.substr(0, 100));
    }
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<Descriptor> select_platform(const Manifest& index, const Platform& want) {
  const Descriptor* best = nullptr;
  int best_score = -1;
  const Platform host = host_platform();
  for (const auto& d : index.manifests) {
    if (!d.platform || d.platform->os != want.os || d.platform->architecture != want.architecture) {
      continue;
    }
    if (d.media_type == kDockerManifestList || d.media_type == kOciIndex) {
      continue;
    }
    int score = 0;
    if (!want.variant.empty()) {
      if (d.platform->variant == want.variant) {
        score = 2;
      } else if (d.platform->variant.empty()) {
        score = 1;
      } else {
        continue;
      }
    } else {
      score = d.platform->variant == host.variant ? 2 : 1;
    }
    if (score > best_score) {
      best = &d;
      best_score = score;
    }
  }
  if (!best) {
    return make_error(ErrorKind::kNotFound, "no matching manifest for " + want.to_string() +
                                                " in the manifest list entries");
  }
  return *best;
}

Result<std::vector<std::string>> config_diff_ids(std::string_view config, size_t layer_count) {
  auto j = json::parse(config, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid image config: not a JSON object");
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object() || !rootfs->contains("diff_ids") ||
      !(*rootfs)["diff_ids"].is_array()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid image config: no rootfs.diff_ids");
  }
  std::vector<std::string> out;
  for (const auto& d : (*rootfs)["diff_ids"]) {
    if (!d.is_string() || !image::valid_digest(d.get<std::string>())) {
      return make_error(ErrorKind::kInvalidArgument, "invalid image config: a bad diff ID");
    }
    out.push_back(d.get<std::string>());
  }
  if (out.size() != layer_count) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid image: the manifest has " + std::to_string(layer_count) +
                          " layers but the config names " + std::to_string(out.size()));
  }
  return out;
}

}  // namespace dind::registry
