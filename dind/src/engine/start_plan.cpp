#include "start_plan.hpp"

#include <sstream>

#include "container_util.hpp"

namespace dind::engine {

using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

// --dns: its servers replace the network's nameservers; search and options stay.
std::string with_dns(const std::string& resolv, const std::vector<std::string>& dns) {
  if (dns.empty()) {
    return resolv;
  }
  std::string out;
  for (const auto& s : dns) {
    out += "nameserver " + s + "\n";
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
  const std::string hostname = f.config.hostname.empty() ? short_of(f.id) : f.config.hostname;
  p.hostname = hostname + "\n";
  p.extra_hosts = f.host_config.extra_hosts.value_or(model::Strings{});
  p.hosts = f.join_net.empty() ? hosts_file(hostname, {}, p.extra_hosts) : f.joined_hosts;
  p.resolv_conf = f.network_mode == "none" ? "" : with_dns(f.resolv_conf, f.host_config.dns);

  for (const auto& m : f.mounts) {
    if (m.type == MountSpec::Type::kVolume) {
      p.volumes.push_back(m.source);
    } else if (m.type == MountSpec::Type::kBind) {
      (m.create_source ? p.bind_sources : p.required_sources).push_back(m.source);
    }
  }

  // The user, from the image's own files, and its --group-add groups.
  auto user = runtime::resolve_user(f.config.user, f.passwd, f.group);
  if (!user) {
    return make_error(ErrorKind::kInternal, "OCI runtime create failed: " + user.error().message + ": unknown");
  }
  DIND_TRY(runtime::add_groups(*user, f.host_config.group_add.value_or(model::Strings{}), f.group));

  runtime::SpecInput& in = p.spec_input;
  in.id = f.id;
  in.config = f.config;
  in.host_config = f.host_config;
  in.rootfs = f.rootfs;
  in.container_dir = f.container_dir;
  in.cgroups_path = "/" + f.cgroup_parent + "/" + f.id;
  in.host_network = f.network_mode == "host";
  in.host_pid = f.host_config.pid_mode == "host";
  in.join_net = f.join_net;
  in.join_pid = f.join_pid;
  in.join_ipc = f.join_ipc;
  in.user = *user;
  in.mounts = oci_mounts(f.mounts, f.volume_dir);
  in.seccomp = f.seccomp;
  in.host = f.host;
  in.devices = f.devices;
  if (f.host_config.init.value_or(false)) {
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
  // --log-driver none: the output goes nowhere (docker logs refuses).
  so.log_path = f.host_config.log_config.type == "none" ? "/dev/null"
                                                         : f.container_dir + "/" + f.id + "-json.log";
  so.socket = f.socket;
  so.exit_file = f.container_dir + "/exit.json";
  so.open_stdin = f.config.open_stdin;
  so.stdin_once = f.config.stdin_once;
  so.tty = f.config.tty;
  so.cgroup = in.cgroups_path;
  so.runc_exec = f.runc_exec;
  return p;
}

}  // namespace dind::engine
