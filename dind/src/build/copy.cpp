#include "copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"
#include "dind/image/layer_unpack.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

// A new descriptor of what `fd` (an O_PATH one too) refers to.
int reopen(int fd, int flags) {
  return ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), flags | O_CLOEXEC);
}

bool has_meta(const std::string& s) {
  return s.find_first_of("*?[\\") != std::string::npos;
}

// "./a//b/" -> {"a","b"}; nullopt when ".." climbs above the root.
std::optional<std::vector<std::string>> clean_components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    const size_t j = std::min(path.find('/', i), path.size());
    const std::string c = path.substr(i, j - i);
    if (c == "..") {
      if (out.empty()) {
        return std::nullopt;
      }
      out.pop_back();
    } else if (!c.empty() && c != ".") {
      out.push_back(c);
    }
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < parts.size(); ++i) {
    s += (i ? "/" : "") + parts[i];
  }
  return s;
}


bool ignored(const SourceRoot& root, const std::string& rel) {
  return root.ignore != nullptr && !rel.empty() && root.ignore->ignored(rel);
}

// Whether a walk must look below an ignored directory (an exception may
// re-include something there).
bool descend_ignored(const SourceRoot& root) {
  return root.ignore != nullptr && root.ignore->has_exceptions();
}

// Whether a copy leaves the child `name` of `dirfd` (context path `rel`) out.
bool skip_child(const SourceRoot& root, int dirfd, const std::string& name, const std::string& rel) {
  if (!ignored(root, rel)) {
    return false;
  }
  struct stat st {};
  const bool is_dir = ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  return !is_dir || !descend_ignored(root);
}

// Expands one (cleaned) pattern's components from `i` on below `prefix`.
Status glob(const SourceRoot& root, const std::vector<std::string>& comps, size_t i,
            const std::string& prefix, std::vector<std::string>& out) {
  if (i == comps.size()) {
    out.push_back(prefix);
    return {};
  }
  UniqueFd dir(base::open_in_root(root.fd, prefix, O_RDONLY | O_DIRECTORY));
  if (!dir.valid()) {
    return {};
  }
  if (!has_meta(comps[i])) {
    const std::string next = prefix.empty() ? comps[i] : prefix + "/" + comps[i];
    struct stat st {};
    if (::fstatat(dir.get(), comps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return glob(root, comps, i + 1, next, out);
    }
    return {};
  }
  auto names = base::list_dir(dir.get());
  if (!names) {
    return std::move(names).error();
  }
  for (const auto& n : *names) {
    auto m = match_component(comps[i], n);
    if (!m) {
      return std::move(m).error();
    }
    if (*m) {
      DIND_TRY(glob(root, comps, i + 1, prefix.empty() ? n : prefix + "/" + n, out));
    }
  }
  return {};
}

// One entry's metadata line, then its content (files) or children (dirs).
Status hash_tree(const SourceRoot& root, int dirfd, const std::string& name,
                 const std::string& rel, const std::string& shown, base::Sha256& h) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) !=
      0) {
    return base::sys_error(errno, "stat " + rel);
  }
  std::string line = shown + "\n" + std::to_string(st.st_mode) + "\n";
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    const ssize_t n = ::readlinkat(dirfd, name.c_str(), target, sizeof target);
    line += std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
  }
  h.update(line + "\n");
  if (S_ISREG(st.st_mode)) {
    UniqueFd f(name.empty() ? reopen(dirfd, O_RDONLY)
                            : ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!f.valid()) {
      return base::sys_error(errno, "open " + rel);
    }
    return base::read_chunks(
        f.get(),
        [&h](std::string_view chunk) {
          h.update(chunk);
          return Status{};
        },
        rel);
  }
  if (!S_ISDIR(st.st_mode)) {
    return {};
  }
  UniqueFd d(name.empty() ? reopen(dirfd, O_RDONLY | O_DIRECTORY)
                          : ::openat(dirfd, name.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d.valid()) {
    return base::sys_error(errno, "open " + rel);
  }
  auto names = base::list_dir(d.get());
  if (!names) {
    return std::move(names).error();
  }
  for (const auto& n : *names) {
    const std::string child = rel.empty() ? n : rel + "/" + n;
    if (ignored(root, child) && !descend_ignored(root)) {
      continue;
    }
    DIND_TRY(hash_tree(root, d.get(), n, child, shown + "/" + n, h));
  }
  return {};
}

