#include "dind/image/rooted_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "dind/base/time.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

constexpr int kMaxLinks = 40;  // as the kernel's and Go's walkers

// The components of a path, empty ones kept (a trailing slash makes the
// component before it a directory to follow).
std::deque<std::string> components(const std::string& path) {
  std::deque<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t slash = path.find('/', pos);
    out.push_back(path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) {
      break;
    }
    pos = slash + 1;
  }
  if (!out.empty() && out.front().empty()) {
    out.pop_front();  // the leading slash
  }
  return out;
}

std::string clean_absolute(const std::string& path) {
  std::vector<std::string> parts;
  for (const auto& c : components(path)) {
    if (c.empty() || c == ".") {
      continue;
    }
    if (c == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.push_back(c);
  }
  std::string out;
  for (const auto& p : parts) {
    out += "/" + p;
  }
  return out.empty() ? "/" : out;
}

size_t depth(const std::string& clean) {
  return clean == "/" ? 0 : static_cast<size_t>(std::count(clean.begin(), clean.end(), '/'));
}

struct Frame {
  UniqueFd fd;  // O_PATH directory
  std::string path;  // clean absolute
  int mount = -1;
};

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

base::Error not_found(const std::string& path) {
  return make_error(ErrorKind::kNotFound, "no such file or directory: " + path);
}

}  // namespace

Result<RootedTree> RootedTree::open(const fs::path& root, std::vector<TreeMount> mounts,
                                    bool read_only_root) {
  RootedTree t;
  t.root_ = UniqueFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!t.root_.valid()) {
    return base::sys_error(errno, "open " + root.string());
  }
  t.read_only_root_ = read_only_root;
  for (auto& m : mounts) {
    m.destination = clean_absolute(m.destination);
  }
  std::stable_sort(mounts.begin(), mounts.end(), [](const TreeMount& a, const TreeMount& b) {
    return depth(a.destination) < depth(b.destination);
  });
  for (auto& m : mounts) {
    // Where the runtime put it: the destination's links resolved through the
    // tree and the mounts before it.
    if (auto r = t.resolve(m.destination, true); r && m.destination != "/") {
      m.destination = r->path;
    }
    t.by_path_[m.destination] = t.mounts_.size();
    t.mounts_.push_back(std::move(m));
  }
  return t;
}

Result<RootedTree::Resolved> RootedTree::resolve(const std::string& path, bool follow_last,
                                                 bool create) const {
  std::vector<Frame> stack;
  stack.push_back(Frame{UniqueFd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0)), "/", -1});
  if (!stack.back().fd.valid()) {
    return base::sys_error(errno, "dup");
  }
  std::deque<std::string> pending = components(path);
  int links = 0;
  while (!pending.empty()) {
    const std::string c = pending.front();
    pending.pop_front();
    if (c.empty() || c == ".") {
      continue;
    }
    if (c == "..") {
      if (stack.size() > 1) {
        stack.pop_back();
      }
      continue;
    }
    const bool last = pending.empty();
    Frame& top = stack.back();
    const std::string here = child_path(top.path, c);
    if (auto m = by_path_.find(here); m != by_path_.end()) {
      const TreeMount& mount = mounts_[m->second];
      UniqueFd src(::open(mount.source.c_str(), O_PATH | O_CLOEXEC));
      struct stat st {};
      if (!src.valid() || ::fstat(src.get(), &st) != 0) {
        return base::sys_error(errno, "open the mount source " + mount.source.string());
      }
      if (S_ISDIR(st.st_mode)) {
        stack.push_back(Frame{std::move(src), here, static_cast<int>(m->second)});
        continue;
      }
      if (!last) {
        return make_error(ErrorKind::kInvalidArgument, "not a directory: " + here);
      }
      Resolved r;
      r.dir = UniqueFd(::open(mount.source.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!r.dir.valid()) {
        return base::sys_error(errno, "open " + mount.source.parent_path().string());
      }
      r.leaf = mount.source.filename().string();
      r.path = here;
      r.exists = true;
      r.st = st;
      r.mount = static_cast<int>(m->second);
      return r;
    }
    struct stat st {};
    if (::fstatat(top.fd.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        return base::sys_error(errno, "stat " + here);
      }
      if (!create) {
        if (!last) {
          return not_found(here);
        }
        Resolved r;
        r.dir = std::move(top.fd);
        r.leaf = c;
        r.path = here;
        r.mount = top.mount;
        return r;
      }
      if (::mkdirat(top.fd.get(), c.c_str(), 0755) != 0 && errno != EEXIST) {
        return base::sys_error(errno, "mkdir " + here);
      }
      if (::fstatat(top.fd.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return base::sys_error(errno, "stat " + here);
      }
    }
    if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
      if (++links > kMaxLinks) {
        return make_error(ErrorKind::kInvalidArgument, "too many levels of symbolic links: " + here);
      }
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(top.fd.get(), c.c_str(), target.data(), target.size());
      if (n < 0) {
        return base::sys_error(errno, "readlink " + here);
      }
      target.resize(static_cast<size_t>(n));
      if (!target.empty() && target[0] == '/') {
        stack.resize(1);
      }
      auto more = components(target);
      pending.insert(pending.begin(), more.begin(), more.end());
      continue;
    }
    if (last) {
      Resolved r;
      r.dir = std::move(top.fd);
      r.leaf = c;
      r.path = here;
      r.exists = true;
      r.st = st;
      r.mount = top.mount;
      return r;
    }
    if (!S_ISDIR(st.st_mode)) {
      return make_error(ErrorKind::kInvalidArgument, "not a directory: " + here);
    }
    UniqueFd next(::openat(top.fd.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      return base::sys_error(errno, "open " + here);  // swapped for a link meanwhile: refused
    }
    const int mount = top.mount;
    stack.push_back(Frame{std::move(next), here, mount});
  }
  Frame& top = stack.back();
  Resolved r;
  if (::fstat(top.fd.get(), &r.st) != 0) {
    return base::sys_error(errno, "stat " + top.path);
  }
  r.dir = std::move(top.fd);
  r.path = top.path;
  r.exists = true;
  r.mount = top.mount;
  return r;
}

bool RootedTree::read_only(const Resolved& r) const {
  return r.mount >= 0 ? mounts_[static_cast<size_t>(r.mount)].read_only : read_only_root_;
}

UniqueFd RootedTree::mount_at(const std::string& path) const {
  auto m = by_path_.find(path);
  if (m == by_path_.end()) {
    return UniqueFd();
  }
  return UniqueFd(::open(mounts_[m->second].source.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
}

uint32_t go_file_mode(mode_t mode) {
  uint32_t m = mode & 0777;
  switch (mode & S_IFMT) {
    case S_IFDIR: m |= 1u << 31; break;
    case S_IFLNK: m |= 1u << 27; break;
    case S_IFBLK: m |= 1u << 26; break;
    case S_IFCHR: m |= (1u << 26) | (1u << 21); break;
    case S_IFIFO: m |= 1u << 25; break;
    case S_IFSOCK: m |= 1u << 24; break;
    default: break;
  }
  if (mode & S_ISUID) m |= 1u << 23;
  if (mode & S_ISGID) m |= 1u << 22;
  if (mode & S_ISVTX) m |= 1u << 20;
  return m;
}

std::string request_base(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') {
    p.pop_back();
  }
  if (p.empty() || p == "/") {
    return "/";
  }
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

namespace {

// Go's RFC3339Nano: trailing zeros of the fraction dropped.
std::string go_time(const timespec& ts) {
  std::string s = base::rfc3339_nano(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec))));
  s.pop_back();  // 'Z'
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  return s + "Z";
}

}  // namespace

