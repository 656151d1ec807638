#pragma once
// Where a layer is known to live as a compressed blob: for each diff ID, the
// blobs (digest, media type, size) and the repositories ("host/path") that
// hold them, recorded when a pull downloads a layer or a push uploads one,
// and the compressed blob a pull kept in the content store (repository "":
// the layer's bytes as the registry served them, which save decompresses
// and push uploads as they are). A push asks it first: a blob the target repository has
// is not uploaded again ("Layer already exists"), one another repository of
// the same registry has is mounted ("Mounted from"), and a re-push sends the
// same bytes. One small JSON file per diff ID, written atomically; losing
// it only costs an upload.

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::image {

struct BlobSource {
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  std::string repository;  // "127.0.0.1:5000/team/app"; "" = in the local content store
};

class BlobSources {
 public:
  // Removes the writes the last run's end cut in dir.
  explicit BlobSources(std::filesystem::path dir);
  std::vector<BlobSource> get(const std::string& diff_id) const;
  // Keeps the newest 16 per diff ID.
  base::Status add(const std::string& diff_id, const BlobSource& source);
  // Forgets the layers not in `live_diff_ids` (after an image removal).
  void gc(const std::set<std::string>& live_diff_ids);
  // The compressed blob of this layer kept in the content store, if any.
  std::optional<BlobSource> local(const std::string& diff_id) const;

 private:
  std::filesystem::path file(const std::string& diff_id) const;
  std::filesystem::path dir_;
  mutable std::mutex mu_;
};

class ContentStore;
// Makes sure the content store holds the uncompressed tar of `diff_id`
// (docker save and push read it): from the compressed blob a pull kept, when
// the tar is not there yet. kNotFound when neither exists.
base::Status ensure_layer_tar(const std::string& diff_id, const ContentStore& content,
                              const BlobSources* sources);

}  // namespace dind::image
