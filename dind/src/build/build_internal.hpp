#pragma once
// Internal to build/: one build in progress. builder.cpp drives the stages
// and the cache; run_step.cpp runs RUN steps in containers; commit.cpp turns
// a step into an image.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/build/builder.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/build/dockerignore.hpp"
#include "dind/image/layer_store.hpp"
#include "steps.hpp"

namespace dind::build {

// What a step adds to the image: a layer (from an upper directory) or none.
struct StepCommit {
  model::Config probe;            // the step's container config (the cache key)
  std::string container_id;       // the container the step ran in, "" when none
  std::string created_by;         // the history's created_by
  std::optional<std::string> upper;  // an upper directory whose diff is the layer
};

class Build {
 public:
  Build(const BuilderDeps& deps, const std::filesystem::path& context, const BuildOptions& options,
        const BuildOutput& out);
  base::Result<BuildResult> run();
  int failed_code() const { return failed_code_; }
  // -q: the output held back (dockerd sends it when the build fails).
  const std::string& quiet_log() const { return quiet_log_; }

  // Output. say() sends {"stream": text} (not in quiet mode); false when the
  // client left (the build then stops).
  bool say(const std::string& text);
  bool alive() const { return !gone_.load(); }
  const BuildOptions& options() const { return options_; }
  const BuilderDeps& deps() const { return deps_; }

  // run_step.cpp: RUN in a container of the engine.
  base::Status run_step(const Instruction& ins, StageState& s);
  // A container for a step's "Running in" (metadata steps, WORKDIR): its ID.
  base::Result<std::string> create_step_container(const model::Config& config);
  // The same for a step that runs nothing; "" on scratch (no image to make
  // a container of).
  base::Result<std::string> nop_container(const StageState& s, const model::Config& probe);
  void remove_step_container(const std::string& id, bool failed);

  // commit.cpp: the cache probe and the commit of a step.
  // A cached image for the step (a child of s.image_id made by `probe`).
  std::optional<std::string> probe_cache(const StageState& s, const model::Config& probe);
  base::Status commit(StageState& s, StepCommit step);
  // A cache hit: " ---> Using cache" and the stage moves to that image.
  base::Status use_cached(StageState& s, const std::string& id);

 private:
  struct StagePlan {
    size_t from = 0;   // index of the FROM instruction
    size_t end = 0;    // one past the last instruction
    std::string name;  // lower case
  };

  base::Status load_dockerfile();
  base::Result<std::vector<StagePlan>> plan_stages(std::vector<bool>& needed);
  base::Status run_stage(const StagePlan& plan, size_t index);
  base::Status from_step(const Instruction& ins, StageState& s);
  base::Status dispatch(const Instruction& ins, StageState& s);
  base::Status metadata_step(const Instruction& ins, StageState& s);
  base::Status workdir_step(const Instruction& ins, StageState& s);
  base::Status copy_step(const Instruction& ins, StageState& s);
  base::Result<std::string> image_for(const std::string& ref);  // pulls when missing
  void step_line(const std::string& text);

  BuilderDeps deps_;
  std::filesystem::path context_;
  BuildOptions options_;
  BuildOutput out_;
  std::atomic<bool> gone_{false};
  int failed_code_ = 0;
  std::string quiet_log_;  // -q: what would have been said, sent on failure

  Dockerfile dockerfile_;
  std::string dockerfile_name_;
  IgnoreMatcher ignore_;
  base::UniqueFd context_fd_;
  BuildArgs global_args_;
  std::string maintainer_;
  int step_ = 0, steps_ = 0;
  std::map<std::string, std::string> stage_images_;  // name or index -> image ID
  std::vector<std::string> cache_sources_;  // --cache-from images' configs
  // --cache-from: an image for the step restored from a source image whose
  // history continues the current image's with this step.
  std::optional<std::string> restore_from_sources(const StageState& s, const model::Config& probe);
  std::string last_image_;
};

// A scratch root file system of an image (COPY and WORKDIR write into it,
// COPY --from reads from it): prepared and mounted by open(), unmounted by
// close() (the descriptor first: an open one keeps the mount busy), its
// directories removed on destruction.
class ScratchRoot {
 public:
  explicit ScratchRoot(image::LayerStore& layers) : layers_(layers) {}
  ~ScratchRoot();
  ScratchRoot(const ScratchRoot&) = delete;
  ScratchRoot& operator=(const ScratchRoot&) = delete;

  base::Status open(const std::optional<std::string>& top_layer);
  int fd() const { return fd_.get(); }  // O_PATH directory of the merged tree
  base::Status close();
  const std::filesystem::path& upper() const { return plan_.upper; }

 private:
  image::LayerStore& layers_;
  std::string id_;
  image::RootfsPlan plan_;
  base::UniqueFd fd_;
  bool prepared_ = false, mounted_ = false;
};

std::string short_id(const std::string& id);
// A fresh identifier for scratch root file systems ("build-<hex>").
std::string scratch_id();

}  // namespace dind::build
