#include "dind/base/fs.hpp"

#include <dirent.h>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <system_error>

namespace dind::base {
namespace fs = std::filesystem;

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  reset();
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(10, 'x');
  for (auto& c : s) {
    c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  }
  return s;
}

Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error(errno, "write " + path.string());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Writes data into a new temp file next to path; returns the temp path.
Result<fs::path> write_temp(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + random_suffix());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return sys_error(errno, "create " + tmp.string());
  }
  auto fail = [&](Error e) -> Result<fs::path> {
    ::unlink(tmp.c_str());
    return e;
  };
  if (auto st = write_all(fd.get(), data, tmp); !st) {
    return fail(std::move(st).error());
  }
  if (::fchmod(fd.get(), mode) != 0) {
    return fail(sys_error(errno, "chmod " + tmp.string()));
  }
  if (::fsync(fd.get()) != 0) {
    return fail(sys_error(errno, "fsync " + tmp.string()));
  }
  return tmp;
}

}  // namespace

bool is_interrupted_write(std::string_view name) {
  constexpr std::string_view kMark = ".tmp-";
  constexpr size_t kSuffix = 10;
  if (name.size() < 1 + 1 + kMark.size() + kSuffix || name.front() != '.') {
    return false;
  }
  const auto suffix = name.substr(name.size() - kSuffix);
  return name.substr(name.size() - kSuffix - kMark.size(), kMark.size()) == kMark &&
         std::all_of(suffix.begin(), suffix.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

size_t remove_interrupted_writes(const fs::path& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (is_interrupted_write(name) && e.is_regular_file(ec) && !e.is_symlink(ec) &&
        ::unlink(e.path().c_str()) == 0) {
      ++removed;
    }
  }
  return removed;
}

Result<std::vector<std::string>> list_dir(int dirfd) {
  const int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) {
    return sys_error(errno, "open directory");
  }
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return sys_error(errno, "opendir");
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") {
      names.push_back(std::move(n));
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status read_chunks(int fd, const std::function<Status(std::string_view)>& sink,
                   const std::string& what) {
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return sys_error(errno, "read " + what);
    }
    if (n == 0) {
      return {};
    }
    DIND_TRY(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
}

std::string read_up_to(int fd, size_t max_bytes) {
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof(buf), max_bytes - out.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const fs::path& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return sys_error(errno, "open " + path.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return sys_error(errno, "stat " + path.string());
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::kInvalidArgument, path.string() + " is not a regular file");
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error(errno, "read " + path.string());
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return make_error(ErrorKind::kInvalidArgument,
                        path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return sys_error(errno, "open " + dir.string());
  }
  if (::fsync(fd.get()) != 0) {
    return sys_error(errno, "fsync " + dir.string());
  }
  return {};
}

Status write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  FileTransaction tx;
  DIND_TRY(tx.stage(path, data, mode));
  return tx.commit();
}

FileTransaction::~FileTransaction() {
  if (!done_) {
    rollback();
  }
}

Status FileTransaction::ensure_dir(const fs::path& dir, mode_t mode) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    // stat, not lstat: a daemon path may lead through a link to a directory
    // (Debian's /var/run -> /run in the appliance image); these are the
    // daemon's own paths, never container content.
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return make_error(ErrorKind::kFailedPrecondition,
                          p.string() + " exists and is not a directory");
      }
      break;
    }
    if (errno != ENOENT && errno != ENOTDIR) {
      return sys_error(errno, "stat " + p.string());
    }
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), mode) != 0) {
      return sys_error(errno, "mkdir " + it->string());
    }
    created_dirs_.push_back(*it);
    if (::chmod(it->c_str(), mode) != 0) {  // mkdir's mode is filtered by the umask
      return sys_error(errno, "chmod " + it->string());
    }
  }
  return {};
}

Status FileTransaction::stage(const fs::path& path, std::string_view data, mode_t mode) {
  auto tmp = write_temp(path, data, mode);
  if (!tmp) {
    return std::move(tmp).error();
  }
  temps_.push_back(*tmp);
  targets_.push_back(path);
  return {};
}

void FileTransaction::stage_chmod(const fs::path& path, mode_t mode) {
  chmods_.emplace_back(path, mode);
}

Status FileTransaction::commit() {
  std::vector<fs::path> dirs;
  for (size_t i = 0; i < temps_.size(); ++i) {
    if (::rename(temps_[i].c_str(), targets_[i].c_str()) != 0) {
      Error e = sys_error(errno, "rename " + temps_[i].string() + " to " + targets_[i].string());
      // Files renamed so far are complete and valid; only the rest is undone.
      temps_.erase(temps_.begin(), temps_.begin() + static_cast<ptrdiff_t>(i));
      created_dirs_.clear();
      rollback();
      done_ = true;
      return e;
    }
    dirs.push_back(targets_[i].parent_path().empty() ? fs::path(".") : targets_[i].parent_path());
  }
  done_ = true;
  for (auto& [path, mode] : chmods_) {
    if (::chmod(path.c_str(), mode) != 0) {
      return sys_error(errno, "chmod " + path.string());
    }
  }
  for (auto& d : created_dirs_) {
    dirs.push_back(d.parent_path());
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  for (auto& d : dirs) {
    DIND_TRY(fsync_dir(d));
  }
  return {};
}

void FileTransaction::rollback() noexcept {
  for (auto& t : temps_) {
    ::unlink(t.c_str());
  }
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) {
    ::rmdir(it->c_str());
  }
  temps_.clear();
  created_dirs_.clear();
}

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
  }
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int open_in_root(int root, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root, path.empty() ? "." : path.c_str(), &how, sizeof(how)));
}

int open_literal_beneath(int dir, const std::string& path) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
  return static_cast<int>(::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof(how)));
}

}  // namespace dind::base
