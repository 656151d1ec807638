#pragma once
// The layer store, overlay2-style: each layer is unpacked once into
// <root>/layers/<chain-id hex>/diff, identified by its chain ID, with its
// metadata (diff ID, parent, size) in meta.json. Container root file systems
// are overlay mounts of those diffs plus a per-container upper layer.
//
// Not thread-safe for the same chain ID; the image service serialises layer
// registration.

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::image {

struct LayerInfo {
  std::string chain_id;
  std::string diff_id;
  std::optional<std::string> parent;  // chain ID
  uint64_t size = 0;                  // uncompressed tar bytes
  std::filesystem::path diff_dir;
};

// What a container's root file system is made of; mount_overlay() mounts it.
struct RootfsPlan {
  std::vector<std::filesystem::path> lower;  // top-most first (overlay order)
  std::filesystem::path upper;
  std::filesystem::path work;
  std::filesystem::path merged;  // the mount point
};

class LayerStore {
 public:
  // Refuses a root on overlayfs (overlay cannot stack its upper/work there):
  // the data root must be a volume or a real file system.
  static base::Result<LayerStore> open(const std::filesystem::path& root);

  // Unpacks a layer stream on top of `parent` and registers it. When
  // expected_diff_id is set, a stream with another diff ID is refused. An
  // already registered chain ID keeps the existing copy.
  base::Result<LayerInfo> register_layer(int fd, const std::optional<std::string>& parent,
                                         const std::optional<std::string>& expected_diff_id = {});
  bool has(const std::string& chain_id) const;
  base::Result<LayerInfo> get(const std::string& chain_id) const;
  // Deletes layers whose chain IDs are not in `referenced`; returns how many.
  base::Result<int> gc(const std::set<std::string>& referenced);

  // Creates <root>/mounts/<id>/{diff,work,merged} (and an init layer with the
  // mount points for /etc/hosts, /etc/resolv.conf, /etc/hostname) and returns
  // the overlay of `top_chain_id`'s layer chain under them.
  base::Result<RootfsPlan> prepare_rootfs(const std::string& id, const std::optional<std::string>& top_chain_id);
  base::Status remove_rootfs(const std::string& id);

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path layer_dir(const std::string& chain_id) const;
  std::filesystem::path root_;
};

// Mounts the plan's overlay on plan.merged (new mount API with "lowerdir+"
// per layer, so chains of any length fit). Needs CAP_SYS_ADMIN.
base::Status mount_overlay(const RootfsPlan& plan);
base::Status unmount(const std::filesystem::path& path);

}  // namespace dind::image
