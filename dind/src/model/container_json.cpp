#include "dind/model/container_json.hpp"

#include "reader.hpp"

#include <algorithm>

namespace dind::model {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
using detail::go_kind;
using detail::Reader;

namespace {

json key_set(const std::set<std::string>& keys) {
  json out = json::object();
  for (const auto& k : keys) {
    out[k] = json::object();
  }
  return out;
}

json string_map(const StringMap& m) {
  json out = json::object();
  for (const auto& [k, v] : m) {
    out[k] = v;
  }
  return out;
}

base::Result<HealthConfig> decode_health(const json& j) {
  Reader r(j, "HealthConfig");
  HealthConfig h;
  OptStrings test;
  DIND_TRY(r.get_str_slice("Test", test));
  h.test = test.value_or(Strings{});
  DIND_TRY(r.get("Interval", h.interval));
  DIND_TRY(r.get("Timeout", h.timeout));
  DIND_TRY(r.get("StartPeriod", h.start_period));
  DIND_TRY(r.get("StartInterval", h.start_interval));
  DIND_TRY(r.get("Retries", h.retries));
  return h;
}

json encode_health(const HealthConfig& h) {
  json out = json::object();
  if (!h.test.empty()) {
    out["Test"] = h.test;
  }
  auto put = [&out](const char* key, int64_t v) {
    if (v != 0) {
      out[key] = v;
    }
  };
  put("Interval", h.interval);
  put("Timeout", h.timeout);
  put("StartPeriod", h.start_period);
  put("StartInterval", h.start_interval);
  put("Retries", h.retries);
  return out;
}

base::Result<PortBinding> decode_port_binding(const json& j) {
  Reader r(j, "PortBinding");
  PortBinding b;
  DIND_TRY(r.get("HostIp", b.host_ip));
  DIND_TRY(r.get("HostPort", b.host_port));
  return b;
}

base::Result<PortMap> decode_port_map(const json& j) {
  PortMap out;
  for (const auto& [port, list] : j.items()) {
    auto& bindings = out[port];
    if (list.is_null()) {
      continue;
    }
    if (!list.is_array()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "json: cannot unmarshal " + go_kind(list) +
                            " into Go struct field HostConfig.PortBindings of type []nat.PortBinding");
    }
    for (const auto& b : list) {
      if (!b.is_object() && !b.is_null()) {
        return make_error(ErrorKind::kInvalidArgument,
                          "json: cannot unmarshal " + go_kind(b) +
                              " into Go struct field HostConfig.PortBindings of type nat.PortBinding");
      }
      DIND_ASSIGN_OR_RETURN(auto pb, decode_port_binding(b));
      bindings.push_back(std::move(pb));
    }
  }
  return out;
}

json encode_port_map(const PortMap& m) {
  json out = json::object();
  for (const auto& [port, list] : m) {
    json bindings = json::array();
    for (const auto& b : list) {
      bindings.push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
    }
    out[port] = list.empty() ? json(nullptr) : bindings;
  }
  return out;
}

base::Result<RestartPolicySpec> decode_restart_policy(const json& j) {
  Reader r(j, "RestartPolicy");
  RestartPolicySpec p;
  DIND_TRY(r.get("Name", p.name));
  DIND_TRY(r.get("MaximumRetryCount", p.maximum_retry_count));
  return p;
}

base::Result<LogConfig> decode_log_config(const json& j) {
  Reader r(j, "LogConfig");
  LogConfig l;
  DIND_TRY(r.get("Type", l.type));
  DIND_TRY(r.get("Config", l.config));
  return l;
}

base::Result<Ulimit> decode_ulimit(const json& j) {
  Reader r(j, "Ulimit");
  Ulimit u;
  DIND_TRY(r.get("Name", u.name));
  DIND_TRY(r.get("Soft", u.soft));
  DIND_TRY(r.get("Hard", u.hard));
  return u;
}

base::Result<DeviceMapping> decode_device(const json& j) {
  Reader r(j, "DeviceMapping");
  DeviceMapping d;
  DIND_TRY(r.get("PathOnHost", d.path_on_host));
  DIND_TRY(r.get("PathInContainer", d.path_in_container));
  DIND_TRY(r.get("CgroupPermissions", d.cgroup_permissions));
  return d;
}

base::Result<WeightDevice> decode_weight_device(const json& j) {
  Reader r(j, "WeightDevice");
  WeightDevice d;
  DIND_TRY(r.get("Path", d.path));
  DIND_TRY(r.get("Weight", d.weight));
  return d;
}

base::Result<ThrottleDevice> decode_throttle_device(const json& j) {
  Reader r(j, "ThrottleDevice");
  ThrottleDevice d;
  DIND_TRY(r.get("Path", d.path));
  DIND_TRY(r.get("Rate", d.rate));
  return d;
}

base::Result<DeviceRequest> decode_device_request(const json& j) {
  Reader r(j, "DeviceRequest");
  DeviceRequest d;
  DIND_TRY(r.get("Driver", d.driver));
  DIND_TRY(r.get("Count", d.count));
  DIND_TRY(r.get("DeviceIDs", d.device_ids));
  DIND_TRY(r.get("Options", d.options));
  if (const json* caps = r.find("Capabilities")) {
    if (!caps->is_array()) {
      return r.mismatch("Capabilities", *caps, "[][]string");
    }
    for (const auto& set : *caps) {
      Strings names;
      for (const auto& n : set.is_array() ? set : json::array()) {
        if (!n.is_string()) {
          return r.mismatch("Capabilities", n, "string");
        }
        names.push_back(n.get<std::string>());
      }
      d.capabilities.push_back(std::move(names));
    }
  }
  return d;
}

base::Result<MountRequest> decode_mount(const json& j) {
  Reader r(j, "Mount");
  MountRequest m;
  DIND_TRY(r.get("Type", m.type));
  DIND_TRY(r.get("Source", m.source));
  DIND_TRY(r.get("Target", m.target));
  DIND_TRY(r.get("ReadOnly", m.read_only));
  DIND_TRY(r.get("Consistency", m.consistency));
  if (const json* b = r.find("BindOptions"); b != nullptr && b->is_object()) {
    DIND_TRY(Reader(*b, "BindOptions").get("Propagation", m.bind_propagation));
  }
  if (const json* v = r.find("VolumeOptions"); v != nullptr && v->is_object()) {
    Reader vr(*v, "VolumeOptions");
    DIND_TRY(vr.get("NoCopy", m.volume_no_copy));
    DIND_TRY(vr.get("Labels", m.volume_labels));
  }
  if (const json* t = r.find("TmpfsOptions"); t != nullptr && t->is_object()) {
    Reader tr(*t, "TmpfsOptions");
    DIND_TRY(tr.get("SizeBytes", m.tmpfs_size_bytes));
    DIND_TRY(tr.get("Mode", m.tmpfs_mode));
  }
  return m;
}

json encode_mount(const MountRequest& m) {
  json out = {{"Type", m.type}, {"Source", m.source}, {"Target", m.target}};
  if (m.read_only) {
    out["ReadOnly"] = true;
  }
  if (!m.consistency.empty()) {
    out["Consistency"] = m.consistency;
  }
  if (!m.bind_propagation.empty()) {
    out["BindOptions"] = {{"Propagation", m.bind_propagation}};
  }
  if (m.volume_no_copy || !m.volume_labels.empty()) {
    out["VolumeOptions"] = json::object();
    if (m.volume_no_copy) {
      out["VolumeOptions"]["NoCopy"] = true;
    }
    if (!m.volume_labels.empty()) {
      out["VolumeOptions"]["Labels"] = string_map(m.volume_labels);
    }
  }
  if (m.tmpfs_size_bytes || m.tmpfs_mode) {
    out["TmpfsOptions"] = json::object();
    if (m.tmpfs_size_bytes) {
      out["TmpfsOptions"]["SizeBytes"] = *m.tmpfs_size_bytes;
    }
    if (m.tmpfs_mode) {
      out["TmpfsOptions"]["Mode"] = *m.tmpfs_mode;
    }
  }
  return out;
}

base::Status decode_resources(const Reader& r, Resources& s) {
  DIND_TRY(r.get("CpuShares", s.cpu_shares));
  DIND_TRY(r.get("Memory", s.memory));
  DIND_TRY(r.get("NanoCpus", s.nano_cpus));
  DIND_TRY(r.get("CgroupParent", s.cgroup_parent));
  DIND_TRY(r.get("BlkioWeight", s.blkio_weight));
  DIND_TRY(r.list("BlkioWeightDevice", s.blkio_weight_device, "[]*blkiodev.WeightDevice",
                  decode_weight_device));
  const char* kThrottle = "[]*blkiodev.ThrottleDevice";
  DIND_TRY(r.list("BlkioDeviceReadBps", s.blkio_device_read_bps, kThrottle, decode_throttle_device));
  DIND_TRY(
      r.list("BlkioDeviceWriteBps", s.blkio_device_write_bps, kThrottle, decode_throttle_device));
  DIND_TRY(
      r.list("BlkioDeviceReadIOps", s.blkio_device_read_iops, kThrottle, decode_throttle_device));
  DIND_TRY(
      r.list("BlkioDeviceWriteIOps", s.blkio_device_write_iops, kThrottle, decode_throttle_device));
  DIND_TRY(r.get("CpuPeriod", s.cpu_period));
  DIND_TRY(r.get("CpuQuota", s.cpu_quota));
  DIND_TRY(r.get("CpuRealtimePeriod", s.cpu_realtime_period));
  DIND_TRY(r.get("CpuRealtimeRuntime", s.cpu_realtime_runtime));
  DIND_TRY(r.get("CpusetCpus", s.cpuset_cpus));
  DIND_TRY(r.get("CpusetMems", s.cpuset_mems));
  DIND_TRY(r.list("Devices", s.devices, "[]container.DeviceMapping", decode_device));
  DIND_TRY(r.get("DeviceCgroupRules", s.device_cgroup_rules));
  if (r.find("DeviceRequests") != nullptr) {
    s.device_requests.emplace();
    DIND_TRY(r.list("DeviceRequests", *s.device_requests, "[]container.DeviceRequest",
                    decode_device_request));
  }
  DIND_TRY(r.get("KernelMemory", s.kernel_memory));
  DIND_TRY(r.get("KernelMemoryTCP", s.kernel_memory_tcp));
  DIND_TRY(r.get("MemoryReservation", s.memory_reservation));
  DIND_TRY(r.get("MemorySwap", s.memory_swap));
  DIND_TRY(r.get("MemorySwappiness", s.memory_swappiness));
  DIND_TRY(r.get("OomKillDisable", s.oom_kill_disable));
  DIND_TRY(r.get("PidsLimit", s.pids_limit));
  DIND_TRY(r.list("Ulimits", s.ulimits, "[]*units.Ulimit", decode_ulimit));
  DIND_TRY(r.get("CpuCount", s.cpu_count));
  DIND_TRY(r.get("CpuPercent", s.cpu_percent));
  DIND_TRY(r.get("IOMaximumIOps", s.io_maximum_iops));
  DIND_TRY(r.get("IOMaximumBandwidth", s.io_maximum_bandwidth));
  return {};
}

void encode_resources(const Resources& s, json& out) {
  auto weight_devices = [](const std::vector<WeightDevice>& list) {
    json a = json::array();
    for (const auto& d : list) {
      a.push_back({{"Path", d.path}, {"Weight", d.weight}});
    }
    return a;
  };
  auto throttle_devices = [](const std::vector<ThrottleDevice>& list) {
    json a = json::array();
    for (const auto& d : list) {
      a.push_back({{"Path", d.path}, {"Rate", d.rate}});
    }
    return a;
  };
  out["CpuShares"] = s.cpu_shares;
  out["Memory"] = s.memory;
  out["NanoCpus"] = s.nano_cpus;
  out["CgroupParent"] = s.cgroup_parent;
  out["BlkioWeight"] = s.blkio_weight;
  out["BlkioWeightDevice"] = weight_devices(s.blkio_weight_device);
  out["BlkioDeviceReadBps"] = throttle_devices(s.blkio_device_read_bps);
  out["BlkioDeviceWriteBps"] = throttle_devices(s.blkio_device_write_bps);
  out["BlkioDeviceReadIOps"] = throttle_devices(s.blkio_device_read_iops);
  out["BlkioDeviceWriteIOps"] = throttle_devices(s.blkio_device_write_iops);
  out["CpuPeriod"] = s.cpu_period;
  out["CpuQuota"] = s.cpu_quota;
  out["CpuRealtimePeriod"] = s.cpu_realtime_period;
  out["CpuRealtimeRuntime"] = s.cpu_realtime_runtime;
  out["CpusetCpus"] = s.cpuset_cpus;
  out["CpusetMems"] = s.cpuset_mems;
  json devices = json::array();
  for (const auto& d : s.devices) {
    devices.push_back({{"PathOnHost", d.path_on_host},
                       {"PathInContainer", d.path_in_container},
                       {"CgroupPermissions", d.cgroup_permissions}});
  }
  out["Devices"] = devices;
  out["DeviceCgroupRules"] = encode_list(s.device_cgroup_rules);
  if (s.device_requests) {
    json requests = json::array();
    for (const auto& d : *s.device_requests) {
      requests.push_back({{"Driver", d.driver},
                          {"Count", d.count},
                          {"DeviceIDs", d.device_ids},
                          {"Capabilities", d.capabilities},
                          {"Options", string_map(d.options)}});
    }
    out["DeviceRequests"] = requests;
  } else {
    out["DeviceRequests"] = nullptr;
  }
  out["KernelMemory"] = s.kernel_memory;
  out["KernelMemoryTCP"] = s.kernel_memory_tcp;
  out["MemoryReservation"] = s.memory_reservation;
  out["MemorySwap"] = s.memory_swap;
  out["MemorySwappiness"] = s.memory_swappiness ? json(*s.memory_swappiness) : json(nullptr);
  out["OomKillDisable"] = s.oom_kill_disable;
  out["PidsLimit"] = s.pids_limit ? json(*s.pids_limit) : json(nullptr);
  json ulimits = json::array();
  for (const auto& u : s.ulimits) {
    ulimits.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
  }
  out["Ulimits"] = ulimits;
  out["CpuCount"] = s.cpu_count;
  out["CpuPercent"] = s.cpu_percent;
  out["IOMaximumIOps"] = s.io_maximum_iops;
  out["IOMaximumBandwidth"] = s.io_maximum_bandwidth;
}

base::Status require_object(const json& j, const char* what) {
  if (!j.is_object() && !j.is_null()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "json: cannot unmarshal " + go_kind(j) + " into Go value of type " + what);
  }
  return {};
}

}  // namespace

