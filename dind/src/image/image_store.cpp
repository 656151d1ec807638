#include "dind/image/image_store.hpp"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/sha256.hpp"
#include "dind/image/chain_id.hpp"

namespace dind::image {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using nlohmann::json;

namespace {

constexpr int kSchemaVersion = 1;

std::string short_id(const std::string& id) {
  return id.substr(7, 12);
}

int64_t now_unix() {
  return static_cast<int64_t>(std::time(nullptr));
}

// "2026-11-29T01:32:06.123Z" -> unix seconds (0 when unparsable).
int64_t parse_rfc3339(const std::string& s) {
  std::tm tm{};
  if (s.size() < 19 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

Result<std::vector<std::string>> diff_ids_of(const json& cfg) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument, "invalid image config: " + why);
  };
  if (!cfg.is_object()) {
    return bad("not a JSON object");
  }
  auto rootfs = cfg.find("rootfs");
  if (rootfs == cfg.end() || !rootfs->is_object() || rootfs->value("type", "") != "layers") {
    return bad("rootfs.type must be \"layers\"");
  }
  std::vector<std::string> out;
  auto ids = rootfs->find("diff_ids");
  if (ids != rootfs->end() && !ids->is_null()) {
    if (!ids->is_array()) {
      return bad("rootfs.diff_ids must be an array");
    }
    for (const auto& d : *ids) {
      if (!d.is_string() || !valid_digest(d.get<std::string>())) {
        return bad("invalid diff ID in rootfs.diff_ids");
      }
      out.push_back(d.get<std::string>());
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::open(const fs::path& root, ContentStore& content,
                                                     LayerStore& layers) {
  auto s = std::unique_ptr<ImageStore>(new ImageStore());
  s->root_ = root;
  s->content_ = &content;
  s->layers_ = &layers;
  base::FileTransaction tx;
  DIND_TRY(tx.ensure_dir(root, 0700));
  DIND_TRY(tx.commit());
  base::remove_interrupted_writes(root);  // a write the last run's end cut
  auto text = base::read_file(root / "repositories.json", 64u << 20);
  if (!text) {
    if (text.error().sys_errno == ENOENT) {
      return s;
    }
    return std::move(text).error();
  }
  auto doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || doc.value("version", 0) != kSchemaVersion) {
    return make_error(ErrorKind::kDataLoss, (root / "repositories.json").string() + " is corrupt");
  }
  try {
    for (auto& [id, added] : doc.at("images").items()) {
      s->images_[id] = added.get<int64_t>();
    }
    for (auto& [ref, id] : doc.at("refs").items()) {
      s->refs_[ref] = id.get<std::string>();
    }
    const json tag_times = doc.value("tag_times", json::object());  // not a temporary in the loop
    for (auto& [id, t] : tag_times.items()) {
      s->tag_times_[id] = t.get<int64_t>();
    }
    const json parents = doc.value("parents", json::object());  // absent before the builder
    for (auto& [id, p] : parents.items()) {
      s->parents_[id] = p.get<std::string>();
    }
  } catch (const json::exception&) {
    return make_error(ErrorKind::kDataLoss, (root / "repositories.json").string() + " is corrupt");
  }
  return s;
}

Status ImageStore::save_locked() const {
  json doc = {
      {"version", kSchemaVersion}, {"images", images_},       {"refs", refs_},
      {"tag_times", tag_times_},   {"parents", parents_}};
  return base::write_file_atomic(root_ / "repositories.json", doc.dump() + "\n", 0600);
}

Result<std::string> ImageStore::add(const std::string& config_json,
                                    const std::optional<std::string>& parent) {
  auto cfg = json::parse(config_json, nullptr, false);
  if (cfg.is_discarded()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid image config: not JSON");
  }
  auto diffs = diff_ids_of(cfg);
  if (!diffs) {
    return std::move(diffs).error();
  }
  for (const auto& chain : chain_ids(*diffs)) {
    if (!layers_->has(chain)) {
      return make_error(ErrorKind::kNotFound, "layer " + chain + " of the image is missing");
    }
  }
  auto id = content_->put(config_json);
  if (!id) {
    return std::move(id).error();
  }
  std::lock_guard lock(mu_);
  // parent "": built on scratch (recorded, so that the builder's cache
  // finds it among the children of nothing).
  if (parent && !parent->empty() && !images_.count(*parent)) {
    return make_error(ErrorKind::kNotFound, "No such image: " + *parent);
  }
  const bool reparent = parent && !parents_.count(*id) && *parent != *id;
  if (!images_.count(*id) || reparent) {
    images_.emplace(*id, now_unix());
    if (reparent) {
      parents_[*id] = *parent;
    }
    DIND_TRY(save_locked());
  }
  return id;
}

std::string ImageStore::parent(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = parents_.find(id);
  return it == parents_.end() ? std::string() : it->second;
}

std::vector<std::string> ImageStore::children(const std::string& id) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [child, p] : parents_) {
    if (p == id) {
      out.push_back(child);
    }
  }
  return out;
}

Status ImageStore::tag(const Reference& ref, const std::string& id) {
  std::lock_guard lock(mu_);
  if (!images_.count(id)) {
    return make_error(ErrorKind::kNotFound, "No such image: " + id);
  }
  const std::string key = ref.to_string();
  const auto old = refs_;
  refs_[key] = id;
  tag_times_[id] = now_unix();
  if (auto st = save_locked(); !st) {
    refs_ = old;
    return st;
  }
  return {};
}

Result<std::string> ImageStore::resolve_locked(std::string_view name) const {
  auto not_found = [&] {
    return make_error(ErrorKind::kNotFound, "No such image: " + std::string(name));
  };
  if (looks_like_id_prefix(name)) {
    std::string prefix(name);
    if (prefix.rfind("sha256:", 0) != 0) {
      prefix = "sha256:" + prefix;
    }
    std::vector<std::string> hits;
    for (auto it = images_.lower_bound(prefix);
         it != images_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      hits.push_back(it->first);
    }
    if (hits.size() == 1) {
      return hits[0];
    }
    // A short hex name may also be a repository name ("deadbeef:latest").
  }
  auto ref = parse_reference(name);
  if (!ref) {
    return looks_like_id_prefix(name) ? not_found() : Result<std::string>(std::move(ref).error());
  }
  auto it = refs_.find(ref->to_string());
  if (it == refs_.end()) {
    return not_found();
  }
  return it->second;
}

Result<std::string> ImageStore::resolve(std::string_view name) const {
  std::lock_guard lock(mu_);
  return resolve_locked(name);
}

Result<ImageSummary> ImageStore::summary_locked(const std::string& id) const {
  if (!images_.count(id)) {
    return make_error(ErrorKind::kNotFound, "No such image: " + id);
  }
  auto cfg_text = content_->read(id);
  if (!cfg_text) {
    return std::move(cfg_text).error();
  }
  auto cfg = json::parse(*cfg_text, nullptr, false);
  ImageSummary s;
  s.id = id;
  s.config = *cfg_text;
  s.created = parse_rfc3339(cfg.value("created", ""));
  s.tagged = tag_times_.count(id) ? tag_times_.at(id) : 0;
  if (auto p = parents_.find(id); p != parents_.end()) {
    s.parent = p->second;
  }
  s.has_children = std::any_of(parents_.begin(), parents_.end(),
                               [&](const auto& kv) { return kv.second == id; });
  auto diffs = diff_ids_of(cfg);
  if (diffs) {
    s.diff_ids = *diffs;
    auto chains = chain_ids(*diffs);
    for (const auto& c : chains) {
      if (auto info = layers_->get(c)) {
        s.size += info->size;
      }
    }
    if (!chains.empty()) {
      s.top_layer = chains.back();
    }
  }
  for (const auto& [ref, target] : refs_) {
    if (target != id) {
      continue;
    }
    auto r = parse_reference(ref, false);
    if (!r) {
      continue;
    }
    if (r->digest) {
      s.repo_digests.push_back(r->familiar());
    } else {
      s.repo_tags.push_back(r->familiar());
    }
  }
  return s;
}

Result<ImageSummary> ImageStore::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  return summary_locked(id);
}

