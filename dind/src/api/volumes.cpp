#include "dind/api/volumes.hpp"

#include "dind/api/errors.hpp"
#include "dind/api/filters.hpp"
#include "dind/api/route_util.hpp"

namespace dind::api {

using nlohmann::json;

json volume_json(const engine::Volume& v) {
  return {{"CreatedAt", v.created_at},
          {"Driver", "local"},
          {"Labels", v.labels},
          {"Mountpoint", v.mountpoint.string()},
          {"Name", v.name},
          {"Options", nullptr},
          {"Scope", "local"}};
}

void add_volume_routes(Router& router, VolumeContext ctx) {
  auto* volumes = ctx.volumes;
  auto* workers = ctx.workers;
  auto* events = ctx.events;
  router.add("POST", "/volumes/create", [volumes, workers, events](Request req, Reply reply) {
    auto body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    const json name = body.value("Name", json(""));
    const json driver = body.value("Driver", json(""));
    const json labels = body.value("Labels", json::object());
    if (!name.is_string() || !driver.is_string() || !(labels.is_object() || labels.is_null())) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    if (!driver.get<std::string>().empty() && driver != "local") {
      const std::string d = driver.get<std::string>();
      reply(error_response(404, "error looking up volume plugin " + d + ": plugin \"" + d + "\" not found"));
      return;
    }
    std::map<std::string, std::string> label_map;
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (!v.is_string()) {
          reply(error_response(400, "invalid JSON in the request body: label " + k + " is not a string"));
          return;
        }
        label_map[k] = v.get<std::string>();
      }
    }
    workers->post([volumes, events, name = name.get<std::string>(), label_map = std::move(label_map), reply] {
      auto v = volumes->create(name, label_map);
      if (v) {
        engine::publish_event(events, "volume", "create", v->name, {{"driver", "local"}});
      }
      reply(v ? Response::json(201, dump(volume_json(*v))) : error_response(v.error()));
    });
  });
  router.add("GET", "/volumes", [volumes, workers](Request req, Reply reply) {
    // docker volume ls --filter: dangling, driver, label, name.
    auto f = filters_of(req);
    if (f) {
      if (auto st = check_filter_keys(*f, {"dangling", "driver", "label", "name"}); !st) {
        f = std::move(st).error();
      }
    }
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    auto dangling = bool_filter(*f, "dangling");
    if (!dangling) {
      reply(error_response(dangling.error()));
      return;
    }
    workers->post([volumes, f = std::move(*f), dangling = *dangling, reply] {
      auto has = [&](const char* key) { return f.count(key) != 0 && !f.at(key).empty(); };
      json list = json::array();
      for (const auto& v : volumes->list()) {
        if ((has("name") && !match_any(f.at("name"), v.name)) ||
            (has("driver") && !match_any(f.at("driver"), "local")) ||
            (has("label") && !labels_match(f.at("label"), v.labels)) ||
            (f.count("dangling") != 0 && volumes->users_of(v.name).empty() != dangling)) {
          continue;
        }
        list.push_back(volume_json(v));
      }
      reply(Response::json(200, dump({{"Volumes", list}, {"Warnings", nullptr}})));
    });
  });
  router.add("GET", "/volumes/{name}", [volumes](Request req, Reply reply) {
    auto v = volumes->inspect(req.params["name"]);
    reply(v ? Response::json(200, dump(volume_json(*v))) : error_response(v.error()));
  });
  router.add("DELETE", "/volumes/{name}", [volumes, workers, events](Request req, Reply reply) {
    const bool force = req.query_bool("force").value_or(false);
    workers->post([volumes, events, name = req.params["name"], force, reply] {
      const bool existed = volumes->inspect(name).ok();
      auto st = volumes->remove(name, force);
      if (st && existed) {
        engine::publish_event(events, "volume", "destroy", name, {{"driver", "local"}});
      }
      reply(status_response(st));
    });
  });
  router.add("POST", "/volumes/prune", [volumes, workers](Request req, Reply reply) {
    // label, label! and all (API 1.42: named volumes too); a prune removes
    // only what they keep.
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    auto wanted = prune_filter(*f, {"label", "label!", "all"});
    auto all = bool_filter(*f, "all");
    if (!wanted || !all) {
      reply(error_response(!wanted ? wanted.error() : all.error()));
      return;
    }
    auto keep = [wanted = std::move(*wanted)](const engine::Volume& v) { return wanted(0, v.labels); };
    workers->post([volumes, all = *all, keep, reply] {
      const auto deleted = volumes->prune(all, keep);
      reply(Response::json(200, dump({{"VolumesDeleted", deleted.empty() ? json(nullptr) : json(deleted)},
                                      {"SpaceReclaimed", 0}})));
    });
  });
}

}  // namespace dind::api
