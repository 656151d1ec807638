#include "dind/image/layer_unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::Error;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using Archive = std::unique_ptr<archive, ArchiveDeleter>;

constexpr size_t kBlock = 128 * 1024;

std::string err_text(archive* a, const char* fallback) {
  const char* e = archive_error_string(a);
  return e ? e : fallback;
}

Error bad_entry(const std::string& path, const std::string& why) {
  return make_error(ErrorKind::kInvalidArgument, "layer entry \"" + path + "\": " + why);
}

// Splits a tar path into clean components; refuses "..", over-long names and
// paths. An empty result is the root itself.
Result<std::vector<std::string>> split_path(const std::string& raw) {
  if (raw.size() >= PATH_MAX) {
    return bad_entry(raw.substr(0, 64) + "...", "path longer than PATH_MAX");
  }
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t slash = raw.find('/', pos);
    std::string comp =
        raw.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? raw.size() + 1 : slash + 1;
    if (comp.empty() || comp == ".") {
      continue;
    }
    if (comp == "..") {
      return bad_entry(raw, "\"..\" is not allowed in a layer path");
    }
    if (comp.size() > NAME_MAX) {
      return bad_entry(raw.substr(0, 64) + "...", "a name longer than NAME_MAX");
    }
    out.push_back(std::move(comp));
  }
  return out;
}

std::string join(const std::vector<std::string>& comps, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += (i ? "/" : "") + comps[i];
  }
  return s;
}

// Removes `name` in dirfd, recursively for directories (no symlink is ever
// followed: everything goes through the directory fds).
Status remove_at(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status{} : base::sys_error(errno, "stat " + name);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return base::sys_error(errno, "open " + name);
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return base::sys_error(errno, "opendir " + name);
    }
    std::vector<std::string> children;
    while (dirent* e = ::readdir(d)) {
      std::string c = e->d_name;
      if (c != "." && c != "..") {
        children.push_back(c);
      }
    }
    Status st2;
    for (const auto& c : children) {
      if (st2) {
        st2 = remove_at(::dirfd(d), c);
      }
    }
    ::closedir(d);
    DIND_TRY(st2);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
      return base::sys_error(errno, "rmdir " + name);
    }
    return {};
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) {
    return base::sys_error(errno, "unlink " + name);
  }
  return {};
}

// Opens (creating as needed, mode 0755) the directory `comps[0..n)` under root.
Result<UniqueFd> ensure_parent(int root, const std::vector<std::string>& comps, size_t n) {
  UniqueFd cur(base::open_in_root(root, "", O_PATH | O_DIRECTORY));
  for (size_t i = 0; i < n; ++i) {
    const std::string prefix = join(comps, i + 1);
    UniqueFd next(base::open_in_root(root, prefix, O_PATH | O_DIRECTORY));
    if (!next.valid()) {
      if (errno != ENOENT) {
        return base::sys_error(errno, "open " + prefix);
      }
      // `cur` is the resolved parent; create the missing component in it.
      if (::mkdirat(cur.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return base::sys_error(errno, "mkdir " + prefix);
      }
      next.reset(base::open_in_root(root, prefix, O_PATH | O_DIRECTORY));
      if (!next.valid()) {
        return base::sys_error(errno, "open " + prefix);
      }
    }
    cur = std::move(next);
  }
  return cur;
}

Status apply_xattrs(archive_entry* e, int fd, const std::string& path) {
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    // Only security-neutral namespaces; overlay's own trusted.overlay.* would
    // let a layer forge whiteouts or redirects.
    const std::string n = name;
    if (n.rfind("user.", 0) != 0 && n.rfind("security.capability", 0) != 0) {
      continue;
    }
    if (::fsetxattr(fd, name, value, size, 0) != 0 && errno != ENOTSUP) {
      return base::sys_error(errno, "set xattr " + n + " on " + path);
    }
  }
  return {};
}

// State of the two-stage reader: archive `raw` decompresses, archive `tar`
// parses, and every decompressed byte passes through the hash on the way.
struct Stream {
  archive* raw = nullptr;
  const LayerTee* tee = nullptr;
  base::Sha256 hash;
  uint64_t bytes = 0;
  std::vector<char> buf = std::vector<char>(kBlock);
  bool failed = false;
  std::string error;
};