struct Owner {
  uid_t uid;
  gid_t gid;
  std::optional<mode_t> chmod;
};

Status copy_bytes(int in, int out, const std::string& rel) {
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      break;  // another file system: read and write
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return base::sys_error(errno, "copy " + rel);
    }
    if (n == 0) {
      return {};
    }
  }
  return base::read_chunks(
      in,
      [&](std::string_view chunk) -> Status {
        while (!chunk.empty()) {
          const ssize_t w = ::write(out, chunk.data(), chunk.size());
          if (w < 0 && errno == EINTR) {
            continue;
          }
          if (w < 0) {
            return base::sys_error(errno, "write " + rel);
          }
          chunk.remove_prefix(static_cast<size_t>(w));
        }
        return {};
      },
      rel);
}

// Removes what is at dest_dir/name unless it is a directory and `keep_dir`.
Status clear_slot(int dest_dir, const std::string& name, bool keep_dir) {
  struct stat st {};
  if (::fstatat(dest_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return {};
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) {
      return {};
    }
    return make_error(ErrorKind::kFailedPrecondition,
                      "cannot overwrite directory \"" + name + "\" with non-directory");
  }
  if (::unlinkat(dest_dir, name.c_str(), 0) != 0) {
    return base::sys_error(errno, "replace " + name);
  }
  return {};
}