std::set<std::string> nullable_host_members() {
  return {"PortBindings",        "Dns",                 "DnsOptions",          "DnsSearch",
          "BlkioWeightDevice",   "BlkioDeviceReadBps",  "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
          "BlkioDeviceWriteIOps", "Devices",            "Ulimits"};
}

json encode_list(const OptStrings& v) {
  return v ? json(*v) : json(nullptr);
}

base::Result<Config> decode_config(const json& j) {
  DIND_TRY(require_object(j, "container.Config"));
  Reader r(j, "Config");
  Config c;
  DIND_TRY(r.get("Hostname", c.hostname));
  DIND_TRY(r.get("Domainname", c.domainname));
  DIND_TRY(r.get("User", c.user));
  DIND_TRY(r.get("AttachStdin", c.attach_stdin));
  DIND_TRY(r.get("AttachStdout", c.attach_stdout));
  DIND_TRY(r.get("AttachStderr", c.attach_stderr));
  DIND_TRY(r.get("ExposedPorts", c.exposed_ports));
  DIND_TRY(r.get("Tty", c.tty));
  DIND_TRY(r.get("OpenStdin", c.open_stdin));
  DIND_TRY(r.get("StdinOnce", c.stdin_once));
  DIND_TRY(r.get("Env", c.env));
  DIND_TRY(r.get_str_slice("Cmd", c.cmd));
  DIND_TRY(r.object("Healthcheck", c.healthcheck, decode_health));
  DIND_TRY(r.get("ArgsEscaped", c.args_escaped));
  DIND_TRY(r.get("Image", c.image));
  DIND_TRY(r.get("Volumes", c.volumes));
  DIND_TRY(r.get("WorkingDir", c.working_dir));
  DIND_TRY(r.get_str_slice("Entrypoint", c.entrypoint));
  DIND_TRY(r.get("NetworkDisabled", c.network_disabled));
  DIND_TRY(r.get("MacAddress", c.mac_address));
  DIND_TRY(r.get("OnBuild", c.on_build));
  DIND_TRY(r.get("Labels", c.labels));
  DIND_TRY(r.get("StopSignal", c.stop_signal));
  DIND_TRY(r.get("StopTimeout", c.stop_timeout));
  DIND_TRY(r.get_str_slice("Shell", c.shell));
  return c;
}

