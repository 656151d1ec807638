#include "dind/api/images.hpp"
#include "dind/api/filters.hpp"
#include "dind/version.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dind/api/errors.hpp"
#include "dind/api/route_util.hpp"
#include "dind/api/progress.hpp"
#include "dind/base/log.hpp"
#include "dind/base/text.hpp"
#include "dind/base/time.hpp"
#include "dind/image/archive_io.hpp"
#include "dind/image/chain_id.hpp"

namespace dind::api {
using base::ErrorKind;
using base::make_error;
using nlohmann::json;

namespace {

// Splits on whitespace, honouring "double" and 'single' quotes.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool any = false;
  for (char c : s) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      any = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (any || !cur.empty()) {
        out.push_back(cur);
      }
      cur.clear();
      any = false;
    } else {
      cur += c;
    }
  }
  if (any || !cur.empty()) {
    out.push_back(cur);
  }
  return out;
}

base::Result<json> string_list(std::string_view rest, bool shell_form_wraps) {
  if (!rest.empty() && rest[0] == '[') {
    auto arr = json::parse(rest, nullptr, false);
    if (arr.is_discarded() || !arr.is_array()) {
      return make_error(ErrorKind::kInvalidArgument, "invalid JSON array: " + std::string(rest));
    }
    for (const auto& v : arr) {
      if (!v.is_string()) {
        return make_error(ErrorKind::kInvalidArgument, "invalid JSON array: " + std::string(rest));
      }
    }
    return arr;
  }
  if (shell_form_wraps) {
    return json::array({"/bin/sh", "-c", std::string(rest)});
  }
  return json(words(rest));
}

}  // namespace

base::Status apply_changes(const std::vector<std::string>& changes, std::string& config_json) {
  json cfg = config_json.empty() ? json::object() : json::parse(config_json, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    cfg = json::object();
  }
  for (const auto& raw : changes) {
    std::string_view change = raw;
    while (!change.empty() && std::isspace(static_cast<unsigned char>(change.front()))) {
      change.remove_prefix(1);
    }
    const size_t sp = change.find_first_of(" \t");
    const std::string instr = base::ascii_lower(change.substr(0, sp));
    std::string_view rest =
        sp == std::string_view::npos ? std::string_view{} : change.substr(sp + 1);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
      rest.remove_prefix(1);
    }
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
      rest.remove_suffix(1);
    }
    auto need_arg = [&]() -> base::Status {
      if (rest.empty()) {
        return make_error(ErrorKind::kInvalidArgument, instr + " requires at least one argument");
      }
      return {};
    };
    if (instr == "cmd" || instr == "entrypoint") {
      DIND_TRY(need_arg());
      auto list = string_list(rest, true);
      if (!list) {
        return std::move(list).error();
      }
      cfg[instr == "cmd" ? "Cmd" : "Entrypoint"] = *list;
    } else if (instr == "env") {
      DIND_TRY(need_arg());
      json env = cfg.value("Env", json::array());
      auto set = [&](const std::string& k, const std::string& v) {
        for (auto& e : env) {
          if (e.get<std::string>().rfind(k + "=", 0) == 0) {
            e = k + "=" + v;
            return;
          }
        }
        env.push_back(k + "=" + v);
      };
      auto w = words(rest);
      if (!w.empty() &&
          w[0].find('=') == std::string::npos) {  // legacy "ENV KEY value with spaces"
        const std::string value(rest.substr(std::min(rest.size(), w[0].size() + 1)));
        set(w[0], value);
      } else {
        for (const auto& kv : w) {
          const auto eq = kv.find('=');
          if (eq == std::string::npos || eq == 0) {
            return make_error(ErrorKind::kInvalidArgument, "ENV names can not be blank: " + kv);
          }
          set(kv.substr(0, eq), kv.substr(eq + 1));
        }
      }
      cfg["Env"] = env;
    } else if (instr == "workdir" || instr == "user" || instr == "stopsignal") {
      DIND_TRY(need_arg());
      cfg[instr == "workdir" ? "WorkingDir"
          : instr == "user"  ? "User"
                             : "StopSignal"] = std::string(rest);
    } else if (instr == "expose") {
      DIND_TRY(need_arg());
      for (auto p : words(rest)) {
        if (p.find('/') == std::string::npos) {
          p += "/tcp";
        }
        cfg["ExposedPorts"][p] = json::object();
      }
    } else if (instr == "label") {
      DIND_TRY(need_arg());
      for (const auto& kv : words(rest)) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          return make_error(ErrorKind::kInvalidArgument, "LABEL must be key=value: " + kv);
        }
        cfg["Labels"][kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    } else if (instr == "volume") {
      DIND_TRY(need_arg());
      auto list = string_list(rest, false);
      if (!list) {
        return std::move(list).error();
      }
      for (const auto& v : *list) {
        cfg["Volumes"][v.get<std::string>()] = json::object();
      }
    } else {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string(change.substr(0, sp)) + " is not a valid change command");
    }
  }
  config_json = cfg.dump();
  return {};
}

