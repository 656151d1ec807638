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
#include "dind/image/content_store.hpp"
#include "dind/image/layer_unpack.hpp"

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
  // already registered chain ID keeps the existing copy. With `keep_tar`, the
  // uncompressed tar is also stored there (its digest is the diff ID), so
  // that `docker save` can hand out the exact original bytes.
  base::Result<LayerInfo> register_layer(int fd, const std::optional<std::string>& parent,
                                         const std::optional<std::string>& expected_diff_id = {},
                                         ContentStore* keep_tar = nullptr);

  // Two-step registration for streams whose parent is not known yet (docker
  // load sees layers before the manifest): stage, then adopt or discard. A
  // layer's files do not depend on its parent, only its chain ID does.
  struct Staged {
    std::filesystem::path dir;  // holds diff/
    std::string diff_id;
    uint64_t size = 0;
  };
  base::Result<Staged> stage(const LayerReader& reader, ContentStore* keep_tar);
  base::Result<LayerInfo> adopt(const Staged& staged, const std::optional<std::string>& parent);
  void discard(const Staged& staged);
  bool has(const std::string& chain_id) const;
  base::Result<LayerInfo> get(const std::string& chain_id) const;
  // Deletes layers whose chain IDs are not in `referenced`; returns how many.
  base::Result<int> gc(const std::set<std::string>& referenced);

  // Creates <root>/mounts/<id>/{diff,work,merged} (and an init layer with the
  // mount points for /etc/hosts, /etc/resolv.conf, /etc/hostname) and returns
  // the overlay of `top_chain_id`'s layer chain under them.
  base::Result<RootfsPlan> prepare_rootfs(const std::string& id,
                                          const std::optional<std::string>& top_chain_id);
  base::Status remove_rootfs(const std::string& id);
  // The diff directories of `top_chain_id`'s chain, top-most first (what
  // inspect's GraphDriver shows); a missing layer ends the list.
  std::vector<std::filesystem::path> chain_dirs(const std::optional<std::string>& top_chain_id) const;

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
