#pragma once
// A container's changes as a layer: the overlay upper directory written as a
// layer tar (docker commit, and every file system step of a build). Overlay
// whiteouts (0/0 character devices) become ".wh.<name>" entries, opaque
// directories (trusted.overlay.opaque=y) a ".wh..wh..opq" entry; hard links
// inside the directory stay links; ownership, modes, mtimes and xattrs
// (trusted.overlay.* excepted) are kept. Entries go out sorted by name, so
// the same tree always gives the same diff ID. Needs root (trusted.* xattrs).

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"
#include "dind/image/layer_store.hpp"

namespace dind::image {

using DiffSink = std::function<base::Status(std::string_view)>;

// Writes the tar of `upper` through `sink`; the walk never follows a link.
base::Status write_diff_tar(const std::filesystem::path& upper, const DiffSink& sink);

// The same writer for trees that are not layers (docker cp, docker export).
struct TreeTarOptions {
  // Overlay whiteouts and opaque directories as ".wh." entries (a layer);
  // false: a device or directory is what it is.
  bool whiteouts = true;
  // For mount points: an fd open for reading (O_RDONLY, a directory's with
  // O_DIRECTORY) of what to archive as the entry `tar_path`, or an invalid fd
  // for the entry itself.
  std::function<base::UniqueFd(const std::string& tar_path)> substitute;
};
// Writes `name` of `dirfd` ("." for the directory itself) as the entry
// `tar_name` (a directory with its tree below "tar_name/"); an empty
// tar_name writes the directory's entries alone, at the top of the tar.
base::Status write_tree_tar(int dirfd, const std::string& name, const std::string& tar_name,
                            const TreeTarOptions& options, const DiffSink& sink);

// True when `upper` holds nothing (a step that changed no file).
bool diff_is_empty(const std::filesystem::path& upper);

// Registers the diff of `upper` as a layer on `parent` (a chain ID), the tar
// streamed through a pipe into the layer store (and kept in `keep_tar`,
// when given, for docker save and push).
base::Result<LayerInfo> commit_diff(LayerStore& layers, const std::filesystem::path& upper,
                                    const std::optional<std::string>& parent,
                                    ContentStore* keep_tar);

}  // namespace dind::image
