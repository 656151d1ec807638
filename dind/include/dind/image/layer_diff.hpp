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

#include "dind/base/result.hpp"
#include "dind/image/layer_store.hpp"

namespace dind::image {

using DiffSink = std::function<base::Status(std::string_view)>;

// Writes the tar of `upper` through `sink`; the walk never follows a link.
base::Status write_diff_tar(const std::filesystem::path& upper, const DiffSink& sink);

// True when `upper` holds nothing (a step that changed no file).
bool diff_is_empty(const std::filesystem::path& upper);

// Registers the diff of `upper` as a layer on `parent` (a chain ID), the tar
// streamed through a pipe into the layer store (and kept in `keep_tar`,
// when given, for docker save and push).
base::Result<LayerInfo> commit_diff(LayerStore& layers, const std::filesystem::path& upper,
                                    const std::optional<std::string>& parent,
                                    ContentStore* keep_tar);

}  // namespace dind::image