// Copies src_dir/name (name "" = src_dir itself, a file) to dest_dir/dest_name.
Status copy_entry(const SourceRoot& root, int src_dir, const std::string& name,
                  const std::string& rel, int dest_dir, const std::string& dest_name,
                  const Owner& owner) {
  struct stat st {};
  const int flags = name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW;
  if (::fstatat(src_dir, name.c_str(), &st, flags) != 0) {
    return base::sys_error(errno, "stat " + rel);
  }
  const timespec times[2] = {st.st_mtim, st.st_mtim};
  const mode_t mode = owner.chmod ? *owner.chmod : (st.st_mode & 07777);
  if (S_ISDIR(st.st_mode)) {
    DIND_TRY(clear_slot(dest_dir, dest_name, true));
    if (::mkdirat(dest_dir, dest_name.c_str(), 0700) != 0 && errno != EEXIST) {
      return base::sys_error(errno, "mkdir " + dest_name);
    }
    UniqueFd out(::openat(dest_dir, dest_name.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd in(name.empty() ? reopen(src_dir, O_RDONLY | O_DIRECTORY)
                             : ::openat(src_dir, name.c_str(),
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!out.valid() || !in.valid()) {
      return base::sys_error(errno, "open directory " + rel);
    }
    auto names = base::list_dir(in.get());
    if (!names) {
      return std::move(names).error();
    }
    for (const auto& n : *names) {
      const std::string child = rel.empty() ? n : rel + "/" + n;
      if (skip_child(root, in.get(), n, child)) {
        continue;
      }
      DIND_TRY(copy_entry(root, in.get(), n, child, out.get(), n, owner));
    }
    if (::fchown(out.get(), owner.uid, owner.gid) != 0 || ::fchmod(out.get(), mode) != 0 ||
        ::futimens(out.get(), times) != 0) {
      return base::sys_error(errno, "set up directory " + dest_name);
    }
    return {};
  }
  DIND_TRY(clear_slot(dest_dir, dest_name, false));
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    const ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
    if (n < 0) {
      return base::sys_error(errno, "readlink " + rel);
    }
    target.resize(static_cast<size_t>(n));
    if (::symlinkat(target.c_str(), dest_dir, dest_name.c_str()) != 0 ||
        ::fchownat(dest_dir, dest_name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 ||
        ::utimensat(dest_dir, dest_name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return base::sys_error(errno, "symlink " + dest_name);
    }
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    return {};  // devices, fifos and sockets of a context are not copied
  }
  UniqueFd in(name.empty() ? reopen(src_dir, O_RDONLY)
                           : ::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd out(::openat(dest_dir, dest_name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!in.valid() || !out.valid()) {
    return base::sys_error(errno, "copy " + rel);
  }
  DIND_TRY(copy_bytes(in.get(), out.get(), rel));
  if (::fchown(out.get(), owner.uid, owner.gid) != 0 || ::fchmod(out.get(), mode) != 0 ||
      ::futimens(out.get(), times) != 0) {
    return base::sys_error(errno, "set up file " + dest_name);
  }
  return {};
}

// Opens (creating as needed) the directory `path` below the root.
Result<UniqueFd> ensure_dir(int root, const std::string& path, uid_t uid, gid_t gid) {
  auto comps = clean_components(path);
  if (!comps) {
    comps = std::vector<std::string>{};
  }
  UniqueFd dir(base::open_in_root(root, "", O_RDONLY | O_DIRECTORY));
  for (size_t i = 0; i < comps->size() && dir.valid(); ++i) {
    const std::string sub = join(*comps, i + 1);
    UniqueFd next(base::open_in_root(root, sub, O_RDONLY | O_DIRECTORY));
    if (!next.valid() && errno == ENOENT) {
      if (::mkdirat(dir.get(), (*comps)[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return base::sys_error(errno, "mkdir " + sub);
      }
      (void)::fchownat(dir.get(), (*comps)[i].c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
      next = UniqueFd(base::open_in_root(root, sub, O_RDONLY | O_DIRECTORY));
    }
    if (!next.valid()) {
      return errno == ENOTDIR
                 ? make_error(ErrorKind::kFailedPrecondition,
                              "cannot copy to \"/" + sub + "\": it is not a directory")
                 : base::sys_error(errno, "open /" + sub);
    }
    dir = std::move(next);
  }
  if (!dir.valid()) {
    return base::sys_error(errno, "open the root file system");
  }
  return dir;
}

// gzip, bzip2, xz, zstd or a tar header: what ADD unpacks.
bool looks_like_archive(int fd) {
  unsigned char head[512] = {};
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n < 6) {
    return false;
  }
  if ((head[0] == 0x1f && head[1] == 0x8b) || std::memcmp(head, "BZh", 3) == 0 ||
      std::memcmp(head, "\xfd" "7zXZ\0", 6) == 0 || std::memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0) {
    return true;
  }
  return n == 512 && std::memcmp(head + 257, "ustar", 5) == 0;
}

// ADD of a local archive: its entries below `dest` (created as needed); the
// unpacker resolves every entry inside that directory.
Status extract_into(int src, int dest_root, const std::string& dest) {
  auto d = ensure_dir(dest_root, dest, 0, 0);
  if (!d) {
    return std::move(d).error();
  }
  if (::lseek(src, 0, SEEK_SET) != 0) {
    return base::sys_error(errno, "seek");
  }
  image::UnpackOptions options;
  options.whiteouts = false;
  auto r = image::unpack_tree(image::fd_reader(src), "/proc/self/fd/" + std::to_string(d->get()),
                              options);
  if (!r) {
    return std::move(r).error().with_context("ADD: unpack the archive");
  }
  return {};
}

std::string base_name(const std::string& rel) {
  const auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

}  // namespace

Result<std::vector<CopySource>> resolve_sources(const SourceRoot& root,
                                                const std::vector<std::string>& patterns,
                                                const std::string& what) {
  std::vector<CopySource> out;
  for (const auto& pattern : patterns) {
    if (pattern.find("://") != std::string::npos) {
      return make_error(ErrorKind::kUnimplemented,
                        what + " failed: sources from URLs are not supported by this builder: " +
                            pattern);
    }
    auto comps = clean_components(pattern);
    if (!comps) {
      return make_error(ErrorKind::kInvalidArgument,
                        what + " failed: forbidden path outside the build context: " + pattern + " ()");
    }
    std::vector<std::string> found;
    DIND_TRY(glob(root, *comps, 0, "", found));
    std::vector<std::string> kept;
    for (const auto& f : found) {
      if (!ignored(root, f)) {
        kept.push_back(f);
      }
    }
    if (kept.empty()) {
      if (has_meta(pattern)) {
        return make_error(ErrorKind::kNotFound, what + " failed: no source files were specified");
      }
      return make_error(ErrorKind::kNotFound,
                        what + " failed: file not found in build context or excluded by "
                               ".dockerignore: stat " + join(*comps, comps->size()) +
                            ": file does not exist");
    }
    for (const auto& f : kept) {
      UniqueFd fd(base::open_in_root(root.fd, f, O_PATH));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
        return make_error(ErrorKind::kNotFound,
                          what + " failed: file not found in build context or excluded by "
                                 ".dockerignore: stat " + f + ": file does not exist");
      }
      out.push_back(CopySource{f, S_ISDIR(st.st_mode), nullptr, {}});
    }
  }
  return out;
}

Result<std::string> sources_checksum(const SourceRoot& root, const std::vector<CopySource>& sources) {
  base::Sha256 all;
  std::string kinds;
  for (const auto& s : sources) {
    base::Sha256 h;
    if (s.heredoc != nullptr) {
      h.update("heredoc\n" + s.heredoc->name + "\n" + s.content);
    } else {
      UniqueFd fd(base::open_in_root(root.fd, s.rel, O_PATH));
      if (!fd.valid()) {
        return base::sys_error(errno, "open " + s.rel);
      }
      DIND_TRY(hash_tree(root, fd.get(), "", s.rel, s.dir ? "" : base_name(s.rel), h));
    }
    const std::string one = (s.dir ? "dir:" : "file:") + h.hex();
    kinds += one + ",";
    if (sources.size() == 1) {
      return one;
    }
  }
  all.update(kinds);
  return "multi:" + all.hex();
}

Status make_dirs_in_root(int root, const std::string& path, uid_t uid, gid_t gid) {
  auto d = ensure_dir(root, path, uid, gid);
  if (!d) {
    return std::move(d).error();
  }
  return {};
}

Status copy_sources(const SourceRoot& root, const std::vector<CopySource>& sources, int dest_root,
                    const CopyOptions& o) {
  const Owner owner{o.uid, o.gid, o.chmod};
  // Where each source lands: into the destination directory, or (one file,
  // a destination that is not a directory) as the destination itself.
  bool into_dir = o.dest_is_dir;
  if (!into_dir) {
    UniqueFd existing(base::open_in_root(dest_root, o.dest, O_RDONLY | O_DIRECTORY));
    into_dir = existing.valid();
  }
  for (const auto& s : sources) {
    if (s.heredoc != nullptr || (!s.dir && !into_dir)) {
      std::string dir = o.dest, name;
      if (into_dir) {
        name = s.heredoc ? s.heredoc->name : base_name(s.rel);
      } else {
        const auto slash = o.dest.rfind('/');
        dir = o.dest.substr(0, slash);
        name = o.dest.substr(slash + 1);
      }
      auto d = ensure_dir(dest_root, dir, o.uid, o.gid);
      if (!d) {
        return std::move(d).error();
      }
      if (s.heredoc != nullptr) {
        DIND_TRY(clear_slot(d->get(), name, false));
        UniqueFd out(::openat(d->get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out.valid() || ::write(out.get(), s.content.data(), s.content.size()) !=
                                static_cast<ssize_t>(s.content.size()) ||
            ::fchown(out.get(), o.uid, o.gid) != 0 || ::fchmod(out.get(), o.chmod.value_or(0644)) != 0) {
          return base::sys_error(errno, "write " + name);
        }
        continue;
      }
      UniqueFd src(base::open_in_root(root.fd, s.rel, O_RDONLY));
      if (!src.valid()) {
        return base::sys_error(errno, "open " + s.rel);
      }
      if (o.extract_archives && looks_like_archive(src.get())) {
        DIND_TRY(extract_into(src.get(), dest_root, o.dest));
        continue;
      }
      DIND_TRY(copy_entry(root, src.get(), "", s.rel, d->get(), name, owner));
      continue;
    }
    auto d = ensure_dir(dest_root, o.dest, o.uid, o.gid);
    if (!d) {
      return std::move(d).error();
    }
    if (s.dir) {
      UniqueFd src(base::open_in_root(root.fd, s.rel, O_RDONLY | O_DIRECTORY));
      if (!src.valid()) {
        return base::sys_error(errno, "open " + s.rel);
      }
      auto names = base::list_dir(src.get());
      if (!names) {
        return std::move(names).error();
      }
      for (const auto& n : *names) {
        const std::string child = s.rel.empty() ? n : s.rel + "/" + n;
        if (skip_child(root, src.get(), n, child)) {
          continue;
        }
        DIND_TRY(copy_entry(root, src.get(), n, child, d->get(), n, owner));
      }
      continue;
    }
    UniqueFd src(base::open_in_root(root.fd, s.rel, O_RDONLY));
    if (!src.valid()) {
      return base::sys_error(errno, "open " + s.rel);
    }
    if (o.extract_archives && looks_like_archive(src.get())) {
      DIND_TRY(extract_into(src.get(), dest_root, o.dest));
      continue;
    }
    DIND_TRY(copy_entry(root, src.get(), "", s.rel, d->get(), base_name(s.rel), owner));
  }
  return {};
}

}  // namespace dind::build
