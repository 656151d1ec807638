#include "dind/api/container_views.hpp"

#include "dind/base/sha256.hpp"
#include "dind/base/time.hpp"
#include "dind/model/container_json.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::api {
using json = nlohmann::json;
using engine::ContainerView;
using engine::kZeroTime;
using engine::RunStatus;

namespace {

// An endpoint as inspect shows it; a list entry (`summary`) leaves out
// aliases, links and driver options, as dockerd's container snapshot does.
json endpoint_json(const engine::EndpointView& e, ApiVersion version, bool summary) {
  const model::EndpointConfig& cfg = e.config;
  json ipam = nullptr;
  if (cfg.has_ipam) {
    ipam = json::object();
    if (!cfg.ipv4_address.empty()) {
      ipam["IPv4Address"] = cfg.ipv4_address;
    }
    if (!cfg.ipv6_address.empty()) {
      ipam["IPv6Address"] = cfg.ipv6_address;
    }
    if (cfg.link_local_ips && !cfg.link_local_ips->empty()) {
      ipam["LinkLocalIPs"] = *cfg.link_local_ips;
    }
  }
  const model::OptStrings& aliases = e.aliases ? e.aliases : cfg.aliases;
  json out = {{"IPAMConfig", ipam},
          {"Links", model::encode_list(cfg.links)},
          {"Aliases", model::encode_list(aliases)},
          {"MacAddress", e.mac_address.empty() ? cfg.mac_address : e.mac_address},
          {"DriverOpts", cfg.driver_opts.empty() ? json(nullptr) : json(cfg.driver_opts)},
          {"NetworkID", e.network_id},
          {"EndpointID", e.endpoint_id},
          {"Gateway", e.gateway},
          {"IPAddress", e.ip_address},
          {"IPPrefixLen", e.prefix_len},
          {"IPv6Gateway", e.ipv6_gateway},
          {"GlobalIPv6Address", e.ipv6_address},
          {"GlobalIPv6PrefixLen", e.ipv6_prefix_len}};
  if (summary) {
    for (const char* k : {"Aliases", "Links", "DriverOpts"}) {
      out[k] = nullptr;
    }
  }
  if (version >= ApiVersion{1, 44}) {  // added in 1.44
    out["DNSNames"] = summary ? json(nullptr) : model::encode_list(e.dns_names);
  }
  return out;
}

json networks_json(const ContainerView& v, ApiVersion version, bool summary) {
  json out = json::object();
  for (const auto& [name, e] : v.networks) {
    out[name] = endpoint_json(e, version, summary);
  }
  return out;
}

// NetworkSettings.Ports: each exposed or published port, its bindings or null.
json ports_json(const ContainerView& v) {
  json ports = json::object();
  for (const auto& [name, e] : v.networks) {
    (void)name;
    for (const auto& p : e.ports) {
      json& list = ports[std::to_string(p.container_port) + "/" + p.proto];
      if (list.is_null()) {
        list = json::array();
      }
      list.push_back({{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port)}});
    }
  }
  for (const auto& k : v.config.exposed_ports) {
    if (!ports.contains(k)) {
      ports[k] = nullptr;
    }
  }
  return ports;
}

json mounts_json(const ContainerView& v) {
  json out = json::array();
  for (const auto& m : v.mounts) {
    json j = {{"Type", m.type},   {"Source", m.source},         {"Destination", m.destination},
              {"Mode", m.mode},   {"RW", m.rw},                 {"Propagation", m.propagation}};
    if (m.type == "volume") {
      j["Name"] = m.name;
      j["Driver"] = m.driver;
    }
    out.push_back(std::move(j));
  }
  return out;
}

void add_sizes(const ContainerView& v, json& doc) {
  if (v.size_rw) {
    doc["SizeRw"] = *v.size_rw;
  }
  if (v.size_root_fs) {
    doc["SizeRootFs"] = *v.size_root_fs;
  }
}


// HostConfig as inspect shows it: dockerd's masked and read-only paths when
// the request had none (what the runtime applies), the kernel memory
// members only below 1.42 or when set.
json host_config_json(const model::HostConfig& h, ApiVersion version) {
  json out = model::encode_host_config(h);
  if (!h.privileged) {
    if (!h.masked_paths) {
      out["MaskedPaths"] = runtime::default_masked_paths();
    }
    if (!h.readonly_paths) {
      out["ReadonlyPaths"] = runtime::default_readonly_paths();
    }
  }
  if (version >= ApiVersion{1, 42}) {
    for (const char* k : {"KernelMemory", "KernelMemoryTCP"}) {
      if (out.value(k, int64_t{0}) == 0) {
        out.erase(k);
      }
    }
  }
  return out;
}

}  // namespace