json encode_config(const Config& c) {
  json out = {{"Hostname", c.hostname},
              {"Domainname", c.domainname},
              {"User", c.user},
              {"AttachStdin", c.attach_stdin},
              {"AttachStdout", c.attach_stdout},
              {"AttachStderr", c.attach_stderr},
              {"Tty", c.tty},
              {"OpenStdin", c.open_stdin},
              {"StdinOnce", c.stdin_once},
              {"Env", encode_list(c.env)},
              {"Cmd", encode_list(c.cmd)},
              {"Image", c.image},
              {"Volumes", c.volumes.empty() ? json(nullptr) : key_set(c.volumes)},
              {"WorkingDir", c.working_dir},
              {"Entrypoint", encode_list(c.entrypoint)},
              {"OnBuild", encode_list(c.on_build)},
              {"Labels", string_map(c.labels)}};
  // omitempty members.
  if (!c.exposed_ports.empty()) {
    out["ExposedPorts"] = key_set(c.exposed_ports);
  }
  if (c.healthcheck) {
    out["Healthcheck"] = encode_health(*c.healthcheck);
  }
  if (c.args_escaped) {
    out["ArgsEscaped"] = true;
  }
  if (c.network_disabled) {
    out["NetworkDisabled"] = true;
  }
  if (!c.mac_address.empty()) {
    out["MacAddress"] = c.mac_address;
  }
  if (!c.stop_signal.empty()) {
    out["StopSignal"] = c.stop_signal;
  }
  if (c.stop_timeout) {
    out["StopTimeout"] = *c.stop_timeout;
  }
  if (c.shell) {
    out["Shell"] = *c.shell;
  }
  return out;
}