la_ssize_t pull(archive* self, void* client, const void** out) {
  auto* s = static_cast<Stream*>(client);
  la_ssize_t n = archive_read_data(s->raw, s->buf.data(), s->buf.size());
  if (n < 0) {
    s->failed = true;
    s->error = archive_error_string(s->raw) ? archive_error_string(s->raw) : "decompression failed";
    archive_set_error(self, EIO, "%s", s->error.c_str());
    return -1;
  }
  const std::string_view chunk(s->buf.data(), static_cast<size_t>(n));
  s->hash.update(chunk);
  s->bytes += static_cast<uint64_t>(n);
  if (s->tee && *s->tee && n > 0) {
    if (auto st = (*s->tee)(chunk); !st) {
      s->failed = true;
      s->error = st.error().message;
      archive_set_error(self, EIO, "%s", s->error.c_str());
      return -1;
    }
  }
  *out = s->buf.data();
  return n;
}

Status write_file_data(archive* a, int fd, const std::string& path) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    int r = archive_read_data_block(a, &block, &size, &offset);
    if (r == ARCHIVE_EOF) {
      return {};
    }
    if (r != ARCHIVE_OK) {
      return bad_entry(path, err_text(a, "truncated data"));
    }
    const char* p = static_cast<const char*>(block);
    while (size > 0) {
      ssize_t n = ::pwrite(fd, p, size, offset);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return base::sys_error(errno, "write " + path);
      }
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
}

struct DirTime {
  std::vector<std::string> path;
  timespec mtime;
};

// Opens the directory at a relative path below the unpacking's top,
// creating missing components: under a root fd (RESOLVE_IN_ROOT), or
// through UnpackOptions::open_dir.
struct Dirs {
  int root = -1;
  const UnpackOptions* options = nullptr;
  Result<UniqueFd> open(const std::vector<std::string>& comps, size_t n) const {
    if (options->open_dir) {
      return options->open_dir(join(comps, n));
    }
    return ensure_parent(root, comps, n);
  }
};

