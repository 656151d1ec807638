#pragma once
// Image references with Docker's grammar and normalisation (the
// distribution/reference rules): "busybox" is docker.io/library/busybox:latest,
// "localhost:5000/a/b@sha256:..." keeps its registry. Pure.

#include <optional>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::image {

struct Reference {
  std::string domain;                 // "docker.io", "localhost:5000"
  std::string path;                   // "library/busybox"
  std::optional<std::string> tag;     // "latest"
  std::optional<std::string> digest;  // "sha256:<64 hex>"

  std::string name() const { return domain + "/" + path; }  // fully qualified repository
  std::string to_string() const;                            // name[:tag][@digest]
  // The short form users know: "busybox:latest", "foo/bar:1", "localhost:5000/x:y".
  std::string familiar() const;
  std::string familiar_name() const;
};

// Parses and normalises; a missing tag and digest defaults the tag to
// "latest" when default_tag is set (as `docker pull/run` do). Errors carry
// Docker's messages ("invalid reference format", "... must be lowercase").
base::Result<Reference> parse_reference(std::string_view text, bool default_tag = true);

// "sha256:<64 lowercase hex>"
bool valid_digest(std::string_view digest);
// A 64-hex (or shorter, >= 1) ID prefix with an optional "sha256:".
bool looks_like_id_prefix(std::string_view text);

}  // namespace dind::image