base::Result<HostConfig> decode_host_config(const json& j) {
  DIND_TRY(require_object(j, "container.HostConfig"));
  Reader r(j, "HostConfig");
  HostConfig h;
  DIND_TRY(r.get("Binds", h.binds));
  DIND_TRY(r.get("ContainerIDFile", h.container_id_file));
  DIND_TRY(r.object("LogConfig", h.log_config, decode_log_config));
  DIND_TRY(r.get("NetworkMode", h.network_mode));
  DIND_TRY(r.object("PortBindings", h.port_bindings, decode_port_map));
  DIND_TRY(r.object("RestartPolicy", h.restart_policy, decode_restart_policy));
  DIND_TRY(r.get("AutoRemove", h.auto_remove));
  DIND_TRY(r.get("VolumeDriver", h.volume_driver));
  DIND_TRY(r.get("VolumesFrom", h.volumes_from));
  DIND_TRY(r.get("ConsoleSize", h.console_size));
  if (h.console_size.size() != 2) {
    h.console_size.resize(2, 0);
  }
  DIND_TRY(r.get("CgroupnsMode", h.cgroupns_mode));
  DIND_TRY(r.get("CapAdd", h.cap_add));
  DIND_TRY(r.get("CapDrop", h.cap_drop));
  DIND_TRY(r.get("Dns", h.dns));
  DIND_TRY(r.get("DnsOptions", h.dns_options));
  DIND_TRY(r.get("DnsSearch", h.dns_search));
  DIND_TRY(r.get("ExtraHosts", h.extra_hosts));
  DIND_TRY(r.get("GroupAdd", h.group_add));
  DIND_TRY(r.get("IpcMode", h.ipc_mode));
  DIND_TRY(r.get("Cgroup", h.cgroup));
  DIND_TRY(r.get("Links", h.links));
  DIND_TRY(r.get("OomScoreAdj", h.oom_score_adj));
  DIND_TRY(r.get("PidMode", h.pid_mode));
  DIND_TRY(r.get("Privileged", h.privileged));
  DIND_TRY(r.get("PublishAllPorts", h.publish_all_ports));
  DIND_TRY(r.get("ReadonlyRootfs", h.readonly_rootfs));
  DIND_TRY(r.get("SecurityOpt", h.security_opt));
  DIND_TRY(r.get("StorageOpt", h.storage_opt));
  DIND_TRY(r.get("Tmpfs", h.tmpfs));
  DIND_TRY(r.get("UTSMode", h.uts_mode));
  DIND_TRY(r.get("UsernsMode", h.userns_mode));
  DIND_TRY(r.get("ShmSize", h.shm_size));
  DIND_TRY(r.get("Sysctls", h.sysctls));
  DIND_TRY(r.get("Runtime", h.runtime));
  DIND_TRY(r.get("Isolation", h.isolation));
  DIND_TRY(decode_resources(r, h.resources));
  DIND_TRY(r.list("Mounts", h.mounts, "[]mount.Mount", decode_mount));
  DIND_TRY(r.get("MaskedPaths", h.masked_paths));
  DIND_TRY(r.get("ReadonlyPaths", h.readonly_paths));
  DIND_TRY(r.get("Init", h.init));
  for (const auto& k : nullable_host_members()) {
    if (j.is_object() && j.contains(k) && !j[k].is_null()) {
      h.null_members.erase(k);
    }
  }
  return h;
}

