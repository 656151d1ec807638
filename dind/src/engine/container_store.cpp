#include "container_store.hpp"

#include "container_util.hpp"
#include "dind/model/container_json.hpp"

namespace dind::engine {

using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

model::OptStrings opt_list_from(const json& v) {
  return v.is_array() ? std::optional(v.get<model::Strings>()) : std::nullopt;
}

// The record's "Endpoints": network name -> the endpoint's facts.
json encode_endpoints(const std::map<std::string, EndpointView>& endpoints) {
  json out = json::object();
  for (const auto& [name, e] : endpoints) {
    json ports = json::array();
    for (const auto& p : e.ports) {
      ports.push_back({{"proto", p.proto},
                       {"host_ip", p.host_ip},
                       {"host_port", p.host_port},
                       {"container_port", p.container_port}});
    }
    out[name] = {{"NetworkID", e.network_id},   {"EndpointID", e.endpoint_id},
                 {"IPAddress", e.ip_address},   {"IPPrefixLen", e.prefix_len},
                 {"Gateway", e.gateway},        {"DNSNames", model::encode_list(e.dns_names)},
                 {"Aliases", model::encode_list(e.aliases)}, {"Ports", ports},
                 {"MacAddress", e.mac_address},
                 {"GlobalIPv6Address", e.ipv6_address}, {"GlobalIPv6PrefixLen", e.ipv6_prefix_len},
                 {"IPv6Gateway", e.ipv6_gateway}};
  }
  return out;
}

// Throws json::exception for a field of the wrong type (decode_record's catch).
std::map<std::string, EndpointView> decode_endpoints(const json& doc) {
  std::map<std::string, EndpointView> out;
  for (const auto& [name, e] : doc.items()) {
    EndpointView v;
    v.network_id = e.value("NetworkID", "");
    v.endpoint_id = e.value("EndpointID", "");
    v.ip_address = e.value("IPAddress", "");
    v.prefix_len = e.value("IPPrefixLen", 0);
    v.gateway = e.value("Gateway", "");
    v.mac_address = e.value("MacAddress", "");
    v.ipv6_address = e.value("GlobalIPv6Address", "");
    v.ipv6_prefix_len = e.value("GlobalIPv6PrefixLen", 0);
    v.ipv6_gateway = e.value("IPv6Gateway", "");
    v.dns_names = opt_list_from(e.value("DNSNames", json()));
    v.aliases = opt_list_from(e.value("Aliases", json()));
    for (const auto& p : e.value("Ports", json::array())) {
      v.ports.push_back({p.value("proto", "tcp"), p.value("host_ip", "0.0.0.0"),
                         p.value("host_port", uint16_t{0}), p.value("container_port", uint16_t{0})});
    }
    out[name] = std::move(v);
  }
  return out;
}

}  // namespace

