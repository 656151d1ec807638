#include "dind/build/builder.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "build_internal.hpp"
#include "copy.hpp"
#include "dind/base/log.hpp"
#include "dind/image/layer_unpack.hpp"
#include "dind/image/reference.hpp"
#include "dind/model/container_json.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::build {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using base::UniqueFd;

namespace {

constexpr size_t kMaxDockerfile = 16u << 20;

// Instructions and the flags each takes (the classic builder's set, plus
// --chmod and --platform; BuildKit-only flags are refused by name).
bool flag_allowed(const std::string& cmd, const std::string& flag) {
  if (cmd == "from") {
    return flag == "platform";
  }
  if (cmd == "copy") {
    return flag == "from" || flag == "chown" || flag == "chmod";
  }
  if (cmd == "add") {
    return flag == "chown" || flag == "chmod";
  }
  if (cmd == "healthcheck") {
    return flag == "interval" || flag == "timeout" || flag == "start-period" ||
           flag == "start-interval" || flag == "retries";
  }
  return false;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

}  // namespace

std::string short_id(const std::string& id) {
  const auto colon = id.find(':');
  return id.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

std::string scratch_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[40];
  std::snprintf(buf, sizeof buf, "build-%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

Build::Build(const BuilderDeps& deps, const fs::path& context, const BuildOptions& options,
             const BuildOutput& out)
    : deps_(deps), context_(context), options_(options), out_(out) {}

bool Build::say(const std::string& text) {
  if (gone_) {
    return false;
  }
  if (options_.quiet) {
    quiet_log_ += text;
    return true;
  }
  if (!out_(nlohmann::json{{"stream", text}}.dump())) {
    gone_ = true;
    return false;
  }
  return true;
}

void Build::step_line(const std::string& text) {
  ++step_;
  say("Step " + std::to_string(step_) + "/" + std::to_string(steps_) + " : " + text);
  say("\n");
}

Status Build::load_dockerfile() {
  context_fd_ = UniqueFd(::open(context_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!context_fd_.valid()) {
    return base::sys_error(errno, "open the build context");
  }
  dockerfile_name_ = options_.dockerfile.empty() ? "Dockerfile" : options_.dockerfile;
  UniqueFd f(base::open_in_root(context_fd_.get(), dockerfile_name_, O_RDONLY));
  if (!f.valid() && options_.dockerfile.empty()) {
    f = UniqueFd(base::open_in_root(context_fd_.get(), "dockerfile", O_RDONLY));
  }
  struct stat st {};
  if (!f.valid() || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "Cannot locate specified Dockerfile: " + dockerfile_name_);
  }
  if (static_cast<size_t>(st.st_size) > kMaxDockerfile) {
    return make_error(ErrorKind::kInvalidArgument, "the Dockerfile is larger than 16 MiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (!text.empty() && ::pread(f.get(), text.data(), text.size(), 0) != st.st_size) {
    return base::sys_error(errno, "read the Dockerfile");
  }
  auto parsed = parse_dockerfile(text);
  if (!parsed) {
    return std::move(parsed).error();
  }
  dockerfile_ = std::move(*parsed);
  if (dockerfile_.instructions.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the Dockerfile (" + dockerfile_name_ + ") cannot be empty");
  }
  UniqueFd ig(base::open_in_root(context_fd_.get(), ".dockerignore", O_RDONLY));
  if (ig.valid() && ::fstat(ig.get(), &st) == 0 && S_ISREG(st.st_mode)) {
    std::string rules(static_cast<size_t>(std::min<off_t>(st.st_size, 1 << 20)), '\0');
    if (::pread(ig.get(), rules.data(), rules.size(), 0) < 0) {
      return base::sys_error(errno, "read .dockerignore");
    }
    auto m = IgnoreMatcher::parse(rules);
    if (!m) {
      return std::move(m).error().with_context("failed to parse .dockerignore");
    }
    ignore_ = std::move(*m);
  }
  return {};
}

Result<std::vector<Build::StagePlan>> Build::plan_stages(std::vector<bool>& needed) {
  std::vector<StagePlan> stages;
  const auto& ins = dockerfile_.instructions;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i].command == "from") {
      StagePlan p;
      p.from = i;
      if (ins[i].args.size() == 3 && lower(ins[i].args[1]) == "as") {
        p.name = lower(ins[i].args[2]);
      } else if (ins[i].args.size() != 1) {
        return make_error(ErrorKind::kInvalidArgument,
                          "dockerfile parse error line " + std::to_string(ins[i].line) +
                              ": FROM requires either one or three arguments");
      }
      if (!stages.empty()) {
        stages.back().end = i;
      }
      for (const auto& s : stages) {
        if (!p.name.empty() && s.name == p.name) {
          return make_error(ErrorKind::kInvalidArgument,
                            "duplicate name " + p.name);
        }
      }
      stages.push_back(p);
    } else if (stages.empty() && ins[i].command != "arg") {
      return make_error(ErrorKind::kInvalidArgument, "no build stage in current context");
    }
  }
  if (stages.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "No build stage in current context");
  }
  stages.back().end = ins.size();
  size_t last = stages.size() - 1;
  if (!options_.target.empty()) {
    const std::string t = lower(options_.target);
    auto it = std::find_if(stages.begin(), stages.end(), [&](const auto& s) { return s.name == t; });
    if (it == stages.end()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "failed to reach build target " + options_.target + " in Dockerfile");
    }
    last = static_cast<size_t>(it - stages.begin());
  }
  stages.resize(last + 1);
  // Only the stages the target needs: its FROM chain and COPY --from sources.
  auto index_of = [&](const std::string& ref) -> std::optional<size_t> {
    const std::string r = lower(ref);
    for (size_t k = 0; k < stages.size(); ++k) {
      if (!stages[k].name.empty() && stages[k].name == r) {
        return k;
      }
    }
    if (!r.empty() && std::all_of(r.begin(), r.end(), ::isdigit) && std::stoul(r) < stages.size()) {
      return std::stoul(r);
    }
    return std::nullopt;
  };
  needed.assign(stages.size(), false);
  std::vector<size_t> todo{last};
  while (!todo.empty()) {
    const size_t k = todo.back();
    todo.pop_back();
    if (needed[k]) {
      continue;
    }
    needed[k] = true;
    const auto& from = ins[stages[k].from];
    if (auto dep = index_of(from.args.empty() ? "" : from.args[0]); dep && *dep < k) {
      todo.push_back(*dep);
    }
    for (size_t i = stages[k].from + 1; i < stages[k].end; ++i) {
      if (const std::string* f = ins[i].flag("from")) {
        if (auto dep = index_of(*f); dep && *dep < k) {
          todo.push_back(*dep);
        }
      }
    }
  }
  return stages;
}