json encode_host_config(const HostConfig& h) {
  json out = {{"Binds", encode_list(h.binds)},
              {"ContainerIDFile", h.container_id_file},
              {"LogConfig", {{"Type", h.log_config.type}, {"Config", string_map(h.log_config.config)}}},
              {"NetworkMode", h.network_mode},
              {"PortBindings", encode_port_map(h.port_bindings)},
              {"RestartPolicy",
               {{"Name", h.restart_policy.name},
                {"MaximumRetryCount", h.restart_policy.maximum_retry_count}}},
              {"AutoRemove", h.auto_remove},
              {"VolumeDriver", h.volume_driver},
              {"VolumesFrom", encode_list(h.volumes_from)},
              {"ConsoleSize", h.console_size},
              {"CapAdd", encode_list(h.cap_add)},
              {"CapDrop", encode_list(h.cap_drop)},
              {"CgroupnsMode", h.cgroupns_mode},
              {"Dns", h.dns},
              {"DnsOptions", h.dns_options},
              {"DnsSearch", h.dns_search},
              {"ExtraHosts", encode_list(h.extra_hosts)},
              {"GroupAdd", encode_list(h.group_add)},
              {"IpcMode", h.ipc_mode},
              {"Cgroup", h.cgroup},
              {"Links", encode_list(h.links)},
              {"OomScoreAdj", h.oom_score_adj},
              {"PidMode", h.pid_mode},
              {"Privileged", h.privileged},
              {"PublishAllPorts", h.publish_all_ports},
              {"ReadonlyRootfs", h.readonly_rootfs},
              {"SecurityOpt", encode_list(h.security_opt)},
              {"UTSMode", h.uts_mode},
              {"UsernsMode", h.userns_mode},
              {"ShmSize", h.shm_size},
              {"Runtime", h.runtime},
              {"Isolation", h.isolation},
              {"MaskedPaths", encode_list(h.masked_paths)},
              {"ReadonlyPaths", encode_list(h.readonly_paths)}};
  encode_resources(h.resources, out);
  // omitempty members.
  if (!h.storage_opt.empty()) {
    out["StorageOpt"] = string_map(h.storage_opt);
  }
  if (!h.tmpfs.empty()) {
    out["Tmpfs"] = string_map(h.tmpfs);
  }
  if (!h.sysctls.empty()) {
    out["Sysctls"] = string_map(h.sysctls);
  }
  if (!h.mounts.empty()) {
    json mounts = json::array();
    for (const auto& m : h.mounts) {
      mounts.push_back(encode_mount(m));
    }
    out["Mounts"] = mounts;
  }
  if (h.init) {
    out["Init"] = *h.init;
  }
  for (const auto& k : h.null_members) {
    if (auto it = out.find(k); it != out.end() && it->empty()) {
      *it = nullptr;
    }
  }
  return out;
}

