#pragma once
// docker save / docker load archives. save writes the layout Docker 25 writes
// (an OCI image layout plus the legacy manifest.json), which every docker
// load since 1.10 reads; load reads that, plain OCI layouts (index.json only)
// and the pre-25 layout (<id>/layer.tar), gzip-compressed or not, in one
// streaming pass: layers are unpacked as they pass by and adopted once the
// manifest is known.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dind/image/image_store.hpp"

namespace dind::image {

struct SaveItem {
  std::string id;
  std::vector<std::string> repo_tags;  // familiar references to record
};

// Writes the archive through `sink` (a short write or error aborts).
using ArchiveSink = std::function<base::Status(std::string_view)>;
base::Status save_images(const std::vector<SaveItem>& items, const ImageStore& images,
                         const ContentStore& content, const ArchiveSink& sink);

struct LoadedLayer {
  std::string chain_id;
  uint64_t bytes = 0;  // uncompressed tar size
};
struct Loaded {
  std::string id;
  std::vector<std::string> repo_tags;   // familiar
  std::vector<LoadedLayer> new_layers;  // layers this load added, base first
};
base::Result<std::vector<Loaded>> load_images(const LayerReader& reader, ImageStore& images,
                                              LayerStore& layers, ContentStore& content);

}  // namespace dind::image
