// docker commit: dockerd's CreateImageFromContainer on the builder's parts.

#include <nlohmann/json.hpp>

#include "dind/base/time.hpp"
#include "dind/build/commit.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/engine/container_config.hpp"
#include "dind/image/layer_diff.hpp"
#include "dind/image/reference.hpp"
#include "dind/model/container_json.hpp"
#include "dind/version.hpp"
#include "steps.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using nlohmann::json;

namespace {

// The instructions `--change` may carry (dockerd's validCommitCommands).
bool valid_change(const std::string& command) {
  static const char* kValid[] = {"cmd",        "entrypoint", "healthcheck", "env",    "expose", "label",
                                 "onbuild",    "stopsignal", "user",        "volume", "workdir"};
  for (const char* v : kValid) {
    if (command == v) {
      return true;
    }
  }
  return false;
}

// The body's config (or none) with the changes applied, the container's
// config filling what they leave unset (dockerd's merge).
base::Result<model::Config> commit_config(const CommitOptions& o, const model::Config& container,
                                          const std::string& id) {
  StageState s;
  s.config = o.config.value_or(model::Config{});
  std::string maintainer;
  int line = 0;
  for (const auto& change : o.changes) {
    if (change.empty()) {
      continue;
    }
    DIND_ASSIGN_OR_RETURN(auto ins, parse_instruction(change, '\\', ++line));
    std::string command = ins.command;
    for (auto& ch : command) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    if (!valid_change(command)) {
      return make_error(ErrorKind::kInvalidArgument, command + " is not a valid change command");
    }
    DIND_TRY(apply_metadata(ins, s, '\\', maintainer));
  }
  return engine::merge_config(std::move(s.config), container, id);
}

}  // namespace

base::Result<std::string> commit_container(const BuilderDeps& deps, const CommitOptions& o) {
  DIND_ASSIGN_OR_RETURN(const auto src, deps.containers->commit_source(o.container));
  std::optional<image::Reference> ref;
  if (!o.repo.empty()) {
    auto parsed = image::parse_reference(o.repo + (o.tag.empty() ? "" : ":" + o.tag));
    if (!parsed) {
      return std::move(parsed).error();
    }
    if (!parsed->tag && !parsed->digest) {
      parsed->tag = "latest";
    }
    ref = std::move(*parsed);
  }
  DIND_ASSIGN_OR_RETURN(const model::Config config, commit_config(o, src.config, src.id));
  DIND_ASSIGN_OR_RETURN(const auto parent, deps.images->get(src.image_id));
  json cfg = json::parse(parent.config, nullptr, false);
  if (!cfg.is_object()) {
    return make_error(ErrorKind::kDataLoss, "the image config of " + src.image_id + " is corrupt");
  }
  // A running container holds still while its changes are read (dockerd
  // pauses it unless asked not to).
  const bool freeze = o.pause && src.running && !src.paused;
  if (freeze) {
    DIND_TRY(deps.containers->pause(src.id));
  }
  struct Thaw {
    const BuilderDeps& deps;
    const std::string& id;
    bool on;
    ~Thaw() {
      if (on) {
        (void)deps.containers->unpause(id);
      }
    }
  } thaw{deps, src.id, freeze};
  std::lock_guard lock(*deps.mutations);
  bool empty = true;
  if (!image::diff_is_empty(src.upper)) {
    DIND_ASSIGN_OR_RETURN(auto layer, image::commit_diff(*deps.layers, src.upper, parent.top_layer, deps.content));
    if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object()) {
      cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    }
    if (!cfg["rootfs"].contains("diff_ids") || !cfg["rootfs"]["diff_ids"].is_array()) {
      cfg["rootfs"]["diff_ids"] = json::array();
    }
    cfg["rootfs"]["diff_ids"].push_back(layer.diff_id);
    empty = false;
  }
  const std::string now = base::rfc3339_nano(std::chrono::system_clock::now());
  cfg.erase("id");
  cfg.erase("parent");
  cfg["config"] = model::encode_config(config);
  cfg["container_config"] = model::encode_config(src.config);
  cfg["container"] = src.id;
  cfg["created"] = now;
  cfg["docker_version"] = kEngineVersion;
  cfg.erase("author");
  cfg.erase("comment");
  if (!o.author.empty()) {
    cfg["author"] = o.author;
  }
  if (!o.comment.empty()) {
    cfg["comment"] = o.comment;
  }
  json h = {{"created", now}, {"created_by", join_words(src.config.cmd.value_or(model::Strings{}))}};
  if (!o.author.empty()) {
    h["author"] = o.author;
  }
  if (!o.comment.empty()) {
    h["comment"] = o.comment;
  }
  if (empty) {
    h["empty_layer"] = true;
  }
  if (!cfg.contains("history") || !cfg["history"].is_array()) {
    cfg["history"] = json::array();
  }
  cfg["history"].push_back(h);
  DIND_ASSIGN_OR_RETURN(const std::string id, deps.images->add(cfg.dump(), src.image_id));
  if (ref) {
    DIND_TRY(deps.images->tag(*ref, id));
  }
  return id;
}

}  // namespace dind::build