base::Result<EndpointConfig> decode_endpoint_config(const json& j) {
  DIND_TRY(require_object(j, "network.EndpointSettings"));
  Reader r(j, "EndpointSettings");
  EndpointConfig e;
  if (const json* ipam = r.find("IPAMConfig")) {
    if (!ipam->is_object()) {
      return r.mismatch("IPAMConfig", *ipam, "network.EndpointIPAMConfig");
    }
    Reader ir(*ipam, "EndpointIPAMConfig");
    e.has_ipam = true;
    DIND_TRY(ir.get("IPv4Address", e.ipv4_address));
    DIND_TRY(ir.get("IPv6Address", e.ipv6_address));
    DIND_TRY(ir.get("LinkLocalIPs", e.link_local_ips));
  }
  DIND_TRY(r.get("Links", e.links));
  DIND_TRY(r.get("Aliases", e.aliases));
  DIND_TRY(r.get("MacAddress", e.mac_address));
  DIND_TRY(r.get("DriverOpts", e.driver_opts));
  return e;
}

json encode_endpoint_config(const EndpointConfig& e) {
  json ipam = nullptr;
  if (e.has_ipam) {
    ipam = json::object();
    if (!e.ipv4_address.empty()) {
      ipam["IPv4Address"] = e.ipv4_address;
    }
    if (!e.ipv6_address.empty()) {
      ipam["IPv6Address"] = e.ipv6_address;
    }
    if (e.link_local_ips) {
      ipam["LinkLocalIPs"] = *e.link_local_ips;
    }
  }
  return {{"IPAMConfig", ipam},
          {"Links", encode_list(e.links)},
          {"Aliases", encode_list(e.aliases)},
          {"MacAddress", e.mac_address},
          {"DriverOpts", e.driver_opts.empty() ? json(nullptr) : string_map(e.driver_opts)}};
}

