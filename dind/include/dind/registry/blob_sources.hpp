#pragma once
// Where a layer is known to live in registries: for each diff ID, the
// compressed blobs (digest, media type, size) and the repositories
// ("host/path") that hold them, recorded when a pull downloads a layer or a
// push uploads one. A push asks it first: a blob the target repository has
// is not uploaded again ("Layer already exists"), one another repository of
// the same registry has is mounted ("Mounted from"), and a re-push sends the
// same bytes. One small JSON file per diff ID, written atomically; losing
// it only costs an upload.

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::registry {

struct BlobSource {
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  std::string repository;  // "127.0.0.1:5000/team/app"
};

class BlobSources {
 public:
  explicit BlobSources(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::vector<BlobSource> get(const std::string& diff_id) const;
  // Keeps the newest 16 per diff ID.
  base::Status add(const std::string& diff_id, const BlobSource& source);

 private:
  std::filesystem::path file(const std::string& diff_id) const;
  std::filesystem::path dir_;
  mutable std::mutex mu_;
};

}  // namespace dind::registry