json image_summary_json(const image::ImageSummary& s, ApiVersion v) {
  auto cfg = json::parse(s.config, nullptr, false);
  json labels = cfg.is_object() && cfg.contains("config") && cfg["config"].is_object() &&
                        cfg["config"].contains("Labels")
                    ? cfg["config"]["Labels"]
                    : json(nullptr);
  json tags = s.repo_tags;
  json digests = s.repo_digests;
  if (v < ApiVersion{1, 43}) {  // before 1.43: Go's nil slices, "<none>" for neither
    if (s.repo_tags.empty() && s.repo_digests.empty()) {
      tags = {"<none>:<none>"};
      digests = {"<none>@<none>"};
    } else {
      tags = s.repo_tags.empty() ? json(nullptr) : tags;
      digests = s.repo_digests.empty() ? json(nullptr) : digests;
    }
  }
  json j = {{"Containers", -1},    {"Created", s.created}, {"Id", s.id},
            {"Labels", labels},    {"ParentId", s.parent}, {"RepoDigests", digests},
            {"RepoTags", tags},    {"SharedSize", -1},     {"Size", s.size}};
  if (v < ApiVersion{1, 44}) {
    j["VirtualSize"] = s.size;  // removed in API 1.44
  }
  return j;
}

namespace {

// docker images' "reference" filter: a pattern on the familiar name, with or
// without a tag ("busybox", "busy*", "busybox:1.*").
bool matches_reference(const image::ImageSummary& s, const std::string& pattern) {
  for (const auto& t : s.repo_tags) {
    const std::string name = t.substr(0, t.rfind(':'));
    if (::fnmatch(pattern.c_str(), t.c_str(), 0) == 0 ||
        ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

base::Result<json> parse_filters(const Request& req) {
  auto f = req.query_value("filters");
  if (!f || f->empty()) {
    return json::object();
  }
  auto j = json::parse(*f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
  }
  // Old clients send {"key":["v"]}, new ones {"key":{"v":true}}: normalise.
  json out = json::object();
  for (auto& [k, v] : j.items()) {
    out[k] = json::array();
    if (v.is_array()) {
      for (auto& e : v) {
        out[k].push_back(e.is_string() ? e.get<std::string>() : e.dump());
      }
    } else if (v.is_object()) {
      for (auto& [e, on] : v.items()) {
        if (on.is_boolean() && on.get<bool>()) {
          out[k].push_back(e);
        }
      }
    } else {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
    }
    if (k != "reference" && k != "dangling" && k != "label" && k != "before" && k != "since") {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter '" + k + "'");
    }
  }
  return out;
}

Response import_reply(const std::string& id) {
  Response r;
  r.headers["Content-Type"] = "application/json";
  const std::string line = dump(json{{"status", id}});
  r.stream = [line](std::shared_ptr<BodyWriter> w) {
    w->write(line);
    w->finish();
  };
  return r;
}

}  // namespace

namespace {

// An image by reference or ID, with its summary.
base::Result<image::ImageSummary> lookup(const ImageContext& ctx, const std::string& name) {
  auto id = ctx.images->resolve(name);
  if (!id) {
    return std::move(id).error();
  }
  return ctx.images->get(*id);
}

// dockerd's untag (named by the reference) and delete events of a removal.
void removal_events(const ImageContext& ctx, const std::string& id, const image::ImageStore::Removal& r) {
  for (const auto& u : r.untagged) {
    engine::publish_event(ctx.events, "image", "untag", id, {{"name", u}});
  }
  for (const auto& d : r.deleted) {
    engine::publish_event(ctx.events, "image", "delete", d, {{"name", d}});
  }
}

void save_handler(ImageContext ctx, const std::vector<std::string>& names, Reply reply) {
  std::vector<image::SaveItem> items;
  for (const auto& n : names) {
    auto id = ctx.images->resolve(n);
    if (!id) {
      reply(error_response(id.error()));
      return;
    }
    image::SaveItem item{*id, {}};
    auto ref = image::parse_reference(n);
    if (ref && !image::looks_like_id_prefix(n)) {
      item.repo_tags.push_back(ref->familiar());
    }
    items.push_back(std::move(item));
  }
  Response r;
  r.headers["Content-Type"] = "application/x-tar";
  r.stream = [ctx, items](std::shared_ptr<BodyWriter> w) {
    ctx.workers->post([ctx, items, w] {
      ArchiveStream out(w);
      auto st = image::save_images(items, *ctx.images, *ctx.content,
                                   [&out](std::string_view chunk) { return out.write(chunk); });
      if (!st) {
        DIND_LOG(kError) << "docker save: " << st.error().message;
      }
      for (const auto& item : items) {
        engine::publish_event(ctx.events, "image", "save", item.id, {{"name", item.id}});
      }
      out.finish(st);
    });
  };
  reply(std::move(r));
}

}  // namespace

namespace {

// An image's Config as dockerd's inspect shows it: the members Go's
// container.Config always encodes (null, "" or false when unset), then what
// the image has (ExposedPorts, Healthcheck, ... only when set, as omitempty).
json inspect_config(const json& raw) {
  json out = {{"Hostname", ""},    {"Domainname", ""},     {"User", ""},         {"AttachStdin", false},
              {"AttachStdout", false}, {"AttachStderr", false}, {"Tty", false},  {"OpenStdin", false},
              {"StdinOnce", false}, {"Env", nullptr},       {"Cmd", nullptr},     {"Image", ""},
              {"Volumes", nullptr}, {"WorkingDir", ""},     {"Entrypoint", nullptr}, {"OnBuild", nullptr},
              {"Labels", nullptr}};
  if (raw.is_object()) {
    for (const auto& [k, v] : raw.items()) {
      out[k] = v;
    }
  }
  return out;
}

}  // namespace

void add_image_routes(Router& router, ImageContext ctx) {
  const RouteOptions upload = RouteOptions::upload(false);
  const RouteOptions streamed_upload = RouteOptions::upload(true);

  router.add(
      "POST", "/images/create",
      [ctx](Request req, Reply reply) {
        if (req.query_value("fromImage")) {
          if (!ctx.pull) {
            reply(error_response(501, "this daemon has no registry client"));
            return;
          }
          ctx.pull(req, std::move(reply));
          return;
        }
        auto src = req.query_value("fromSrc");
        if (!src || *src != "-") {
          reply(error_response(
              400, src ? "importing from a URL is not supported: send the archive as the "
                         "request body (fromSrc=-)"
                       : "missing fromSrc or fromImage"));
          return;
        }
        std::optional<image::Reference> ref;
        if (auto repo = req.query_value("repo"); repo && !repo->empty()) {
          std::string text = *repo;
          if (auto tag = req.query_value("tag"); tag && !tag->empty()) {
            text += ":" + *tag;
          }
          auto parsed = image::parse_reference(text);
          if (!parsed) {
            reply(error_response(parsed.error()));
            return;
          }
          ref = *parsed;
        }
        std::vector<std::string> changes;
        for (auto [lo, hi] = req.query.equal_range("changes"); lo != hi; ++lo) {
          changes.push_back(lo->second);
        }
        std::string container_config;
        if (auto st = apply_changes(changes, container_config); !st) {
          reply(error_response(st.error()));
          return;
        }
        if (!req.body_file) {
          reply(error_response(400, "the request body (the archive to import) is empty"));
          return;
        }
        const std::string message = req.query_value("message").value_or("");
        auto body = req.body_file;
        ctx.workers->post([ctx, body, ref, message, container_config, reply]() {
          std::lock_guard lock(*ctx.mutations);
          auto layer =
              ctx.layers->register_layer(body->get(), std::nullopt, std::nullopt, ctx.content);
          if (!layer) {
            reply(error_response(layer.error()));
            return;
          }
          const std::string now = base::rfc3339_nano(std::chrono::system_clock::now());
          json cfg = {
              {"architecture", "amd64"},
              {"os", "linux"},
              {"created", now},
              {"config", json::parse(container_config)},
              {"rootfs", {{"type", "layers"}, {"diff_ids", {layer->diff_id}}}},
              {"history",
               json::array({{{"created", now},
                             {"comment", message.empty() ? "Imported from -" : message}}})}};
          cfg["comment"] = message.empty() ? "Imported from -" : message;  // dockerd's, also in inspect
          cfg["docker_version"] = kEngineVersion;
          auto id = ctx.images->add(cfg.dump());
          if (!id) {
            reply(error_response(id.error()));
            return;
          }
          if (ref) {
            if (auto st = ctx.images->tag(*ref, *id); !st) {
              reply(error_response(st.error()));
              return;
            }
          }
          engine::publish_event(ctx.events, "image", "import", *id, {{"name", *id}});
          reply(import_reply(*id));
        });
      },
      upload);

  router.add("GET", "/images/get", [ctx](Request req, Reply reply) {
    std::vector<std::string> names;
    for (auto [lo, hi] = req.query.equal_range("names"); lo != hi; ++lo) {
      names.push_back(lo->second);
    }
    if (names.empty()) {
      reply(error_response(400, "no image names given (names=...)"));
      return;
    }
    save_handler(ctx, names, reply);
  });
  router.add("GET", "/images/{name*}/get",
             [ctx](Request req, Reply reply) { save_handler(ctx, {req.params["name"]}, reply); });

  router.add(
      "POST", "/images/load",
      [ctx](Request req, Reply reply) {
        if (!req.body_file) {
          reply(error_response(400, "the request body (the archive to load) is empty"));
          return;
        }
        const bool quiet = req.query_bool("quiet").value_or(false);
        auto body = req.body_file;
        auto progress = req.body_progress;
        ctx.workers->post([ctx, body, progress, quiet, reply] {
          std::lock_guard lock(*ctx.mutations);
          // The archive is read while it still arrives (stream_body): the
          // unpacking overlaps the upload.
          const image::LayerReader reader =
              progress ? image::LayerReader(progress_reader(body, progress))
                       : image::fd_reader(body->get());
          const auto t0 = std::chrono::steady_clock::now();
          auto loaded = image::load_images(reader, *ctx.images, *ctx.layers, *ctx.content);
          DIND_LOG(kDebug) << "docker load processed the archive in "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - t0)
                                  .count()
                           << " ms";
          std::string lines;
          if (!loaded) {
            // As dockerd: the answer has begun (200), the failure is its last line;
            // the SDK raises ImageLoadError from it and the CLI prints it.
            lines = error_line(loaded.error().message);
          }
          for (const auto& l : loaded ? *loaded : std::vector<image::Loaded>{}) {
            // The layers moved before the answer starts, so each bar is sent
            // complete (dockerd sends them as it goes; the CLI shows the same).
            for (const auto& layer : l.new_layers) {
              if (!quiet) {
                const std::string id = layer.chain_id.substr(layer.chain_id.find(':') + 1, 12);
                lines += progress_message("Loading layer", id, layer.bytes, layer.bytes) + "\n";
              }
            }
            engine::publish_event(ctx.events, "image", "load", l.id, {{"name", l.id}});
            if (l.repo_tags.empty()) {
              lines += dump(json{{"stream", "Loaded image ID: " + l.id + "\n"}});
            }
            for (const auto& t : l.repo_tags) {
              lines += dump(json{{"stream", "Loaded image: " + t + "\n"}});
            }
          }
          Response r;
          r.headers["Content-Type"] = "application/json";
          r.stream = [lines](std::shared_ptr<BodyWriter> w) {
            w->write(lines);
            w->finish();
          };
          reply(std::move(r));
        });
      },
      streamed_upload);

  router.add("GET", "/images/json", [ctx](Request req, Reply reply) {
    auto filters = parse_filters(req);
    if (!filters) {
      reply(error_response(filters.error()));
      return;
    }
    // before/since: relative to another image's creation time.
    std::optional<int64_t> before, since;
    for (auto [key, slot] : {std::pair{"before", &before}, std::pair{"since", &since}}) {
      if (filters->contains(key) && !(*filters)[key].empty()) {
        auto ref = lookup(ctx, (*filters)[key][0].get<std::string>());
        if (!ref) {
          reply(error_response(ref.error()));
          return;
        }
        *slot = ref->created;
      }
    }
    json out = json::array();
    for (const auto& s : ctx.images->list()) {
      bool keep = (!before || s.created < *before) && (!since || s.created > *since);
      image::ImageSummary shown = s;
      if (filters->contains("reference") && !(*filters)["reference"].empty()) {
        // Like dockerd, list only the tags that match.
        shown.repo_tags.clear();
        for (const auto& t : s.repo_tags) {
          image::ImageSummary one = s;
          one.repo_tags = {t};
          for (const auto& p : (*filters)["reference"]) {
            if (matches_reference(one, p.get<std::string>())) {
              shown.repo_tags.push_back(t);
              break;
            }
          }
        }
        keep = keep && !shown.repo_tags.empty();
      }
      if (filters->contains("dangling") && !(*filters)["dangling"].empty()) {
        const bool want = (*filters)["dangling"][0] == "true" || (*filters)["dangling"][0] == "1";
        keep = keep && (s.repo_tags.empty() == want);
      }
      if (filters->contains("label")) {
        auto cfg = json::parse(s.config, nullptr, false);
        json labels = cfg.value("config", json::object()).value("Labels", json::object());
        for (const auto& l : (*filters)["label"]) {
          const std::string f = l.get<std::string>();
          const auto eq = f.find('=');
          const std::string k = f.substr(0, eq);
          keep = keep && labels.is_object() && labels.contains(k) &&
                 (eq == std::string::npos || labels[k] == f.substr(eq + 1));
        }
      }
      // Without all=1, intermediate images (untagged, other images built
      // on them) are hidden, as dockerd hides them.
      if (!req.query_bool("all").value_or(false) && s.repo_tags.empty() && s.has_children) {
        keep = false;
      }
      if (keep) {
        out.push_back(image_summary_json(shown, req.version));
      }
    }
    reply(Response::json(200, dump(out)));
  });

  router.add("GET", "/images/{name*}/json", [ctx](Request req, Reply reply) {
    auto s = lookup(ctx, req.params["name"]);
    if (!s) {
      reply(error_response(s.error()));
      return;
    }
    auto cfg = json::parse(s->config, nullptr, false);
    std::string created = cfg.value("created", "");
    // dockerd's overlay2 data: the top layer's directories, the others
    // below it as LowerDir (top-most first).
    json graph = {{"Name", "overlay2"}, {"Data", json::object()}};
    const auto dirs = ctx.layers->chain_dirs(s->top_layer);
    if (!dirs.empty()) {
      const auto top = dirs.front().parent_path();
      graph["Data"] = {{"MergedDir", (top / "merged").string()},
                       {"UpperDir", dirs.front().string()},
                       {"WorkDir", (top / "work").string()}};
      std::string lower;
      for (size_t i = 1; i < dirs.size(); ++i) {
        lower += (i > 1 ? ":" : "") + dirs[i].string();
      }
      if (!lower.empty()) {
        graph["Data"]["LowerDir"] = lower;
      }
    }
    json j = {{"Id", s->id},
              {"RepoTags", s->repo_tags},
              {"RepoDigests", s->repo_digests},
              {"Parent", s->parent},
              {"Comment", cfg.value("comment", "")},
              {"Created", created},
              {"DockerVersion", cfg.value("docker_version", "")},
              {"Author", cfg.value("author", "")},
              {"Config", inspect_config(cfg.value("config", json()))},
              {"Architecture", cfg.value("architecture", "amd64")},
              {"Os", cfg.value("os", "linux")},
              {"Size", s->size},
              {"GraphDriver", graph},
              {"RootFS", {{"Type", "layers"}, {"Layers", s->diff_ids}}},
              {"Metadata",
               {{"LastTagTime", s->tagged ? base::rfc3339(std::chrono::system_clock::from_time_t(
                                                static_cast<std::time_t>(s->tagged)))
                                          : "0001-01-01T00:00:00Z"}}}};
    if (req.version < ApiVersion{1, 44}) {
      j["VirtualSize"] = s->size;
    }
    // Deprecated at 1.44, sent until 1.45 (moby 25); a built image has them
    // (its step's container).
    if (req.version < ApiVersion{1, 45}) {
      j["Container"] = cfg.value("container", "");
      j["ContainerConfig"] = inspect_config(cfg.value("container_config", json()));
    }
    reply(Response::json(200, dump(j)));
  });

  router.add("GET", "/images/{name*}/history", [ctx](Request req, Reply reply) {
    auto s = lookup(ctx, req.params["name"]);
    if (!s) {
      reply(error_response(s.error()));
      return;
    }
    auto cfg = json::parse(s->config, nullptr, false);
    json history = cfg.value("history", json::array());
    auto chains = image::chain_ids(s->diff_ids);
    size_t layer = 0;
    json out = json::array();
    for (const auto& h : history) {
      uint64_t size = 0;
      if (!h.value("empty_layer", false) && layer < chains.size()) {
        if (auto info = ctx.layers->get(chains[layer])) {
          size = info->size;
        }
        ++layer;
      }
      out.push_back({{"Id", "<missing>"},
                     {"Created", 0},
                     {"CreatedBy", h.value("created_by", "")},
                     {"Tags", nullptr},
                     {"Size", size},
                     {"Comment", h.value("comment", "")}});
    }
    std::reverse(out.begin(), out.end());  // newest first
    if (!out.empty()) {
      out[0]["Id"] = s->id;
      out[0]["Tags"] = s->repo_tags;
      out[0]["Created"] = s->created;
    }
    reply(Response::json(200, dump(out)));
  });

  router.add("POST", "/images/{name*}/tag", [ctx](Request req, Reply reply) {
    auto id = ctx.images->resolve(req.params["name"]);
    if (!id) {
      reply(error_response(id.error()));
      return;
    }
    auto repo = req.query_value("repo").value_or("");
    auto tag = req.query_value("tag").value_or("");
    if (repo.empty()) {
      reply(error_response(400, "repository name must have at least one component"));
      return;
    }
    auto ref = image::parse_reference(tag.empty() ? repo : repo + ":" + tag);
    if (!ref) {
      reply(error_response(ref.error()));
      return;
    }
    if (ref->digest) {
      reply(error_response(400, "refusing to create a tag with a digest reference"));
      return;
    }
    if (auto st = ctx.images->tag(*ref, *id); !st) {
      reply(error_response(st.error()));
      return;
    }
    engine::publish_event(ctx.events, "image", "tag", *id, {{"name", ref->familiar()}});
    reply(Response::empty(201));
  });

  // docker image prune: dangling (untagged) images by default; with
  // dangling=false every image no container uses (none can be in use yet).
  router.add("POST", "/images/prune", [ctx](Request req, Reply reply) {
    // dangling (default true: untagged only), until, label, label!: a prune
    // removes only what they keep.
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    auto wanted = prune_filter(*f, {"dangling", "until", "label", "label!"});
    auto dangling = f->count("dangling") ? bool_filter(*f, "dangling") : base::Result<bool>(true);
    if (!wanted || !dangling) {
      reply(error_response(!wanted ? wanted.error() : dangling.error()));
      return;
    }
    ctx.workers->post([ctx, dangling_only = *dangling, wanted = std::move(*wanted), reply] {
      std::lock_guard lock(*ctx.mutations);
      json deleted = json::array();
      uint64_t reclaimed = 0;
      for (const auto& s : ctx.images->list()) {
        if (dangling_only && !s.repo_tags.empty()) {
          continue;
        }
        std::map<std::string, std::string> labels;
        const json cfg = json::parse(s.config, nullptr, false);
        if (cfg.is_object() && cfg.contains("config") && cfg["config"].is_object()) {
          const json image_labels = cfg["config"].value("Labels", json::object());
          for (const auto& [k, v] : image_labels.items()) {
            if (v.is_string()) {
              labels[k] = v.get<std::string>();
            }
          }
        }
        if (!wanted(s.created, labels)) {
          continue;
        }
        auto r = ctx.images->remove(s.id, true, ctx.in_use);
        if (!r) {
          continue;  // removed concurrently, or refused: prune is best effort
        }
        removal_events(ctx, s.id, *r);
        for (const auto& u : r->untagged) {
          deleted.push_back({{"Untagged", u}});
        }
        for (const auto& d : r->deleted) {
          deleted.push_back({{"Deleted", d}});
        }
        reclaimed += s.size;
      }
      reply(Response::json(200,
                           dump(json{{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted},
                                     {"SpaceReclaimed", reclaimed}})));
    });
  });

  router.add("DELETE", "/images/{name*}", [ctx](Request req, Reply reply) {
    const bool force = req.query_bool("force").value_or(false);
    const std::string name = req.params["name"];
    ctx.workers->post([ctx, name, force, reply] {
      std::lock_guard lock(*ctx.mutations);
      auto r = ctx.images->remove(name, force, ctx.in_use);
      if (!r) {
        reply(error_response(r.error()));
        return;
      }
      removal_events(ctx, ctx.images->resolve(name).value_or(r->deleted.empty() ? name : r->deleted.front()), *r);
      json out = json::array();
      for (const auto& u : r->untagged) {
        out.push_back({{"Untagged", u}});
      }
      for (const auto& d : r->deleted) {
        out.push_back({{"Deleted", d}});
      }
      reply(Response::json(200, dump(out)));
    });
  });
}

}  // namespace dind::api
