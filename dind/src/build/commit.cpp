// A step becomes an image: its layer (the diff of an upper directory, when
// it changed anything), its config and its history entry, as dockerd's
// classic builder writes them; and the cache that finds such an image again.

#include <nlohmann/json.hpp>

#include "build_internal.hpp"
#include "dind/base/time.hpp"
#include "dind/image/layer_diff.hpp"
#include "dind/model/container_json.hpp"
#include "dind/version.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using nlohmann::json;

namespace {

json scratch_config() {
  return json{{"architecture", "amd64"},
              {"os", "linux"},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
}

// Two step configs are the same step when they differ at most in the
// container's host name (dockerd's cache compares the same way, field by field).
bool same_step(model::Config a, model::Config b) {
  a.hostname.clear();
  b.hostname.clear();
  a.domainname.clear();
  b.domainname.clear();
  return a == b;
}

}  // namespace

std::optional<std::string> Build::probe_cache(const StageState& s, const model::Config& probe) {
  if (options_.no_cache) {
    return std::nullopt;
  }
  std::optional<std::string> best;
  std::string best_created;
  for (const auto& child : deps_.images->children(s.image_id)) {
    auto summary = deps_.images->get(child);
    if (!summary) {
      continue;
    }
    auto cfg = json::parse(summary->config, nullptr, false);
    if (!cfg.is_object() || !cfg.contains("container_config")) {
      continue;
    }
    auto cc = model::decode_config(cfg["container_config"]);
    if (!cc || !same_step(*cc, probe)) {
      continue;
    }
    const std::string created = cfg.value("created", "");
    if (!best || created > best_created) {
      best = child;
      best_created = created;
    }
  }
  if (!best && !cache_sources_.empty()) {
    best = restore_from_sources(s, probe);
  }
  return best;
}

std::optional<std::string> Build::restore_from_sources(const StageState& s,
                                                       const model::Config& probe) {
  const json parent = s.base_config.empty() ? scratch_config() : json::parse(s.base_config, nullptr, false);
  const json parent_history = parent.value("history", json::array());
  const json parent_diffs = parent.value("rootfs", json::object()).value("diff_ids", json::array());
  const std::string created_by = join_words(probe.cmd.value_or(model::Strings{}));
  const size_t h = parent_history.size();
  for (const auto& text : cache_sources_) {
    const json target = json::parse(text, nullptr, false);
    if (!target.is_object()) {
      continue;
    }
    const json history = target.value("history", json::array());
    const json diffs = target.value("rootfs", json::object()).value("diff_ids", json::array());
    // dockerd's rule: the source's history continues the parent's exactly,
    // its layers start with the parent's, and its next entry is this step.
    if (history.size() <= h || parent_diffs.size() > diffs.size()) {
      continue;
    }
    bool prefix = true;
    for (size_t i = 0; i < h && prefix; ++i) {
      prefix = history[i] == parent_history[i];
    }
    for (size_t i = 0; i < parent_diffs.size() && prefix; ++i) {
      prefix = diffs[i] == parent_diffs[i];
    }
    if (!prefix || history[h].value("created_by", "") != created_by) {
      continue;
    }
    // The step's layer: the source's layer of that history entry.
    json cfg = parent;
    cfg["history"] = parent_history;
    cfg["history"].push_back(history[h]);
    if (!history[h].value("empty_layer", false)) {
      size_t layer = 0;
      for (size_t i = 0; i < h; ++i) {
        layer += history[i].value("empty_layer", false) ? 0 : 1;
      }
      if (layer >= diffs.size()) {
        continue;
      }
      cfg["rootfs"]["diff_ids"] = parent_diffs;
      cfg["rootfs"]["diff_ids"].push_back(diffs[layer]);
    }
    model::Config run = s.config;
    run.image = s.image_id;
    cfg.erase("container");
    cfg["config"] = model::encode_config(run);
    cfg["container_config"] = model::encode_config(probe);
    cfg["created"] = history[h].value("created", cfg.value("created", ""));
    std::lock_guard lock(*deps_.mutations);
    auto id = deps_.images->add(cfg.dump(), s.image_id);
    if (id) {
      return *id;
    }
  }
  return std::nullopt;
}

Status Build::use_cached(StageState& s, const std::string& id) {
  auto summary = deps_.images->get(id);
  if (!summary) {
    return std::move(summary).error();
  }
  say(" ---> Using cache\n");
  s.image_id = id;
  s.base_config = summary->config;
  return {};
}

Status Build::commit(StageState& s, StepCommit step) {
  json cfg = s.base_config.empty() ? scratch_config() : json::parse(s.base_config, nullptr, false);
  if (!cfg.is_object()) {
    return make_error(ErrorKind::kDataLoss, "the image config of " + s.image_id + " is corrupt");
  }
  std::optional<std::string> parent_chain;
  if (!s.image_id.empty()) {
    auto summary = deps_.images->get(s.image_id);
    if (!summary) {
      return std::move(summary).error();
    }
    parent_chain = summary->top_layer;
  }
  std::lock_guard lock(*deps_.mutations);
  bool empty = true;
  if (step.upper && !image::diff_is_empty(*step.upper)) {
    auto layer = image::commit_diff(*deps_.layers, *step.upper, parent_chain, deps_.content);
    if (!layer) {
      return std::move(layer).error();
    }
    if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object()) {
      cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    }
    if (!cfg["rootfs"].contains("diff_ids") || !cfg["rootfs"]["diff_ids"].is_array()) {
      cfg["rootfs"]["diff_ids"] = json::array();
    }
    cfg["rootfs"]["diff_ids"].push_back(layer->diff_id);
    empty = false;
  }
  const std::string now = base::rfc3339_nano(std::chrono::system_clock::now());
  model::Config run = s.config;
  run.image = s.image_id;
  model::Config probe = step.probe;
  if (!step.container_id.empty()) {
    probe.hostname = short_id(step.container_id);
  }
  cfg.erase("id");
  cfg.erase("parent");
  cfg["config"] = model::encode_config(run);
  cfg["container_config"] = model::encode_config(probe);
  if (step.container_id.empty()) {
    cfg.erase("container");
  } else {
    cfg["container"] = step.container_id;
  }
  cfg["created"] = now;
  cfg["docker_version"] = kEngineVersion;
  if (!maintainer_.empty()) {
    cfg["author"] = maintainer_;
  }
  json h = {{"created", now}, {"created_by", step.created_by}};
  if (!maintainer_.empty()) {
    h["author"] = maintainer_;
  }
  if (empty) {
    h["empty_layer"] = true;
  }
  if (!cfg.contains("history") || !cfg["history"].is_array()) {
    cfg["history"] = json::array();
  }
  cfg["history"].push_back(h);
  const std::string text = cfg.dump();
  auto id = deps_.images->add(text, s.image_id);
  if (!id) {
    return std::move(id).error();
  }
  s.image_id = *id;
  s.base_config = text;
  return {};
}

}  // namespace dind::build
