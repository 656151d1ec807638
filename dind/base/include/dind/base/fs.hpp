#pragma once
// File-system primitives with the project's safety rules built in: every fd is
// O_CLOEXEC and owned by a UniqueFd; state files are written to a temp name in
// the target directory, fsynced, chmod-ed explicitly (umask never decides a
// mode) and renamed into place, so a reader sees the old bytes or the new ones.

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::base {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Reads `fd` to its end in chunks of up to 256 KiB (EINTR retried), handing
// each to `sink`; a sink error stops it. `what` names the file in errors.
Status read_chunks(int fd, const std::function<Status(std::string_view)>& sink,
                   const std::string& what);
// The names in the directory `dirfd` (any descriptor of it, O_PATH too),
// without "." and "..", sorted.
Result<std::vector<std::string>> list_dir(int dirfd);
// What `fd` reads until its end, a read error or about max_bytes (the
// loop stops once that much is in): files of a container, best effort.
std::string read_up_to(int fd, size_t max_bytes);
// Reads a whole regular file, refusing files larger than max_bytes.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes = 16u << 20);

// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) below the directory fd
// `root`: "/", ".." and symlinks (absolute or not) resolve as if `root` were
// "/", so nothing outside it is reached (CVE-2019-5736-style escapes through
// container content). "" opens the root itself. -1 with errno on failure;
// O_CLOEXEC is always added.
int open_in_root(int root, const std::string& path, int flags);
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) with O_PATH|O_NOFOLLOW: the
// path as it literally is below `dir`, no symlink followed on the way (the
// last component may be one). -1 with errno when absent or not literal.
int open_literal_beneath(int dir, const std::string& path);

// Writes data to path atomically with exactly the given mode.
Status write_file_atomic(const std::filesystem::path& path, std::string_view data, mode_t mode);

// A temp file write_file_atomic or a FileTransaction leaves when the process
// dies mid-write: ".<name>.tmp-" and ten letters or digits.
bool is_interrupted_write(std::string_view file_name);

// Removes the interrupted writes (regular files only) directly in dir, not
// in its subdirectories; the stores call it on their state directories at
// start. Returns how many went.
size_t remove_interrupted_writes(const std::filesystem::path& dir);

// fsync()s a directory so that renames inside it are durable.
Status fsync_dir(const std::filesystem::path& dir);

// A multi-file write that lands all or nothing (as far as POSIX allows):
// stage() writes and fsyncs each file under a temp name and creates missing
// parent directories; commit() renames the staged files in staging order and
// fsyncs their directories. Dropping an uncommitted transaction removes the
// temp files and every directory it created, leaving the tree as it was.
// Not thread-safe; one owner.
class FileTransaction {
 public:
  FileTransaction() = default;
  FileTransaction(const FileTransaction&) = delete;
  FileTransaction& operator=(const FileTransaction&) = delete;
  ~FileTransaction();

  // Creates dir (and missing parents) with mode, recording what was created.
  Status ensure_dir(const std::filesystem::path& dir, mode_t mode);
  Status stage(const std::filesystem::path& path, std::string_view data, mode_t mode);
  // Applies a mode change to an existing file at commit time.
  void stage_chmod(const std::filesystem::path& path, mode_t mode);
  Status commit();

  const std::vector<std::filesystem::path>& staged_paths() const { return targets_; }

 private:
  void rollback() noexcept;

  std::vector<std::filesystem::path> created_dirs_;
  std::vector<std::filesystem::path> temps_;
  std::vector<std::filesystem::path> targets_;
  std::vector<std::pair<std::filesystem::path, mode_t>> chmods_;
  bool done_ = false;
};

// A fresh directory under $TMPDIR (or /tmp) removed recursively on drop.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "dind");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace dind::base
