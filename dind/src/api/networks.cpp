// The network endpoints: create, inspect (with the containers attached),
// list with dockerd's filters, connect, disconnect, remove, prune.

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "dind/api/containers.hpp"
#include "dind/api/errors.hpp"
#include "dind/api/filters.hpp"
#include "dind/api/route_util.hpp"
#include "dind/base/time.hpp"
#include "dind/model/container_json.hpp"
#include "dind/model/network_json.hpp"

namespace dind::api {
using json = nlohmann::json;
using engine::NetworkInfo;

namespace {

bool builtin(const NetworkInfo& n) {
  return n.name == "bridge" || n.name == "host" || n.name == "none";
}

json ipam_config_json(const NetworkInfo& n) {
  json config = json::array();
  if (n.driver != "bridge") {
    return config;
  }
  const bool v4_given = std::any_of(n.ipam.begin(), n.ipam.end(), [](const model::IpamPool& p) {
    return !p.subnet.empty() && p.subnet.find(':') == std::string::npos;
  });
  if (!v4_given) {  // chosen by us: dockerd shows what it chose
    config.push_back({{"Subnet", n.state.subnet.canonical().to_string()},
                      {"Gateway", n.state.gateway.to_string()}});
  }
  for (const auto& p : n.ipam) {
    json c = json::object();
    if (!p.subnet.empty()) {
      c["Subnet"] = p.subnet;
    }
    if (!p.ip_range.empty()) {
      c["IPRange"] = p.ip_range;
    }
    if (!p.gateway.empty()) {
      c["Gateway"] = p.gateway;
    }
    if (!p.aux_addresses.empty()) {
      c["AuxiliaryAddresses"] = p.aux_addresses;
    }
    config.push_back(std::move(c));
  }
  return config;
}

json options_json(const NetworkInfo& n) {
  if (n.name != "bridge") {
    return n.options;
  }
  // The default bridge's, as dockerd reports its docker0.
  return {{"com.docker.network.bridge.default_bridge", "true"},
          {"com.docker.network.bridge.enable_icc", "true"},
          {"com.docker.network.bridge.enable_ip_masquerade", "true"},
          {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
          {"com.docker.network.bridge.name", n.state.bridge},
          {"com.docker.network.driver.mtu", std::to_string(n.state.mtu)}};
}

json network_json(const NetworkInfo& n, json containers) {
  return json{{"Name", n.name},
              {"Id", n.id},
              {"Created", n.created},
              {"Scope", "local"},
              {"Driver", n.driver},
              {"EnableIPv6", n.enable_ipv6},
              {"IPAM", {{"Driver", "default"}, {"Options", n.ipam_options ? json(*n.ipam_options) : json(nullptr)}, {"Config", ipam_config_json(n)}}},
              {"Internal", n.state.internal},
              {"Attachable", n.attachable},
              {"Ingress", false},
              {"ConfigFrom", {{"Network", ""}}},
              {"ConfigOnly", false},
              {"Containers", std::move(containers)},
              {"Options", options_json(n)},
              {"Labels", n.labels}};
}

// The containers with an endpoint on the network (inspect's Containers).
json members_json(engine::Containers& c, const NetworkInfo& n) {
  json out = json::object();
  engine::Containers::ListOptions o;
  o.all = true;
  auto list = c.list(o);
  if (!list) {
    return out;
  }
  for (const auto& v : *list) {
    auto e = v.networks.find(n.name);
    if (e == v.networks.end() || e->second.endpoint_id.empty()) {
      continue;
    }
    out[v.id] = json{{"Name", v.name.substr(v.name.empty() ? 0 : 1)},
                 {"EndpointID", e->second.endpoint_id},
                 {"MacAddress", e->second.mac_address},
                 {"IPv4Address", e->second.ip_address + "/" + std::to_string(e->second.prefix_len)},
                 {"IPv6Address", e->second.ipv6_address.empty()
                                     ? std::string()
                                     : e->second.ipv6_address + "/" + std::to_string(e->second.ipv6_prefix_len)}};
  }
  return out;
}

std::vector<NetworkInfo> all_networks(engine::Networks& nets) {
  auto out = nets.list();
  for (auto& b : nets.builtins()) {
    out.push_back(std::move(b));
  }
  return out;
}

base::Result<NetworkInfo> find_network(engine::Networks& nets, const std::string& ref) {
  auto n = nets.find(ref);
  if (n || n.error().kind != base::ErrorKind::kNotFound) {
    return n;
  }
  for (auto& b : nets.builtins()) {
    if (b.name == ref || b.id == ref || (ref.size() >= 1 && b.id.rfind(ref, 0) == 0)) {
      return b;
    }
  }
  return n;
}

// docker network ls --filter: dangling, driver, id, label, name, scope, type.
base::Result<std::vector<NetworkInfo>> filtered(engine::Networks& nets, const Filters& f) {
  DIND_TRY(check_filter_keys(f, {"dangling", "driver", "id", "label", "name", "scope", "type"}));
  DIND_ASSIGN_OR_RETURN(const bool dangling, bool_filter(f, "dangling"));
  for (const auto& t : f.count("type") ? f.at("type") : std::vector<std::string>{}) {
    if (t != "custom" && t != "builtin") {
      return base::make_error(base::ErrorKind::kInvalidArgument, "invalid filter: 'type'='" + t + "'");
    }
  }
  std::vector<NetworkInfo> out;
  for (auto& n : all_networks(nets)) {
    auto has = [&](const char* key) { return f.count(key) != 0 && !f.at(key).empty(); };
    if ((has("name") && !match_any(f.at("name"), n.name)) || (has("id") && !match_any(f.at("id"), n.id)) ||
        (has("driver") && !match_any(f.at("driver"), n.driver)) ||
        (has("scope") && !match_any(f.at("scope"), "local")) ||
        (has("label") && !labels_match(f.at("label"), n.labels))) {
      continue;
    }
    if (has("type")) {
      const std::string type = builtin(n) ? "builtin" : "custom";
      if (std::find(f.at("type").begin(), f.at("type").end(), type) == f.at("type").end()) {
        continue;
      }
    }
    if (f.count("dangling") && dangling && (builtin(n) || nets.in_use(n.name))) {
      continue;
    }
    if (f.count("dangling") && !dangling && !builtin(n) && !nets.in_use(n.name)) {
      continue;
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

void add_network_routes(Router& router, ContainerContext ctx) {
  auto c = ctx.containers;
  auto* nets = ctx.networks;
  auto* workers = ctx.workers;
  auto* queries = ctx.queries;
  auto* events = ctx.events;
  router.add("POST", "/networks/create", [nets, workers, events](Request req, Reply reply) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    auto request = model::decode_network_create(body);
    if (!request) {
      reply(error_response(request.error()));
      return;
    }
    workers->post([nets, events, request = std::move(*request), reply] {
      auto n = nets->create(request);
      if (n) {
        engine::publish_event(events, "network", "create", n->id, {{"name", n->name}, {"type", "bridge"}});
      }
      reply(n ? Response::json(201, dump({{"Id", n->id}, {"Warning", ""}})) : error_response(n.error()));
    });
  });
  for (const char* op : {"connect", "disconnect"}) {
    const bool connect = std::string(op) == "connect";
    router.add("POST", std::string("/networks/{id}/") + op, [c, nets, workers, events, connect](Request req, Reply reply) {
      auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.value("Container", json()).is_string()) {
        reply(error_response(400, "invalid JSON in the request body: \"Container\" is needed"));
        return;
      }
      auto endpoint = model::decode_endpoint_config(body.value("EndpointConfig", json()));
      if (!endpoint) {
        reply(error_response(endpoint.error()));
        return;
      }
      workers->post([c, nets, events, connect, net = req.params["id"], ctr = body["Container"].get<std::string>(),
                     endpoint = std::move(*endpoint), reply] {
        auto st = connect ? c->connect_network(ctr, net, endpoint) : c->disconnect_network(ctr, net);
        auto n = find_network(*nets, net);
        auto who = c->inspect(ctr, false);
        if (st && n && who) {
          engine::publish_event(events, "network", connect ? "connect" : "disconnect", n->id,
                                {{"container", who->id}, {"name", n->name}, {"type", "bridge"}});
        }
        reply(status_response(st, 200));
      });
    });
  }
  router.add("DELETE", "/networks/{id}", [nets, workers, events](Request req, Reply reply) {
    workers->post([nets, events, id = req.params["id"], reply] {
      auto n = find_network(*nets, id);
      if (n && (n->name == "host" || n->name == "none")) {
        reply(error_response(403, n->name + " is a pre-defined network and cannot be removed"));
        return;
      }
      auto st = nets->remove(id);
      if (st && n) {
        engine::publish_event(events, "network", "destroy", n->id, {{"name", n->name}, {"type", "bridge"}});
      }
      reply(status_response(st));
    });
  });
  router.add("GET", "/networks", [nets, queries](Request req, Reply reply) {
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    queries->post([nets, f = std::move(*f), reply] {
      auto list = filtered(*nets, f);
      if (!list) {
        reply(error_response(list.error()));
        return;
      }
      json out = json::array();
      for (const auto& n : *list) {
        out.push_back(network_json(n, json::object()));
      }
      reply(Response::json(200, dump(out)));
    });
  });
  router.add("GET", "/networks/{id}", [c, nets, queries](Request req, Reply reply) {
    queries->post([c, nets, id = req.params["id"], reply] {
      auto n = find_network(*nets, id);
      reply(n ? Response::json(200, dump(network_json(*n, members_json(*c, *n)))) : error_response(n.error()));
    });
  });
  router.add("POST", "/networks/prune", [nets, workers](Request req, Reply reply) {
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    auto keep = prune_filter(*f, {"until", "label", "label!"});
    if (!keep) {
      reply(error_response(keep.error()));
      return;
    }
    workers->post([nets, wanted = std::move(*keep), reply] {
      json deleted = json::array();
      for (const auto& n : nets->list()) {
        if (builtin(n) || !wanted(base::parse_time_secs(n.created), n.labels) || nets->in_use(n.name)) {
          continue;
        }
        // One in use by now is left, as dockerd leaves it.
        if (nets->remove(n.id)) {
          deleted.push_back(n.name);
        }
      }
      reply(Response::json(200, dump({{"NetworksDeleted", deleted.empty() ? json(nullptr) : deleted}})));
    });
  });
}

}  // namespace dind::api
