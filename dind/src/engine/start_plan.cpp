#include "start_plan.hpp"

#include <sstream>

#include "container_util.hpp"

namespace dind::engine {

using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

// --dns: its servers replace the network's nameservers; search and options stay.
std::string with_dns(const std::string& resolv, const json& dns) {
  if (!dns.is_array() || dns.empty()) {
    return resolv;
  }
  std::string out;
  for (const auto& s : dns) {
    if (s.is_string()) {
      out += "nameserver " + s.get<std::string>() + "\n";
    }
  }
  std::istringstream in(resolv);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("nameserver", 0) != 0) {
      out += line + "\n";
    }
  }
  return out;
}

std::string short_of(const std::string& id) {
  return id.substr(0, 12);
}

}  // namespace

base::Result<StartPlan> plan_start(const StartFacts& f) {
  StartPlan p;
  p.hostname = f.config.value("Hostname", short_of(f.id)) + "\n";
  p.extra_hosts = f.host_config.value("ExtraHosts", json());
  p.hosts = hosts_file(f.config.value("Hostname", short_of(f.id)), {}, p.extra_hosts);
  p.resolv_conf = f.network_mode == "none" ? "" : with_dns(f.resolv_conf, f.host_config.value("Dns", json::array()));

  for (const auto& m : f.mounts) {
    if (m.type == MountSpec::Type::kVolume) {
      p.volumes.push_back(m.source);
    } else if (m.type == MountSpec::Type::kBind) {
      (m.create_source ? p.bind_sources : p.required_sources).push_back(m.source);
    }
  }

  // The user, from the image's own files, and its --group-add groups.
  auto user = runtime::resolve_user(f.config.value("User", ""), f.passwd, f.group);
  if (!user) {
    return make_error(ErrorKind::kInternal, "OCI runtime create failed: " + user.error().message + ": unknown");
  }
  std::vector<std::string> group_add;
  if (const json g = f.host_config.value("GroupAdd", json()); g.is_array()) {
    for (const auto& e : g) {
      if (e.is_string()) {
        group_add.push_back(e.get<std::string>());
      }
    }
  }
  DIND_TRY(runtime::add_groups(*user, group_add, f.group));

  runtime::SpecInput& in = p.spec_input;
  in.id = f.id;
  in.config = f.config;
  in.host_config = f.host_config;
  in.rootfs = f.rootfs;
  in.container_dir = f.container_dir;
  in.cgroups_path = "/" + f.cgroup_parent + "/" + f.id;
  in.host_network = f.network_mode == "host";
  in.user = *user;
  in.mounts = oci_mounts(f.mounts, f.volume_dir);
  in.seccomp = f.seccomp;
  in.host = f.host;
  in.devices = f.devices;
  if (f.host_config.value("Init", json(false)) == json(true)) {
    if (f.init_exe.empty()) {
      return make_error(ErrorKind::kInvalidArgument, "--init needs the static dind-shim installed next to dind");
    }
    in.init_path = f.init_exe;
  }
  auto spec = runtime::plan_spec(in);
  if (!spec) {
    return std::move(spec).error();
  }
  p.spec = std::move(*spec);

  runtime::ShimOptions& so = p.shim;
  so.id = f.id;
  so.bundle = f.run_dir;
  so.runc_root = f.runc_root;
  so.runtime = f.runtime;
  so.log_path = f.container_dir + "/" + f.id + "-json.log";
  so.socket = f.socket;
  so.exit_file = f.container_dir + "/exit.json";
  so.open_stdin = f.config.value("OpenStdin", false);
  so.stdin_once = f.config.value("StdinOnce", false);
  so.tty = f.config.value("Tty", false);
  so.cgroup = in.cgroups_path;
  so.runc_exec = f.runc_exec;
  return p;
}

}  // namespace dind::engine