Result<BuildResult> Build::run() {
  DIND_TRY(load_dockerfile());
  if (!options_.platform.empty() && options_.platform != "linux" &&
      options_.platform.rfind("linux/amd64", 0) != 0) {
    return make_error(ErrorKind::kInvalidArgument,
                      "platform " + options_.platform + " is not supported by this builder "
                      "(it builds for linux/amd64)");
  }
  // --label: a LABEL step at the end of the target stage, as dockerd adds it.
  std::vector<bool> needed;
  auto stages = plan_stages(needed);
  if (!stages) {
    return std::move(stages).error();
  }
  if (!options_.labels.empty()) {
    Instruction label;
    label.command = "label";
    label.original = "LABEL";
    for (const auto& [k, v] : options_.labels) {
      label.args.push_back(k);
      label.args.push_back(v);
      label.original += " " + go_quote(k) + "=" + go_quote(v);
    }
    label.line = dockerfile_.instructions.back().line;
    auto& all = dockerfile_.instructions;
    all.insert(all.begin() + static_cast<std::ptrdiff_t>(stages->back().end), label);
    stages->back().end += 1;
  }
  global_args_.given = options_.build_args;
  for (const auto& ref : options_.cache_from) {
    auto id = deps_.images->resolve(ref);
    auto summary = id ? deps_.images->get(*id) : Result<image::ImageSummary>(id.error());
    if (!summary) {
      say("[Warning] --cache-from " + ref + ": " + summary.error().message + "\n");
      continue;
    }
    cache_sources_.push_back(summary->config);
  }
  size_t first_from = stages->front().from;
  steps_ = static_cast<int>(first_from);
  for (size_t k = 0; k < stages->size(); ++k) {
    if (needed[k]) {
      steps_ += static_cast<int>((*stages)[k].end - (*stages)[k].from);
    }
  }
  // ARGs before the first FROM: values for FROM lines and for stages that
  // declare them again.
  for (size_t i = 0; i < first_from; ++i) {
    const auto& ins = dockerfile_.instructions[i];
    step_line(ins.original);
    StageState meta;
    meta.args = global_args_;
    meta.args.declared = global_args_.global;
    std::string ignored;
    auto applied = apply_metadata(ins, meta, dockerfile_.escape, ignored);
    if (!applied) {
      return std::move(applied).error();
    }
    global_args_.global = meta.args.declared;
    global_args_.referenced.insert(meta.args.referenced.begin(), meta.args.referenced.end());
  }
  for (size_t k = 0; k < stages->size(); ++k) {
    if (!needed[k]) {
      continue;
    }
    DIND_TRY(run_stage((*stages)[k], k));
  }
  BuildResult result;
  result.image_id = last_image_;
  if (result.image_id.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "No image was generated. Is your Dockerfile empty?");
  }
  if (!options_.quiet) {
    out_(nlohmann::json{{"aux", {{"ID", result.image_id}}}}.dump());
  }
  say("Successfully built " + short_id(result.image_id) + "\n");
  for (const auto& t : options_.tags) {
    auto ref = image::parse_reference(t);
    if (!ref) {
      return std::move(ref).error();
    }
    if (!ref->tag && !ref->digest) {
      ref->tag = "latest";
    }
    DIND_TRY(deps_.images->tag(*ref, result.image_id));
    result.tagged.push_back(ref->familiar());
    say("Successfully tagged " + ref->familiar() + "\n");
  }
  if (options_.quiet) {
    out_(nlohmann::json{{"stream", result.image_id + "\n"}}.dump());
  }
  // Arguments given but never declared: dockerd's warning.
  std::vector<std::string> unused;
  for (const auto& [k, v] : options_.build_args) {
    if (!global_args_.referenced.count(k) && !is_builtin_arg(k)) {
      unused.push_back(k);
    }
  }
  if (!unused.empty()) {
    std::string list;
    for (const auto& u : unused) {
      list += (list.empty() ? "" : " ") + u;
    }
    say("[Warning] One or more build-args [" + list + "] were not consumed\n");
  }
  return result;
}