json inspect_json(const ContainerView& v, ApiVersion version) {
  const bool running = v.running();
  const auto bridge = v.networks.find("bridge");
  const engine::EndpointView primary =
      bridge != v.networks.end() ? bridge->second : engine::EndpointView{};
  const std::string dir = v.container_dir + "/";
  json doc = {
      {"Id", v.id},
      {"Created", v.created},
      {"Path", v.path},
      {"Args", v.args},
      {"State",
       {{"Status", v.docker_state()},
        {"Running", running},
        {"Paused", v.paused && running},
        {"Restarting", v.status == RunStatus::kRestarting},
        {"OOMKilled", v.oom_killed},
        {"Dead", false},
        {"Pid", running ? v.pid : 0},
        {"ExitCode", v.exit_code},
        {"Error", v.error},
        {"StartedAt", v.started_at},
        {"FinishedAt", v.finished_at}}},
      {"Image", v.image_id},
      {"ResolvConfPath", dir + "resolv.conf"},
      {"HostnamePath", dir + "hostname"},
      {"HostsPath", dir + "hosts"},
      {"LogPath", dir + v.id + "-json.log"},
      {"Name", v.name},
      {"RestartCount", v.restart_count},
      {"Driver", "overlay2"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"AppArmorProfile", ""},
      {"ExecIDs", nullptr},
      {"HostConfig", host_config_json(v.host_config, version)},
      {"GraphDriver",
       {{"Data",
         {{"LowerDir", v.lower_dirs},
          {"MergedDir", v.layer_dir + "/merged"},
          {"UpperDir", v.layer_dir + "/diff"},
          {"WorkDir", v.layer_dir + "/work"}}},
        {"Name", "overlay2"}}},
      {"Mounts", mounts_json(v)},
      {"Config", model::encode_config(v.config)},
      {"NetworkSettings",
       {{"Bridge", ""},
        {"SandboxID", v.sandbox_key.empty() ? "" : base::sha256_digest(v.id).substr(7)},
        {"SandboxKey", v.sandbox_key},
        {"Ports", ports_json(v)},
        {"HairpinMode", false},
        {"LinkLocalIPv6Address", ""},
        {"LinkLocalIPv6PrefixLen", 0},
        {"SecondaryIPAddresses", nullptr},
        {"SecondaryIPv6Addresses", nullptr},
        {"EndpointID", primary.endpoint_id},
        {"Gateway", primary.gateway},
        {"GlobalIPv6Address", ""},
        {"GlobalIPv6PrefixLen", 0},
        {"IPAddress", primary.ip_address},
        {"IPPrefixLen", primary.prefix_len},
        {"IPv6Gateway", ""},
        {"MacAddress", primary.mac_address},
        {"Networks", networks_json(v, version, false)}}},
  };
  if (v.health) {
    json log = json::array();
    for (const auto& r : v.health->log) {
      log.push_back({{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
    }
    doc["State"]["Health"] = {{"Status", engine::health_status_name(v.health->status)},
                              {"FailingStreak", v.health->failing_streak},
                              {"Log", log}};
  }
  add_sizes(v, doc);
  return doc;
}

json summary_json(const ContainerView& v, int64_t now, ApiVersion version) {
  std::string command = v.path;
  for (const auto& a : v.args) {
    command += " " + a;
  }
  std::string status;
  if (v.running()) {
    status = "Up " + base::human_duration(now - base::parse_time_secs(v.started_at));
    if (v.paused) {
      status += " (Paused)";
    } else if (v.health) {  // dockerd's suffixes
      status += v.health->status == engine::HealthStatus::kStarting
                    ? " (health: starting)"
                    : std::string(" (") + engine::health_status_name(v.health->status) + ")";
    }
  } else if (v.status == RunStatus::kRestarting) {
    status = "Restarting (" + std::to_string(v.exit_code) + ") " +
             base::human_duration(now - base::parse_time_secs(v.finished_at)) + " ago";
  } else if (v.status == RunStatus::kExited ||
             (v.status == RunStatus::kCreated && v.finished_at != kZeroTime)) {
    status = "Exited (" + std::to_string(v.exit_code) + ") " +
             base::human_duration(now - base::parse_time_secs(v.finished_at)) + " ago";
  } else {
    status = "Created";
  }
  json ports = json::array();
  for (const auto& [name, e] : v.networks) {
    (void)name;
    for (const auto& p : e.ports) {
      ports.push_back({{"IP", p.host_ip},
                       {"PrivatePort", p.container_port},
                       {"PublicPort", p.host_port},
                       {"Type", p.proto}});
    }
  }
  json doc = {{"Id", v.id},
              {"Names", {v.name}},
              {"Image", v.image_name},
              {"ImageID", v.image_id},
              {"Command", command},
              {"Created", base::parse_time_secs(v.created)},
              {"Ports", ports},
              {"Labels", v.config.labels},
              {"State", v.docker_state()},
              {"Status", status},
              {"HostConfig",
               {{"NetworkMode",
                 v.host_config.network_mode.empty() ? "default" : v.host_config.network_mode}}},
              {"NetworkSettings", {{"Networks", networks_json(v, version, true)}}},
              {"Mounts", mounts_json(v)}};
  add_sizes(v, doc);
  return doc;
}

}  // namespace dind::api