base::Result<EndpointsConfig> decode_networking_config(const json& j) {
  DIND_TRY(require_object(j, "network.NetworkingConfig"));
  EndpointsConfig out;
  Reader r(j, "NetworkingConfig");
  if (const json* eps = r.find("EndpointsConfig")) {
    if (!eps->is_object()) {
      return r.mismatch("EndpointsConfig", *eps, "map[string]*network.EndpointSettings");
    }
    for (const auto& [name, ep] : eps->items()) {
      DIND_ASSIGN_OR_RETURN(out[name], decode_endpoint_config(ep));
    }
  }
  return out;
}

json encode_networking_config(const EndpointsConfig& e) {
  json eps = json::object();
  for (const auto& [name, ep] : e) {
    eps[name] = encode_endpoint_config(ep);
  }
  return {{"EndpointsConfig", eps}};
}

base::Result<CreateRequest> decode_create_request(const json& body) {
  if (!body.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the request body must be a JSON object");
  }
  CreateRequest req;
  DIND_ASSIGN_OR_RETURN(req.config, decode_config(body));
  DIND_ASSIGN_OR_RETURN(req.host_config, decode_host_config(body.value("HostConfig", json())));
  DIND_ASSIGN_OR_RETURN(req.endpoints,
                        decode_networking_config(body.value("NetworkingConfig", json())));
  return req;
}

base::Result<ExecConfig> decode_exec_config(const json& body) {
  if (!body.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid JSON in the request body");
  }
  Reader r(body, "ExecConfig");
  ExecConfig e;
  DIND_TRY(r.get("User", e.user));
  DIND_TRY(r.get("Privileged", e.privileged));
  DIND_TRY(r.get("Tty", e.tty));
  DIND_TRY(r.get("AttachStdin", e.attach_stdin));
  DIND_TRY(r.get("AttachStdout", e.attach_stdout));
  DIND_TRY(r.get("AttachStderr", e.attach_stderr));
  DIND_TRY(r.get("DetachKeys", e.detach_keys));
  OptStrings list;
  DIND_TRY(r.get("Env", e.env));
  DIND_TRY(r.get_str_slice("Cmd", list));
  e.cmd = list.value_or(Strings{});
  DIND_TRY(r.get("WorkingDir", e.working_dir));
  std::vector<int64_t> size;
  DIND_TRY(r.get("ConsoleSize", size));
  if (size.size() == 2 && size[0] > 0 && size[1] > 0) {
    e.console_rows = std::min<int64_t>(size[0], 65535);
    e.console_cols = std::min<int64_t>(size[1], 65535);
  }
  return e;
}

base::Result<UpdateRequest> decode_update_request(const json& body) {
  if (!body.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid JSON in the request body");
  }
  UpdateRequest u;
  DIND_TRY(decode_resources(Reader(body, "UpdateConfig"), u.resources));
  if (const auto it = body.find("RestartPolicy"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "json: cannot unmarshal " + go_kind(*it) +
                            " into Go struct field UpdateConfig.RestartPolicy of type "
                            "container.RestartPolicy");
    }
    DIND_ASSIGN_OR_RETURN(u.restart_policy, decode_restart_policy(*it));
  }
  return u;
}

}  // namespace dind::model
