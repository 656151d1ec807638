#pragma once
// Image manifests as registries serve them: Docker schema 2 and OCI image
// manifests, Docker manifest lists and OCI indexes, with the platform choice
// of a multi-platform image. Pure: bytes in, typed values out; schema 1 and
// anything malformed refused with a message a user can act on.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::registry {

inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";

// What a manifest request accepts, in dockerd's order.
std::vector<std::string> manifest_accept();

// Manifests larger than this are refused (dockerd: 4 MiB).
inline constexpr size_t kMaxManifestBytes = 4u << 20;

struct Platform {
  std::string os = "linux";
  std::string architecture;
  std::string variant;
  std::string to_string() const;  // "linux/arm64/v8"
};
// "linux", "linux/amd64", "linux/arm/v7", "amd64" ... normalised as
// containerd's platforms package does (x86_64 -> amd64, aarch64 -> arm64,
// arm64's default variant v8).
base::Result<Platform> parse_platform(std::string_view text);
// The daemon's own platform.
Platform host_platform();

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::vector<std::string> urls;  // foreign layers
  std::optional<Platform> platform;
};

struct Manifest {
  enum class Kind { kImage, kIndex };
  Kind kind = Kind::kImage;
  std::string media_type;
  Descriptor config;                  // kImage
  std::vector<Descriptor> layers;     // kImage
  std::vector<Descriptor> manifests;  // kIndex
};

// Parses `bytes` served with Content-Type `content_type` (the body's own
// mediaType wins when present). Refuses schema 1 ("support for schema 1 has
// been removed..."), unknown types, missing or invalid digests, negative
// sizes, and layer types we cannot unpack.
base::Result<Manifest> parse_manifest(std::string_view bytes, std::string_view content_type);

// The index entry for `want` (variant matched when asked for, else the
// closest: exact variant of the host, then any); kNotFound with dockerd's
// "no matching manifest for linux/amd64 in the manifest list entries".
base::Result<Descriptor> select_platform(const Manifest& index, const Platform& want);

// Checks an image config against its manifest: a JSON object whose
// rootfs.diff_ids has one entry per layer. Returns the diff IDs.
base::Result<std::vector<std::string>> config_diff_ids(std::string_view config, size_t layer_count);

}  // namespace dind::registry
