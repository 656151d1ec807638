#pragma once
// The classic builder (POST /build): a Dockerfile, a context directory and
// options in; an image out, built step by step as dockerd's classic builder
// does it: every step commits an image whose parent is the previous one,
// RUN steps in containers of the engine, COPY/ADD into a scratch root file
// system, metadata steps as config-only images; each step first looks for a
// cached image (a child of the current image made by the same step).
//
// Threading: build() blocks (run it on a worker); several builds may run at
// once. Output goes through `out` as dockerd's JSON message lines; when `out`
// answers false (the client left) the build stops at the next step or when
// the running step's container is killed, and removes what it created.

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/engine/containers.hpp"
#include "dind/image/content_store.hpp"
#include "dind/image/image_store.hpp"
#include "dind/image/layer_store.hpp"

namespace dind::build {

struct BuildOptions {
  std::string dockerfile = "Dockerfile";  // a path inside the context
  std::vector<std::string> tags;          // "t", as given
  std::map<std::string, std::optional<std::string>> build_args;  // nullopt: from the environment
  std::map<std::string, std::string> labels;
  std::string target;
  bool no_cache = false, pull = false, remove = true, force_remove = false, quiet = false;
  std::string network_mode;  // "" and "default": the bridge
  std::string platform;
  std::vector<std::string> extra_hosts;
  int64_t shm_size = 0, memory = 0, memory_swap = 0, cpu_shares = 0, cpu_quota = 0,
          cpu_period = 0;
  std::string cpuset_cpus, cpuset_mems;
  std::vector<std::string> cache_from;
};

// One JSON message line for the client; false when the client is gone.
using BuildOutput = std::function<bool(const std::string& line)>;
// Pulls an image the Dockerfile names but the store lacks (FROM, COPY
// --from); the image ID. Progress goes to `out`.
using PullImage =
    std::function<base::Result<std::string>(const std::string& ref, const BuildOutput& out)>;

struct BuilderDeps {
  image::ImageStore* images = nullptr;
  image::LayerStore* layers = nullptr;
  image::ContentStore* content = nullptr;
  engine::Containers* containers = nullptr;
  // Held while layers and images are added (the image service's gc lock).
  std::shared_ptr<std::mutex> mutations;
  PullImage pull;  // may be empty: missing images are then an error
  std::filesystem::path scratch;  // where contexts and scratch roots go
};

struct BuildResult {
  std::string image_id;
  std::vector<std::string> tagged;  // familiar references
};

class Builder {
 public:
  explicit Builder(BuilderDeps deps);

  // Builds from `context` (a directory holding the extracted context, owned
  // by the caller). Errors carry dockerd's messages; when a RUN step's
  // command failed, `failed_code` is its exit code (errorDetail.code), else 0.
  base::Result<BuildResult> build(const std::filesystem::path& context, const BuildOptions& options,
                                  const BuildOutput& out, int& failed_code);

  const BuilderDeps& deps() const { return deps_; }

 private:
  BuilderDeps deps_;
};

// Extracts a build context tar (plain or compressed) from `reader` into
// `dir`, which must exist and be empty.
base::Status extract_context(const std::function<ssize_t(void*, size_t)>& reader,
                             const std::filesystem::path& dir);

}  // namespace dind::build
