#pragma once
// docker commit (`POST /commit`): a container's changes become an image on
// top of its image, with the config dockerd derives (the request's config,
// the --change instructions applied, the container's config filling the
// rest) and a history entry; the layer diff is the builder's.

#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/build/builder.hpp"
#include "dind/model/container.hpp"

namespace dind::build {

struct CommitOptions {
  std::string container;
  std::string repo, tag;  // repo "" : untagged
  std::string comment, author;
  std::vector<std::string> changes;     // Dockerfile instructions (CMD, ENV, LABEL, ...)
  bool pause = true;                    // freeze a running container meanwhile
  std::optional<model::Config> config;  // the request body's
};

// The new image's ID ("sha256:..."). Errors: the container's (404, 409),
// "X is not a valid change command" and parse errors of a change (400).
base::Result<std::string> commit_container(const BuilderDeps& deps, const CommitOptions& options);

}  // namespace dind::build