Result<PathStat> stat_path(const RootedTree& tree, const std::string& path) {
  DIND_ASSIGN_OR_RETURN(auto r, tree.resolve(path, false));
  if (!r.exists) {
    return not_found(r.path);
  }
  PathStat s;
  s.name = request_base(path);
  s.size = static_cast<int64_t>(r.st.st_size);
  s.mode = go_file_mode(r.st.st_mode);
  s.mtime = go_time(r.st.st_mtim);
  if (S_ISLNK(r.st.st_mode)) {
    if (auto target = tree.resolve(path, true)) {
      s.link_target = target->path;
    }
  }
  return s;
}

std::string read_tree_file(const RootedTree& tree, const std::string& path) {
  auto r = tree.resolve(path, true);
  if (!r || !r->exists || !S_ISREG(r->st.st_mode)) {
    return "";
  }
  UniqueFd fd(::openat(r->dir.get(), r->leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  return fd.valid() ? base::read_up_to(fd.get(), 4u << 20) : "";
}

Status write_path_tar(const RootedTree& tree, const std::string& path, const DiffSink& sink) {
  DIND_ASSIGN_OR_RETURN(auto r, tree.resolve(path, false));
  if (!r.exists) {
    return not_found(r.path);
  }
  const std::string name = request_base(path);
  const std::string top = r.path == "/" ? "" : r.path;
  TreeTarOptions options;
  options.whiteouts = false;
  options.substitute = [&](const std::string& tar_path) {
    if (tar_path.size() <= name.size()) {
      return UniqueFd();  // the top: resolve() went into its mount already
    }
    return tree.mount_at(top + tar_path.substr(name.size()));
  };
  return write_tree_tar(r.dir.get(), r.leaf.empty() ? "." : r.leaf, name, options, sink);
}

Status extract_to_path(const RootedTree& tree, const std::string& path, const LayerReader& reader,
                       const ExtractOptions& options) {
  // A link as the last component is followed (one may extract into a link
  // to a directory, as with dockerd).
  DIND_ASSIGN_OR_RETURN(auto r, tree.resolve(path, true));
  if (!r.exists) {
    return not_found(r.path);
  }
  if (!S_ISDIR(r.st.st_mode)) {
    return make_error(ErrorKind::kInvalidArgument, "extraction point is not a directory");
  }
  auto refuse_read_only = [&tree](const RootedTree::Resolved& at) -> Status {
    if (!tree.read_only(at)) {
      return {};
    }
    return make_error(ErrorKind::kInvalidArgument, tree.in_mount(at)
                                                       ? "mounted volume is marked read-only"
                                                       : "container rootfs is marked read-only");
  };
  DIND_TRY(refuse_read_only(r));
  const std::string base = r.path;
  UnpackOptions unpack;
  unpack.whiteouts = false;
  unpack.no_overwrite_dir_non_dir = options.no_overwrite_dir_non_dir;
  unpack.owner = options.owner;
  unpack.open_dir = [&](const std::string& rel) -> Result<UniqueFd> {
    const std::string at = rel.empty() ? base : child_path(base, rel);
    DIND_ASSIGN_OR_RETURN(auto d, tree.resolve(at, true, true));
    DIND_TRY(refuse_read_only(d));
    if (d.leaf.empty()) {
      return std::move(d.dir);
    }
    UniqueFd dir(::openat(d.dir.get(), d.leaf.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
      return errno == ENOTDIR ? make_error(ErrorKind::kInvalidArgument, "not a directory: " + d.path)
                              : base::sys_error(errno, "open " + d.path);
    }
    return dir;
  };
  auto done = unpack_into(reader, unpack);
  if (!done) {
    return std::move(done).error();
  }
  return {};
}

}  // namespace dind::image
