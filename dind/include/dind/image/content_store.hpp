#pragma once
// The content store: blobs addressed by their sha256 digest under
// <root>/blobs/sha256/<hex>. Writes stream through a Writer that hashes as it
// goes and lands the blob only if digest (and size, when known) match; a
// failed or abandoned write leaves nothing behind. Blobs are immutable.
// Thread-safe for distinct digests; concurrent writers of one digest are fine
// (the last rename wins, the bytes are identical).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"

namespace dind::image {

class ContentStore {
 public:
  // Creates <root>/blobs/sha256 and <root>/ingest if needed; clears stale
  // ingest files left by a crash.
  static base::Result<ContentStore> open(const std::filesystem::path& root);

  class Writer {
   public:
    Writer(Writer&&) noexcept = default;
    Writer& operator=(Writer&&) noexcept = default;
    ~Writer();
    base::Status write(std::string_view chunk);
    // Verifies and lands the blob; returns its digest.
    base::Result<std::string> commit();
    uint64_t size() const { return size_; }

   private:
    friend class ContentStore;
    Writer() = default;
    const ContentStore* store_ = nullptr;
    base::UniqueFd fd_;
    std::filesystem::path temp_;
    base::Sha256 hash_;
    uint64_t size_ = 0;
    std::optional<std::string> expected_digest_;
    std::optional<uint64_t> expected_size_;
    bool durable_ = true;
    bool done_ = false;
  };

  // expected_digest: refuse anything else at commit (a registry stream);
  // expected_size: refuse a blob of another size (checked while writing).
  // durable: fsync the blob before it lands (configs, manifests). Bulk data
  // that is verified by digest whenever it is read back (layer tars) skips
  // that flush, as Docker does for layer data.
  base::Result<Writer> writer(std::optional<std::string> expected_digest = {},
                              std::optional<uint64_t> expected_size = {},
                              bool durable = true) const;
  base::Result<std::string> put(std::string_view data) const;  // small blobs (configs)

  bool has(const std::string& digest) const;
  std::filesystem::path path(const std::string& digest) const;  // digest must be valid
  base::Result<std::string> read(const std::string& digest, size_t max_bytes = 64u << 20) const;
  base::Status remove(const std::string& digest) const;
  // Removes every blob not in `referenced`; returns how many.
  base::Result<int> gc(const std::set<std::string>& referenced) const;

 private:
  std::filesystem::path root_;
};

}  // namespace dind::image