Status Build::run_stage(const StagePlan& plan, size_t index) {
  const auto& all = dockerfile_.instructions;
  StageState s;
  s.name = plan.name;
  s.args.given = options_.build_args;
  s.args.global = global_args_.global;
  s.args.referenced = global_args_.referenced;
  step_line(all[plan.from].original);
  DIND_TRY(from_step(all[plan.from], s));
  for (size_t i = plan.from + 1; i < plan.end; ++i) {
    if (!alive()) {
      return make_error(ErrorKind::kUnavailable, "the build was cancelled (the client left)");
    }
    step_line(all[i].original);
    DIND_TRY(dispatch(all[i], s));
    say(" ---> " + short_id(s.image_id) + "\n");
  }
  global_args_.referenced.insert(s.args.referenced.begin(), s.args.referenced.end());
  stage_images_[std::to_string(index)] = s.image_id;
  if (!s.name.empty()) {
    stage_images_[s.name] = s.image_id;
  }
  last_image_ = s.image_id;
  return {};
}

Result<std::string> Build::image_for(const std::string& ref) {
  if (!options_.pull) {
    if (auto id = deps_.images->resolve(ref)) {
      return *id;
    }
  }
  if (!deps_.pull) {
    return make_error(ErrorKind::kNotFound, "No such image: " + ref);
  }
  return deps_.pull(ref, [this](const std::string& line) {
    if (options_.quiet) {
      return true;
    }
    if (!out_(line)) {
      gone_ = true;
      return false;
    }
    return true;
  });
}