Status unpack_entry(archive* a, archive_entry* e, const Dirs& dirs, std::vector<DirTime>& dir_times,
                    const UnpackOptions& options) {
  const char* raw_name = archive_entry_pathname(e);
  if (raw_name == nullptr) {
    return make_error(ErrorKind::kInvalidArgument, "layer entry without a path");
  }
  const std::string path = raw_name;
  auto comps = split_path(path);
  if (!comps) {
    return std::move(comps).error();
  }
  if (comps->empty()) {
    return {};  // "./": the layer root itself
  }
  const std::string name = comps->back();
  if (options.skip && options.skip(join(*comps, comps->size()), archive_entry_filetype(e) == AE_IFDIR)) {
    return {};
  }
  auto parent = dirs.open(*comps, comps->size() - 1);
  if (!parent) {
    return std::move(parent).error().with_context("layer entry \"" + path + "\"");
  }
  const int pfd = parent->get();

  // Whiteouts (in layers; a build context or an ADDed tar has plain files).
  if (options.whiteouts && name == ".wh..wh..opq") {
    UniqueFd dir(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid() || ::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return base::sys_error(errno, "mark " + path + " opaque");
    }
    return {};
  }
  if (options.whiteouts && name.rfind(".wh.", 0) == 0) {
    const std::string hidden = name.substr(4);
    if (hidden.empty() || hidden == "." || hidden == "..") {
      return bad_entry(path, "malformed whiteout");
    }
    DIND_TRY(remove_at(pfd, hidden));
    if (::mknodat(pfd, hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
      return base::sys_error(errno, "whiteout " + path);
    }
    return {};
  }

  const mode_t type = archive_entry_filetype(e);
  const mode_t perm = archive_entry_perm(e);
  struct stat existing {};
  const bool exists = ::fstatat(pfd, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  // Replace whatever is there, except a directory by a directory.
  const bool keep_dir = exists && S_ISDIR(existing.st_mode) && type == AE_IFDIR;
  if (exists && options.no_overwrite_dir_non_dir && S_ISDIR(existing.st_mode) != (type == AE_IFDIR)) {
    return make_error(ErrorKind::kInvalidArgument,
                      S_ISDIR(existing.st_mode)
                          ? "cannot overwrite directory \"" + path + "\" with non-directory"
                          : "cannot overwrite non-directory \"" + path + "\" with directory");
  }
  if (exists && !keep_dir) {
    DIND_TRY(remove_at(pfd, name));
  }
  const uid_t uid = options.owner ? options.owner->first : static_cast<uid_t>(archive_entry_uid(e));
  const gid_t gid = options.owner ? options.owner->second : static_cast<gid_t>(archive_entry_gid(e));
  timespec times[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                       {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};

  if (const char* link = archive_entry_hardlink(e)) {
    auto target = split_path(link);
    if (!target) {
      return std::move(target).error();
    }
    if (target->empty()) {
      return bad_entry(path, "hard link to the top directory");
    }
    auto tdir = dirs.open(*target, target->size() - 1);
    UniqueFd tfd(tdir ? ::openat(tdir->get(), target->back().c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1);
    if (!tfd.valid()) {
      return bad_entry(path, std::string("hard link target \"") + link + "\" is not in the layer");
    }
    struct stat tst {};
    if (::fstat(tfd.get(), &tst) != 0 || S_ISDIR(tst.st_mode)) {
      return bad_entry(path, "hard link to a directory");
    }
    if (::linkat(tfd.get(), "", pfd, name.c_str(), AT_EMPTY_PATH) != 0) {
      return base::sys_error(errno, "link " + path);
    }
    return {};
  }

  switch (type) {
    case AE_IFDIR: {
      if (!keep_dir && ::mkdirat(pfd, name.c_str(), 0700) != 0) {
        return base::sys_error(errno, "mkdir " + path);
      }
      UniqueFd d(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d.valid() || ::fchown(d.get(), uid, gid) != 0 || ::fchmod(d.get(), perm) != 0) {
        return base::sys_error(errno, "set up directory " + path);
      }
      DIND_TRY(apply_xattrs(e, d.get(), path));
      // Children change a directory's mtime: set it at the end.
      dir_times.push_back({*comps, times[1]});
      return {};
    }
    case AE_IFREG: {
      UniqueFd f(
          ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f.valid()) {
        return base::sys_error(errno, "create " + path);
      }
      DIND_TRY(write_file_data(a, f.get(), path));
      if (::ftruncate(f.get(), archive_entry_size(e)) != 0 || ::fchown(f.get(), uid, gid) != 0 ||
          ::fchmod(f.get(), perm) != 0) {  // chmod after chown: chown clears set-id bits
        return base::sys_error(errno, "set up file " + path);
      }
      DIND_TRY(apply_xattrs(e, f.get(), path));
      if (::futimens(f.get(), times) != 0) {
        return base::sys_error(errno, "set times on " + path);
      }
      return {};
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      // The target text is stored as is: it is only ever resolved inside a
      // container, or here through RESOLVE_IN_ROOT.
      if (target == nullptr || ::symlinkat(target, pfd, name.c_str()) != 0) {
        return base::sys_error(errno, "symlink " + path);
      }
      break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      const dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (::mknodat(pfd, name.c_str(), type | perm, type == AE_IFIFO ? 0 : dev) != 0) {
        return base::sys_error(errno, "mknod " + path);
      }
      if (::fchmodat(pfd, name.c_str(), perm, 0) != 0) {
        return base::sys_error(errno, "chmod " + path);
      }
      break;
    }
    case AE_IFSOCK:
      return {};  // sockets are not archived meaningfully; skip as tar does
    default:
      return bad_entry(path, "unsupported entry type");
  }
  if (::fchownat(pfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::utimensat(pfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return base::sys_error(errno, "set owner/times on " + path);
  }
  return {};
}

}  // namespace

namespace {


}  // namespace

namespace {

la_ssize_t read_source(archive* a, void* client, const void** out) {
  auto* src = static_cast<ArchiveSource*>(client);
  const ssize_t n = (*src->reader)(src->buf.data(), src->buf.size());
  if (n < 0) {
    archive_set_error(a, EIO, "reading %s failed", src->what);
    return -1;
  }
  *out = src->buf.data();
  return n;
}

}  // namespace

int open_archive_source(archive* a, ArchiveSource& source) {
  return archive_read_open(a, &source, nullptr, read_source, nullptr);
}

LayerReader fd_reader(int fd) {
  return [fd](void* buf, size_t len) -> ssize_t {
    for (;;) {
      ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n;
    }
  };
}

namespace {

// Opens `source` (which must outlive the reads) as libarchive's one "raw"
// entry: the stream after whatever compression filter it has. `what`
// prefixes the errors ("layer", "blob").
base::Status open_raw(archive* a, ArchiveSource& source, const std::string& what) {
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  if (open_archive_source(a, source) != ARCHIVE_OK) {
    return make_error(ErrorKind::kInvalidArgument, what + ": " + err_text(a, "unreadable"));
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a, &entry) != ARCHIVE_OK) {
    return make_error(ErrorKind::kInvalidArgument, what + ": empty or unreadable stream");
  }
  return {};
}

}  // namespace

base::Status decompress_stream(const LayerReader& reader, const LayerTee& sink) {
  Archive raw(archive_read_new());
  ArchiveSource rs{&reader, "the blob"};
  DIND_TRY(open_raw(raw.get(), rs, "blob"));
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const la_ssize_t n = archive_read_data(raw.get(), buf.data(), buf.size());
    if (n < 0) {
      return make_error(ErrorKind::kInvalidArgument, "blob: " + err_text(raw.get(), "bad data"));
    }
    if (n == 0) {
      return {};
    }
    DIND_TRY(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
}

Result<UnpackResult> unpack_layer(int fd, const fs::path& dir, const LayerTee& tee) {
  return unpack_layer(fd_reader(fd), dir, tee);
}

Result<UnpackResult> unpack_layer(const LayerReader& reader, const fs::path& dir,
                                  const LayerTee& tee) {
  return unpack_tree(reader, dir, UnpackOptions{}, tee);
}

namespace {

Result<UnpackResult> unpack_with(const LayerReader& reader, const Dirs& dirs,
                                 const UnpackOptions& options, const LayerTee& tee) {
  Archive raw(archive_read_new());
  ArchiveSource rs{&reader, "the layer"};
  DIND_TRY(open_raw(raw.get(), rs, "layer"));
  Stream stream;
  stream.raw = raw.get();
  stream.tee = &tee;
  Archive tar(archive_read_new());
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), &stream, nullptr, pull, nullptr) != ARCHIVE_OK) {
    return make_error(ErrorKind::kInvalidArgument,
                      "layer is not a tar archive: " + err_text(tar.get(), ""));
  }
  UnpackResult result;
  std::vector<DirTime> dir_times;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "layer: " + (stream.failed ? stream.error : err_text(tar.get(), "bad tar")));
    }
    DIND_TRY(unpack_entry(tar.get(), e, dirs, dir_times, options));
    ++result.entries;
  }
  // The diff ID covers the whole uncompressed stream, padding after the
  // end-of-archive blocks included.
  const void* out = nullptr;
  while (pull(tar.get(), &stream, &out) > 0) {
  }
  if (stream.failed) {
    return make_error(ErrorKind::kInvalidArgument, "layer: " + stream.error);
  }
  for (auto it = dir_times.rbegin(); it != dir_times.rend(); ++it) {
    auto d = dirs.open(it->path, it->path.size());
    timespec times[2] = {it->mtime, it->mtime};
    if (d) {
      // An O_PATH fd takes no futimens: through its /proc/self/fd link.
      (void)::utimensat(AT_FDCWD, ("/proc/self/fd/" + std::to_string(d->get())).c_str(), times, 0);
    }
  }
  result.diff_id = stream.hash.digest();
  result.bytes = stream.bytes;
  return result;
}


}  // namespace

Result<UnpackResult> unpack_tree(const LayerReader& reader, const fs::path& dir,
                                 const UnpackOptions& options, const LayerTee& tee) {
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return base::sys_error(errno, "open layer directory " + dir.string());
  }
  return unpack_with(reader, Dirs{root.get(), &options}, options, tee);
}

Result<UnpackResult> unpack_into(const LayerReader& reader, const UnpackOptions& options) {
  if (!options.open_dir) {
    return make_error(ErrorKind::kInternal, "unpack_into without open_dir");
  }
  return unpack_with(reader, Dirs{-1, &options}, options, {});
}

}  // namespace dind::image
