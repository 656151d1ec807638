#pragma once
// A container's file system as its processes see it, for docker cp: a root
// directory with mounts (volumes, binds, the hosts files) at paths inside
// it, read and written from the daemon's own mount namespace.
//
// Paths are resolved in user space, one component at a time, as dockerd's
// FollowSymlinkInScope does: every component is opened with O_NOFOLLOW
// below the directory fd reached so far, symbolic links are read and
// spliced into the rest of the path (absolute ones restart at the root),
// ".." never climbs above the root, and a component whose path is a mount
// point continues in the mount's source. So no link, "..", or a link
// swapped in while a copy runs can ever lead outside the root and its
// mounts. Needs no privilege beyond access to the files.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"
#include "dind/image/layer_diff.hpp"
#include "dind/image/layer_unpack.hpp"

namespace dind::image {

struct TreeMount {
  std::string destination;      // absolute, inside the tree
  std::filesystem::path source;  // on the host: a directory or a file
  bool read_only = false;
};

class RootedTree {
 public:
  // Mount destinations are resolved inside the tree in order of depth, so a
  // destination reached through a link lands where the runtime mounted it.
  static base::Result<RootedTree> open(const std::filesystem::path& root,
                                       std::vector<TreeMount> mounts, bool read_only_root);

  struct Resolved {
    base::UniqueFd dir;  // O_PATH: the directory holding the item
    std::string leaf;    // the item's name in `dir`; "" when the item is `dir` itself
    std::string path;    // the item's clean absolute path in the tree, links resolved
    bool exists = false;
    struct stat st {};   // when it exists (lstat: a link is a link)
    int mount = -1;      // the innermost mount holding it (index), -1 for the root
  };
  // `follow_last`: a link as the last component is followed too. A missing
  // last component is reported (exists false); a missing one before it is a
  // kNotFound error, unless `create` makes the missing directories (0755).
  base::Result<Resolved> resolve(const std::string& path, bool follow_last, bool create = false) const;

  bool read_only(const Resolved& r) const;
  // Whether the item at `path` (clean, absolute) is a mount point: an fd of
  // the mount's source open for reading (O_DIRECTORY for a directory).
  base::UniqueFd mount_at(const std::string& path) const;
  bool in_mount(const Resolved& r) const { return r.mount >= 0; }

 private:
  base::UniqueFd root_;
  bool read_only_root_ = false;
  std::vector<TreeMount> mounts_;          // destinations resolved
  std::map<std::string, size_t> by_path_;  // destination -> index
};

// The X-Docker-Container-Path-Stat of docker cp.
struct PathStat {
  std::string name;  // the base name of the path as asked
  int64_t size = 0;
  uint32_t mode = 0;  // Go's os.FileMode bits
  std::string mtime;  // RFC 3339 with nanoseconds, UTC
  std::string link_target;  // a link's target, resolved inside the tree
};
uint32_t go_file_mode(mode_t mode);
// The base name dockerd gives a path asked for ("/" for the root, "." for
// "dir/.", trailing slashes ignored).
std::string request_base(const std::string& path);

// kNotFound when the path does not exist (the last component unfollowed).
base::Result<PathStat> stat_path(const RootedTree& tree, const std::string& path);

// A small file of the tree (links followed), e.g. /etc/passwd; "" when absent.
std::string read_tree_file(const RootedTree& tree, const std::string& path);

// docker cp out: the item at `path` (a last link unfollowed) as a tar whose
// top entry is named request_base(path) ("dir/." gives the directory's
// contents under "./"), mounts below it read from their sources.
base::Status write_path_tar(const RootedTree& tree, const std::string& path, const DiffSink& sink);

// docker cp in: unpacks the (possibly compressed) tar into the directory at
// `path`, every entry resolved inside the tree. Dockerd's refusals:
// kNotFound (missing), "extraction point is not a directory", "container
// rootfs is marked read-only", "mounted volume is marked read-only".
struct ExtractOptions {
  bool no_overwrite_dir_non_dir = false;
  std::optional<std::pair<uid_t, gid_t>> owner;  // docker cp -a: the container user's
};
base::Status extract_to_path(const RootedTree& tree, const std::string& path,
                             const LayerReader& reader, const ExtractOptions& options);

}  // namespace dind::image