Status Build::from_step(const Instruction& ins, StageState& s) {
  for (const auto& [flag, value] : ins.flags) {
    if (flag != "platform") {
      return make_error(ErrorKind::kInvalidArgument, "Unknown flag: " + flag);
    }
  }
  StageState meta;
  meta.args.declared = global_args_.global;
  meta.args.given = options_.build_args;
  auto name = expand_word(ins.args.empty() ? "" : ins.args[0], expansion_env(meta),
                          dockerfile_.escape);
  if (!name) {
    return std::move(name).error();
  }
  if (name->empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "base name (" + (ins.args.empty() ? "" : ins.args[0]) +
                          ") should not be blank");
  }
  std::string id;
  if (auto st = stage_images_.find(lower(*name)); st != stage_images_.end()) {
    id = st->second;
  } else if (lower(*name) != "scratch") {
    auto got = image_for(*name);
    if (!got) {
      return std::move(got).error();
    }
    id = *got;
  }
  s.image_id = id;
  std::vector<std::string> triggers;
  if (!id.empty()) {
    auto summary = deps_.images->get(id);
    if (!summary) {
      return std::move(summary).error();
    }
    s.base_config = summary->config;
    auto cfg = nlohmann::json::parse(summary->config, nullptr, false);
    if (cfg.is_object() && cfg.contains("config") && cfg["config"].is_object()) {
      auto decoded = model::decode_config(cfg["config"]);
      if (decoded) {
        s.config = std::move(*decoded);
      }
    }
    triggers = s.config.on_build.value_or(model::Strings{});
    s.config.on_build.reset();
  }
  if (!s.config.env) {
    s.config.env = model::Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  }
  say(" ---> " + short_id(id) + "\n");
  if (!triggers.empty()) {
    say("# Executing " + std::to_string(triggers.size()) + " build trigger" +
        (triggers.size() > 1 ? "s" : "") + "\n");
    for (const auto& t : triggers) {
      auto trig = parse_instruction(t, dockerfile_.escape, ins.line);
      if (!trig) {
        return std::move(trig).error();
      }
      DIND_TRY(dispatch(*trig, s));
    }
  }
  return {};
}

Status Build::dispatch(const Instruction& ins, StageState& s) {
  for (const auto& [flag, value] : ins.flags) {
    if (!flag_allowed(ins.command, flag)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "dockerfile parse error line " + std::to_string(ins.line) +
                            ": Unknown flag: " + flag +
                            (ins.command == "run" ? " (RUN flags need BuildKit)" : ""));
    }
  }
  const std::string& c = ins.command;
  if (c == "run") {
    return run_step(ins, s);
  }
  if (c == "copy" || c == "add") {
    return copy_step(ins, s);
  }
  if (c == "workdir") {
    return workdir_step(ins, s);
  }
  if (c == "from") {
    return make_error(ErrorKind::kInvalidArgument, "FROM inside a stage");
  }
  return metadata_step(ins, s);
}

Status Build::metadata_step(const Instruction& ins, StageState& s) {
  auto comment = apply_metadata(ins, s, dockerfile_.escape, maintainer_);
  if (!comment) {
    return std::move(comment).error();
  }
  const model::Config probe = nop_probe(s, *comment, true);
  if (auto hit = probe_cache(s, probe)) {
    return use_cached(s, *hit);
  }
  auto container = nop_container(s, probe);
  if (!container) {
    return std::move(container).error();
  }
  auto st = commit(s, StepCommit{probe, *container, join_words(*probe.cmd), std::nullopt});
  if (!container->empty()) {
    remove_step_container(*container, !st.ok());
  }
  return st;
}

}  // namespace dind::build

namespace dind::build {

Builder::Builder(BuilderDeps deps) : deps_(std::move(deps)) {}

Result<BuildResult> Builder::build(const fs::path& context, const BuildOptions& options,
                                   const BuildOutput& out, int& failed_code) {
  Build b(deps_, context, options, out);
  auto r = b.run();
  failed_code = b.failed_code();
  if (!r && options.quiet && !b.quiet_log().empty()) {
    out(nlohmann::json{{"stream", b.quiet_log()}}.dump());
  }
  return r;
}

Status extract_context(const std::function<ssize_t(void*, size_t)>& reader, const fs::path& dir) {
  image::UnpackOptions options;
  options.whiteouts = false;
  auto r = image::unpack_tree(reader, dir, options);
  if (!r) {
    return std::move(r).error().with_context("the build context");
  }
  return {};
}

}  // namespace dind::build