json encode_health_state(const HealthState& h) {
  json log = json::array();
  for (const auto& r : h.log) {
    log.push_back({{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  }
  return {{"Status", health_status_name(h.status)}, {"FailingStreak", h.failing_streak}, {"Log", log}};
}

// Throws json::exception for a field of the wrong type (decode_record's catch).
HealthState decode_health_state(const json& doc) {
  HealthState h;
  const std::string status = doc.value("Status", "starting");
  h.status = status == "healthy"     ? HealthStatus::kHealthy
             : status == "unhealthy" ? HealthStatus::kUnhealthy
                                     : HealthStatus::kStarting;
  h.failing_streak = doc.value("FailingStreak", 0);
  for (const auto& r : doc.value("Log", json::array())) {
    h.log.push_back({r.value("Start", ""), r.value("End", ""), r.value("ExitCode", 0), r.value("Output", "")});
  }
  return h;
}

json encode_record(const Containers::Container& c) {
  json mounts = json::array();
  for (const auto& m : c.mounts) {
    mounts.push_back(mount_spec_json(m));
  }
  return {{"SchemaVersion", kContainerSchema},
          {"Id", c.id},
          {"Name", c.name},
          {"Image", c.image_id},
          {"ImageName", c.image_name},
          {"Created", c.created},
          {"Config", model::encode_config(c.config)},
          {"HostConfig", model::encode_host_config(c.host_config)},
          {"NetworkingConfig", model::encode_networking_config(c.networking)},
          {"NetworkMode", c.network_mode},
          {"MountSpecs", mounts},
          {"AnonVolumes", c.anon_volumes},
          {"State",
           {{"Status", run_status_name(c.status)},
            {"Paused", c.paused},
            {"OOMKilled", c.oom_killed},
            {"Pid", c.pid},
            {"ExitCode", c.exit_code},
            {"Error", c.error},
            {"StartedAt", c.started_at},
            {"FinishedAt", c.finished_at}}},
          {"RestartCount", c.restart_count},
          {"HasBeenManuallyStopped", c.manually_stopped},
          {"BuildStep", c.build_step},
          {"ShimPid", c.shim_pid},
          {"Endpoints", encode_endpoints(c.endpoints)},
          {"Health", c.health ? encode_health_state(*c.health) : json(nullptr)},
          {"LinkTargets", c.links}};
}

base::Result<std::shared_ptr<Containers::Container>> decode_record(const json& doc, const std::string& dir_name) {
  if (!doc.is_object()) {
    return make_error(ErrorKind::kDataLoss, "not a JSON object");
  }
  const json version = doc.value("SchemaVersion", json(0));
  if (!version.is_number_integer() || version.get<int>() < 0) {
    return make_error(ErrorKind::kDataLoss, "bad SchemaVersion");
  }
  if (version.get<int>() > kContainerSchema) {
    return make_error(ErrorKind::kFailedPrecondition,
                      "written by a newer engine (schema " + std::to_string(version.get<int>()) +
                          ", this one reads up to " + std::to_string(kContainerSchema) + ")");
  }
  if (!doc.contains("Id") || !doc["Id"].is_string() || doc["Id"] != dir_name) {
    return make_error(ErrorKind::kDataLoss, "its Id does not match its directory");
  }
  try {
    auto c = std::make_shared<Containers::Container>();
    c->id = doc["Id"];
    c->name = doc.value("Name", "/" + short_id(c->id));
    c->image_id = doc.value("Image", "");
    c->image_name = doc.value("ImageName", "");
    c->created = doc.value("Created", "");
    auto typed = [](auto decoded, auto& out, const char* what) -> base::Status {
      if (!decoded) {
        return make_error(ErrorKind::kDataLoss,
                          std::string(what) + ": " + decoded.error().message);
      }
      out = std::move(*decoded);
      return {};
    };
    DIND_TRY(typed(model::decode_config(doc.value("Config", json::object())), c->config, "Config"));
    DIND_TRY(typed(model::decode_host_config(doc.value("HostConfig", json::object())),
                   c->host_config, "HostConfig"));
    DIND_TRY(typed(model::decode_networking_config(doc.value("NetworkingConfig", json::object())),
                   c->networking, "NetworkingConfig"));
    c->network_mode = doc.value("NetworkMode", "bridge");
    for (const auto& m : doc.value("MountSpecs", json::array())) {
      c->mounts.push_back(mount_spec_from(m));
    }
    c->anon_volumes = doc.value("AnonVolumes", std::vector<std::string>{});
    const json st = doc.value("State", json::object());
    const auto status = parse_run_status(st.value("Status", "created"));
    if (!status) {
      return make_error(ErrorKind::kDataLoss, "unknown State.Status " + st["Status"].dump());
    }
    c->status = *status;
    c->paused = st.value("Paused", false);
    c->oom_killed = st.value("OOMKilled", false);
    c->pid = st.value("Pid", 0);
    c->exit_code = st.value("ExitCode", 0);
    c->error = st.value("Error", "");
    c->started_at = st.value("StartedAt", kZeroTime);
    c->finished_at = st.value("FinishedAt", kZeroTime);
    c->restart_count = doc.value("RestartCount", 0);
    c->manually_stopped = doc.value("HasBeenManuallyStopped", false);
    c->build_step = doc.value("BuildStep", false);
    c->shim_pid = doc.value("ShimPid", 0);
    const json endpoints = doc.value("Endpoints", json::object());
    if (!endpoints.is_object()) {
      return make_error(ErrorKind::kDataLoss, "Endpoints is not an object");
    }
    c->endpoints = decode_endpoints(endpoints);
    c->links = doc.value("LinkTargets", std::vector<std::pair<std::string, std::string>>{});
    if (const json h = doc.value("Health", json()); h.is_object()) {
      c->health = decode_health_state(h);
    }
    return c;
  } catch (const json::exception& e) {  // a field of the wrong type
    return make_error(ErrorKind::kDataLoss, std::string("a field has the wrong type: ") + e.what());
  }
}

}  // namespace dind::engine
