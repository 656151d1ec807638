#pragma once
// Unpacks one image layer (a tar, gzip- or zstd-compressed or not) into a
// directory, in-process with libarchive, never executing anything from the
// image. Whiteouts become overlayfs whiteouts (".wh.x" -> a 0/0 character
// device "x"; ".wh..wh..opq" -> the parent marked opaque). Ownership, modes,
// hard links, symlinks, device nodes, xattrs and mtimes are kept.
//
// Safety (the CVE class behind "tar slip"): every path is resolved with
// openat2(RESOLVE_IN_ROOT) under the layer directory, so "..", absolute paths
// and symlinks (even ones planted by earlier entries) can never reach outside
// it; entries with ".." components or over-long names are refused outright.
// Needs root (mknod, chown, trusted.* xattrs).

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <utility>
#include <vector>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

struct archive;

namespace dind::image {

struct UnpackResult {
  std::string diff_id;  // sha256 of the uncompressed tar stream
  uint64_t entries = 0;
  uint64_t bytes = 0;  // uncompressed tar size
};

// Pulls up to `len` bytes of the (possibly compressed) layer into `buf`;
// returns the count, 0 at the end, -1 on error.
using LayerReader = std::function<ssize_t(void* buf, size_t len)>;
// A LayerReader over a file descriptor (retries EINTR).
LayerReader fd_reader(int fd);

// libarchive reads every archive of ours (layers, docker save/load tars)
// through this one source: a LayerReader and its buffer. `what` names the
// stream in read errors ("the layer", "the archive").
struct ArchiveSource {
  const LayerReader* reader = nullptr;
  const char* what = "the archive";
  std::vector<char> buf = std::vector<char>(256 * 1024);
};
// archive_read_open over `source`, which must outlive the reads: libarchive's
// return code.
int open_archive_source(struct archive* a, ArchiveSource& source);

// Receives the uncompressed tar stream as it goes by (to keep the exact
// bytes, whose digest is the diff ID); an error stops the unpacking.
using LayerTee = std::function<base::Status(std::string_view)>;

// Decompresses a (gzip, zstd, ... or plain) stream into `sink` with
// libarchive's filters.
base::Status decompress_stream(const LayerReader& reader, const LayerTee& sink);

// Reads the layer from `fd` (any readable stream) into `dir`, which must
// exist. On failure `dir` may hold a partial tree: the caller unpacks into a
// fresh directory and removes it on error.
base::Result<UnpackResult> unpack_layer(int fd, const std::filesystem::path& dir,
                                        const LayerTee& tee = {});
base::Result<UnpackResult> unpack_layer(const LayerReader& reader, const std::filesystem::path& dir,
                                        const LayerTee& tee = {});

// The same unpacking for trees that are not layers (a build context, a tar
// that ADD extracts): `whiteouts` false keeps ".wh." names as plain files;
// `skip` (a relative path without "./", whether it is a directory) leaves
// entries out, e.g. what .dockerignore excludes.
struct UnpackOptions {
  bool whiteouts = true;
  std::function<bool(const std::string& path, bool dir)> skip;
  // docker cp: an entry may not replace a directory with a non-directory or
  // the other way round (dockerd's noOverwriteDirNonDir).
  bool no_overwrite_dir_non_dir = false;
  // Every entry owned by this uid:gid instead of the tar's (docker cp -a).
  std::optional<std::pair<uid_t, gid_t>> owner;
  // Where entries land, when not below `dir`: opens (O_PATH) the directory
  // at a relative path ("" for the top), creating missing components (0755).
  // docker cp resolves these inside a container's tree, its mounts included.
  std::function<base::Result<base::UniqueFd>(const std::string& rel)> open_dir;
};
base::Result<UnpackResult> unpack_tree(const LayerReader& reader, const std::filesystem::path& dir,
                                       const UnpackOptions& options, const LayerTee& tee = {});
// unpack_tree through options.open_dir alone (which must be set).
base::Result<UnpackResult> unpack_into(const LayerReader& reader, const UnpackOptions& options);

}  // namespace dind::image
