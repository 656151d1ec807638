#include "dind/image/layer_diff.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "dind/base/fs.hpp"
#include "tar_sink.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

class DiffWriter {
 public:
  DiffWriter(const DiffSink& sink, const TreeTarOptions& options)
      : w_(sink), options_(options) {
    archive_write_set_format_pax_restricted(w_.get());
    // Names are bytes (as Go's tar writer, dockerd's, takes them): no
    // conversion from the daemon's locale, which refuses non-ASCII names.
    archive_write_set_options(w_.get(), "hdrcharset=BINARY");
    archive_write_set_bytes_per_block(w_.get(), 10240);
    archive_write_set_bytes_in_last_block(w_.get(), 1);  // end after the two zero blocks
    w_.open();
  }

  Status walk(int dirfd, const std::string& prefix) {
    auto names = base::list_dir(dirfd);
    if (!names) {
      return std::move(names).error().with_context(prefix.empty() ? "/" : prefix);
    }
    for (const auto& name : *names) {
      DIND_TRY(entry(dirfd, name, prefix + name));
    }
    return {};
  }

  Status close() { return w_.close("finish the layer tar"); }

  // `name` of dirfd ("." for dirfd itself) as the tar entry `path`.
  Status entry(int dirfd, const std::string& name, const std::string& path) {
    // A mount point: its mounted tree (or file) instead of the directory below.
    UniqueFd substitute = options_.substitute ? options_.substitute(path) : UniqueFd();
    struct stat st {};
    if (substitute.valid() ? ::fstat(substitute.get(), &st) != 0
                           : ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return base::sys_error(errno, "stat " + path);
    }
    if (options_.whiteouts && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      const auto slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
      return marker(dir + ".wh." + path.substr(slash + 1), st);  // an overlay whiteout
    }
    if (S_ISSOCK(st.st_mode)) {
      return {};  // sockets do not travel in layers (tar skips them too)
    }
    Entry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), S_ISDIR(st.st_mode) ? (path + "/").c_str() : path.c_str());
    archive_entry_copy_stat(e.get(), &st);
    UniqueFd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      const int flags = (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC;
      // A substitute is open for reading already.
      fd = substitute.valid() ? std::move(substitute)
                              : UniqueFd(::openat(dirfd, name.c_str(), flags | O_NOFOLLOW));
      if (!fd.valid()) {
        return base::sys_error(errno, "open " + path);
      }
      DIND_TRY(copy_xattrs(fd.get(), e.get(), path));
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        return base::sys_error(errno, "readlink " + path);
      }
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
    }
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), path);
      if (!first) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
        return header(e.get(), path);
      }
    }
    if (!S_ISREG(st.st_mode)) {
      archive_entry_set_size(e.get(), 0);
    }
    DIND_TRY(header(e.get(), path));
    if (S_ISREG(st.st_mode)) {
      DIND_TRY(data(fd.get(), path));
    }
    if (S_ISDIR(st.st_mode)) {
      char v = 0;
      if (options_.whiteouts && ::fgetxattr(fd.get(), "trusted.overlay.opaque", &v, 1) == 1 &&
          v == 'y') {
        DIND_TRY(marker(path + "/.wh..wh..opq", st));
      }
      return walk(fd.get(), path + "/");
    }
    return {};
  }

 private:
  Status failure(const std::string& what) const { return w_.failure(what); }

  Status marker(const std::string& path, const struct stat& st) {
    Entry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return header(e.get(), path);
  }

  Status header(archive_entry* e, const std::string& path) {
    if (archive_write_header(w_.get(), e) != ARCHIVE_OK) {
      return failure("write the tar header of " + path);
    }
    return {};
  }

  Status data(int fd, const std::string& path) {
    return base::read_chunks(
        fd,
        [&](std::string_view chunk) -> Status {
          if (archive_write_data(w_.get(), chunk.data(), chunk.size()) < 0) {
            return failure("write " + path + " into the layer tar");
          }
          return {};
        },
        path);
  }

  // Every xattr but overlayfs' own bookkeeping.
  static Status copy_xattrs(int fd, archive_entry* e, const std::string& path) {
    std::string names(4096, '\0');
    ssize_t n = ::flistxattr(fd, names.data(), names.size());
    if (n < 0 && errno == ERANGE) {
      names.resize(static_cast<size_t>(::flistxattr(fd, nullptr, 0)) + 1);
      n = ::flistxattr(fd, names.data(), names.size());
    }
    if (n < 0) {
      return errno == ENOTSUP ? Status{} : base::sys_error(errno, "list xattrs of " + path);
    }
    for (size_t i = 0; i < static_cast<size_t>(n);) {
      const std::string key = names.c_str() + i;
      i += key.size() + 1;
      if (key.rfind("trusted.overlay.", 0) == 0) {
        continue;
      }
      std::string value(65536, '\0');
      const ssize_t len = ::fgetxattr(fd, key.c_str(), value.data(), value.size());
      if (len >= 0) {
        archive_entry_xattr_add_entry(e, key.c_str(), value.data(), static_cast<size_t>(len));
      }
    }
    return {};
  }

  TarSinkWriter w_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // first path of each linked inode
  const TreeTarOptions& options_;
};

}  // namespace

Status write_diff_tar(const fs::path& upper, const DiffSink& sink) {
  UniqueFd root(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return base::sys_error(errno, "open " + upper.string());
  }
  const TreeTarOptions layer;
  DiffWriter w(sink, layer);
  DIND_TRY(w.walk(root.get(), ""));
  return w.close();
}

Status write_tree_tar(int dirfd, const std::string& name, const std::string& tar_name,
                      const TreeTarOptions& options, const DiffSink& sink) {
  DiffWriter w(sink, options);
  if (tar_name.empty()) {  // the directory's entries, without one for itself
    UniqueFd dir(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
      return base::sys_error(errno, "open " + name);
    }
    DIND_TRY(w.walk(dir.get(), ""));
  } else {
    DIND_TRY(w.entry(dirfd, name, tar_name));
  }
  return w.close();
}

bool diff_is_empty(const fs::path& upper) {
  std::error_code ec;
  return fs::is_empty(upper, ec) || ec;
}

Result<LayerInfo> commit_diff(LayerStore& layers, const fs::path& upper,
                              const std::optional<std::string>& parent, ContentStore* keep_tar) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return base::sys_error(errno, "pipe");
  }
  UniqueFd in(p[0]);
  auto out = std::make_shared<UniqueFd>(p[1]);
  Status written;
  std::thread writer([&written, out, upper] {
    written = write_diff_tar(upper, [&](std::string_view chunk) -> Status {
      while (!chunk.empty()) {
        const ssize_t n = ::write(out->get(), chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          return base::sys_error(errno, "write the layer tar");
        }
        chunk.remove_prefix(static_cast<size_t>(n));
      }
      return {};
    });
    out->reset();  // EOF for the reader
  });
  auto info = layers.register_layer(in.get(), parent, std::nullopt, keep_tar);
  in.reset();  // a writer still going meets EPIPE and stops
  writer.join();
  // The reader's failure (a full disk, say) comes first: the writer's EPIPE
  // is only its consequence.
  if (!info) {
    return std::move(info).error().with_context("commit");
  }
  if (!written) {
    return std::move(written).error().with_context("commit");
  }
  return info;
}

}  // namespace dind::image
