#include "dind/image/content_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "dind/base/text.hpp"
#include "dind/image/reference.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

namespace {
std::string temp_name() {
  return "ingest-" + base::random_hex(16);
}
}  // namespace

Result<ContentStore> ContentStore::open(const fs::path& root) {
  base::FileTransaction tx;
  DIND_TRY(tx.ensure_dir(root / "blobs" / "sha256", 0700));
  DIND_TRY(tx.ensure_dir(root / "ingest", 0700));
  DIND_TRY(tx.commit());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "ingest", ec)) {
    fs::remove(e.path(), ec);  // an interrupted write from before a crash
  }
  ContentStore s;
  s.root_ = root;
  return s;
}

fs::path ContentStore::path(const std::string& digest) const {
  return root_ / "blobs" / "sha256" / digest.substr(7);
}

bool ContentStore::has(const std::string& digest) const {
  struct stat st {};
  return valid_digest(digest) && ::stat(path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<ContentStore::Writer> ContentStore::writer(std::optional<std::string> expected_digest,
                                                  std::optional<uint64_t> expected_size,
                                                  bool durable) const {
  if (expected_digest && !valid_digest(*expected_digest)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid digest \"" + *expected_digest + "\"");
  }
  Writer w;
  w.store_ = this;
  w.temp_ = root_ / "ingest" / temp_name();
  w.fd_.reset(::open(w.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!w.fd_.valid()) {
    return base::sys_error(errno, "create " + w.temp_.string());
  }
  w.expected_digest_ = std::move(expected_digest);
  w.expected_size_ = expected_size;
  w.durable_ = durable;
  return w;
}

ContentStore::Writer::~Writer() {
  if (!done_ && !temp_.empty()) {
    ::unlink(temp_.c_str());
  }
}

Status ContentStore::Writer::write(std::string_view chunk) {
  if (expected_size_ && size_ + chunk.size() > *expected_size_) {
    return make_error(ErrorKind::kInvalidArgument, "blob is larger than the expected " +
                                                       std::to_string(*expected_size_) + " bytes");
  }
  hash_.update(chunk);
  size_ += chunk.size();
  while (!chunk.empty()) {
    ssize_t n = ::write(fd_.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return base::sys_error(errno, "write " + temp_.string());
    }
    chunk.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> ContentStore::Writer::commit() {
  done_ = true;
  auto fail = [&](base::Error e) -> Result<std::string> {
    ::unlink(temp_.c_str());
    return e;
  };
  const std::string digest = hash_.digest();
  if (expected_size_ && size_ != *expected_size_) {
    return fail(make_error(ErrorKind::kInvalidArgument,
                           "size mismatch: expected " + std::to_string(*expected_size_) +
                               " bytes, got " + std::to_string(size_)));
  }
  if (expected_digest_ && digest != *expected_digest_) {
    return fail(make_error(ErrorKind::kInvalidArgument,
                           "digest mismatch: expected " + *expected_digest_ + ", got " + digest));
  }
  if (durable_ && ::fsync(fd_.get()) != 0) {
    return fail(base::sys_error(errno, "fsync " + temp_.string()));
  }
  fd_.reset();
  const fs::path target = store_->path(digest);
  if (::rename(temp_.c_str(), target.c_str()) != 0) {
    return fail(base::sys_error(errno, "rename into " + target.string()));
  }
  if (durable_) {
    DIND_TRY(base::fsync_dir(target.parent_path()));
  }
  return digest;
}

Result<std::string> ContentStore::put(std::string_view data) const {
  auto w = writer();
  if (!w) {
    return std::move(w).error();
  }
  DIND_TRY(w->write(data));
  return w->commit();
}

Result<std::string> ContentStore::read(const std::string& digest, size_t max_bytes) const {
  if (!valid_digest(digest)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid digest \"" + digest + "\"");
  }
  auto data = base::read_file(path(digest), max_bytes);
  if (!data) {
    if (data.error().sys_errno == ENOENT) {
      return make_error(ErrorKind::kNotFound, "blob " + digest + " not found");
    }
    return std::move(data).error();
  }
  // Blobs are verified on write; a changed file on disk is corruption.
  if (base::sha256_digest(*data) != digest) {
    return make_error(ErrorKind::kDataLoss, "blob " + digest + " is corrupt on disk");
  }
  return data;
}

Status ContentStore::remove(const std::string& digest) const {
  if (!valid_digest(digest)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid digest \"" + digest + "\"");
  }
  if (::unlink(path(digest).c_str()) != 0) {
    return base::sys_error(errno, "remove blob " + digest);
  }
  return {};
}

Result<int> ContentStore::gc(const std::set<std::string>& referenced) const {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "blobs" / "sha256", ec)) {
    const std::string digest = "sha256:" + e.path().filename().string();
    if (!referenced.count(digest)) {
      if (fs::remove(e.path(), ec)) {
        ++removed;
      }
    }
  }
  if (ec) {
    return make_error(base::kind_from_errno(ec.value()), "content store gc: " + ec.message());
  }
  return removed;
}

}  // namespace dind::image