std::vector<ImageSummary> ImageStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<ImageSummary> out;
  for (const auto& [id, added] : images_) {
    if (auto s = summary_locked(id)) {
      out.push_back(std::move(*s));
    }
  }
  return out;
}

std::set<std::string> ImageStore::referenced_layers() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, added] : images_) {
    if (auto cfg = content_->read(id)) {
      if (auto diffs = diff_ids_of(json::parse(*cfg, nullptr, false))) {
        for (const auto& c : chain_ids(*diffs)) {
          out.insert(c);
        }
      }
    }
  }
  return out;
}

bool ImageStore::prunable_holds_locked(const std::string& id, const InUse& in_use) const {
  for (const auto& [ref, target] : refs_) {
    if (target == id) {
      return true;
    }
  }
  for (const auto& [child, p] : parents_) {
    if (p == id) {
      return true;
    }
  }
  return in_use && in_use(id).has_value();
}

Result<ImageStore::Removal> ImageStore::remove(
    std::string_view name, bool force, const InUse& in_use) {
  Removal out;
  std::string id;
  {
    std::lock_guard lock(mu_);
    auto resolved = resolve_locked(name);
    if (!resolved) {
      return std::move(resolved).error();
    }
    id = *resolved;
    std::vector<std::string> refs;
    for (const auto& [ref, target] : refs_) {
      if (target == id) {
        refs.push_back(ref);
      }
    }
    auto by_ref = parse_reference(name);
    const bool named = by_ref && refs_.count(by_ref->to_string()) && !looks_like_id_prefix(name);
    if (named && refs.size() > 1) {
      // dockerd: removing the last tag of a repository also drops that
      // repository's digest references (name@sha256:...); any other
      // reference keeps the image, and only the references go.
      std::vector<std::string> gone{by_ref->to_string()};
      if (!by_ref->digest) {
        bool tag_left = false;
        std::vector<std::string> digests;
        for (const auto& r : refs) {
          auto p = parse_reference(r, false);
          if (!p || r == gone[0] || p->name() != by_ref->name()) {
            continue;
          }
          if (p->digest) {
            digests.push_back(r);
          } else {
            tag_left = true;
          }
        }
        if (!tag_left) {
          gone.insert(gone.end(), digests.begin(), digests.end());
        }
      }
      if (gone.size() < refs.size()) {
        for (const auto& r : gone) {
          refs_.erase(r);
          if (auto p = parse_reference(r, false)) {
            out.untagged.push_back(p->familiar());
          }
        }
        DIND_TRY(save_locked());
        return out;
      }
    }
    const bool has_children = std::any_of(parents_.begin(), parents_.end(),
                                           [&](const auto& kv) { return kv.second == id; });
    if (has_children && named) {
      // dockerd: the last tag of an image other images were built on goes;
      // the image stays (an intermediate image now).
      refs_.erase(by_ref->to_string());
      out.untagged.push_back(by_ref->familiar());
      DIND_TRY(save_locked());
      return out;
    }
    if (has_children) {
      return make_error(ErrorKind::kConflict, "conflict: unable to delete " + short_id(id) +
                                                  " (cannot be forced) - image has dependent "
                                                  "child images");
    }
    // From here on the image itself is deleted; check everything first.
    if (auto user = in_use ? in_use(id) : std::nullopt) {
      if (named && force) {
        // dockerd: a forced removal of a used image only drops the tag.
        refs_.erase(by_ref->to_string());
        out.untagged.push_back(by_ref->familiar());
        DIND_TRY(save_locked());
        return out;
      }
      if (named) {
        return make_error(ErrorKind::kConflict,
                          "conflict: unable to remove repository reference \"" + std::string(name) +
                              "\" (must force) - container " + user->substr(0, 12) +
                              " is using its referenced image " + short_id(id));
      }
      return make_error(ErrorKind::kConflict, "conflict: unable to delete " + short_id(id) +
                                                  " (must be forced) - image is being used by container " +
                                                  user->substr(0, 12));
    }
    if (!named) {
      std::set<std::string> repos;
      for (const auto& r : refs) {
        if (auto p = parse_reference(r, false)) {
          repos.insert(p->name());
        }
      }
      if (repos.size() > 1 && !force) {
        return make_error(ErrorKind::kConflict,
                          "conflict: unable to delete " + short_id(id) +
                              " (must be forced) - image is referenced in multiple "
                              "repositories");
      }
    }
    for (const auto& r : refs) {
      refs_.erase(r);
      if (auto p = parse_reference(r, false)) {
        out.untagged.push_back(p->familiar());
      }
    }
    images_.erase(id);
    tag_times_.erase(id);
    out.deleted.push_back(id);
    // The parents the image was built on, while nothing else holds them.
    auto up = parents_.find(id);
    std::string next = up == parents_.end() ? std::string() : up->second;
    parents_.erase(id);
    while (!next.empty() && images_.count(next) && !prunable_holds_locked(next, in_use)) {
      images_.erase(next);
      tag_times_.erase(next);
      out.deleted.push_back(next);
      auto p = parents_.find(next);
      const std::string after = p == parents_.end() ? std::string() : p->second;
      parents_.erase(next);
      next = after;
    }
    DIND_TRY(save_locked());
  }
  collect_garbage();
  return out;
}

