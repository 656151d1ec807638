#pragma once
// Images and references: an image is its config blob (ID = the config's
// digest) whose rootfs.diff_ids name registered layers; references map
// "docker.io/library/busybox:latest" to image IDs. State: the configs in the
// content store, the image set and references in <root>/repositories.json
// (atomic, versioned). Thread-safe (one mutex; operations are short).

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/image/blob_sources.hpp"
#include "dind/image/content_store.hpp"
#include "dind/image/layer_store.hpp"
#include "dind/image/reference.hpp"

namespace dind::image {

struct ImageSummary {
  std::string id;
  std::vector<std::string> repo_tags;     // familiar form, "busybox:latest"
  std::vector<std::string> repo_digests;  // familiar form, "busybox@sha256:..."
  int64_t created = 0;                    // unix seconds, from the config
  int64_t tagged = 0;                     // last tag time
  uint64_t size = 0;                      // sum of the layers' sizes
  std::string config;                     // the raw config JSON
  std::vector<std::string> diff_ids;
  std::optional<std::string> top_layer;  // chain ID
  std::string parent;                    // the image it was built on, "" when none
  bool has_children = false;             // other images were built on it
};

class ImageStore {
 public:
  static base::Result<std::unique_ptr<ImageStore>> open(const std::filesystem::path& root,
                                                        ContentStore& content, LayerStore& layers);

  // Stores a config whose layers are all registered; returns the image ID.
  // `parent`: the image it was built on (a build step's or commit's base),
  // kept as metadata as dockerd does (the builder's cache looks up children).
  base::Result<std::string> add(const std::string& config_json,
                                const std::optional<std::string>& parent = {});
  // The recorded parent ("" when none) and the children of an image.
  std::string parent(const std::string& id) const;
  std::vector<std::string> children(const std::string& id) const;
  // Points a tag (or digest) reference at an image, replacing an older one.
  base::Status tag(const Reference& ref, const std::string& id);
  // Resolves a reference, a full ID or an unambiguous ID prefix. kNotFound
  // carries Docker's "No such image: <name>".
  base::Result<std::string> resolve(std::string_view name) const;
  base::Result<ImageSummary> get(const std::string& id) const;
  std::vector<ImageSummary> list() const;

  struct Removal {
    std::vector<std::string> untagged;  // familiar references
    std::vector<std::string> deleted;   // image IDs
  };
  // docker rmi: by reference, untag it and delete the image when no other
  // reference remains; by ID, delete if it has at most one repository's tags
  // (or force). `in_use` says whether a container uses an image (409). An
  // image with children is only untagged (by ID: 409, as dockerd); a deleted
  // image's parents that are left untagged and childless go too (the
  // builder's intermediate images).
  // in_use: the ID of a container using the image, if any.
  using InUse = std::function<std::optional<std::string>(const std::string& image_id)>;
  base::Result<Removal> remove(std::string_view name, bool force, const InUse& in_use);
  // docker builder prune: images the builder made (they have a recorded
  // parent) that nothing holds any more (no reference, no child, no
  // container): a failed build's last step, a build whose tag moved on.
  // `reclaimed`: the bytes of the layers that went with them.
  base::Result<Removal> prune_built(const InUse& in_use, uint64_t& reclaimed);
  // Layers referenced by any image (for layer gc).
  std::set<std::string> referenced_layers() const;
  // The kept compressed blobs of live layers survive the blob gc of remove.
  void set_blob_sources(BlobSources* sources) { blob_sources_ = sources; }
  const BlobSources* blob_sources() const { return blob_sources_; }

 private:
  base::Status save_locked() const;
  base::Result<ImageSummary> summary_locked(const std::string& id) const;
  base::Result<std::string> resolve_locked(std::string_view name) const;
  // Whether something keeps a parent of a deleted image: a reference, a
  // child, a container.
  bool prunable_holds_locked(const std::string& id, const InUse& in_use) const;
  // Layers, configs and kept blobs no image references any more.
  void collect_garbage();

  std::filesystem::path root_;
  ContentStore* content_ = nullptr;
  LayerStore* layers_ = nullptr;
  BlobSources* blob_sources_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> images_;     // id -> time added
  std::map<std::string, std::string> refs_;   // full reference -> id
  std::map<std::string, int64_t> tag_times_;  // id -> last tag time
  std::map<std::string, std::string> parents_;  // id -> parent id (built images)
};

}  // namespace dind::image