Result<ImageStore::Removal> ImageStore::prune_built(const InUse& in_use, uint64_t& reclaimed) {
  Removal out;
  std::set<std::string> before = referenced_layers();
  {
    std::lock_guard lock(mu_);
    for (bool again = true; again;) {
      again = false;
      for (auto it = parents_.begin(); it != parents_.end(); ++it) {
        const std::string id = it->first;
        if (!images_.count(id) || prunable_holds_locked(id, in_use)) {
          continue;
        }
        images_.erase(id);
        tag_times_.erase(id);
        parents_.erase(it);
        out.deleted.push_back(id);
        again = true;  // its parent may be free now
        break;
      }
    }
    if (out.deleted.empty()) {
      return out;
    }
    DIND_TRY(save_locked());
  }
  const std::set<std::string> after = referenced_layers();
  reclaimed = 0;
  for (const auto& chain : before) {
    if (!after.count(chain)) {
      if (auto info = layers_->get(chain)) {
        reclaimed += info->size;
      }
    }
  }
  collect_garbage();
  return out;
}

void ImageStore::collect_garbage() {
  (void)layers_->gc(referenced_layers());
  // Configs and kept layer tars of what no image references any more.
  std::set<std::string> blobs;
  std::set<std::string> live_diffs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [image_id, added] : images_) {
      blobs.insert(image_id);
      if (auto cfg = content_->read(image_id)) {
        if (auto diffs = diff_ids_of(json::parse(*cfg, nullptr, false))) {
          blobs.insert(diffs->begin(), diffs->end());
          live_diffs.insert(diffs->begin(), diffs->end());
          for (const auto& d : *diffs) {
            if (auto kept = blob_sources_ ? blob_sources_->local(d) : std::nullopt) {
              blobs.insert(kept->digest);
            }
          }
        }
      }
    }
  }
  (void)content_->gc(blobs);
  if (blob_sources_) {
    blob_sources_->gc(live_diffs);
  }
}

}  // namespace dind::image
