// Operations on a container's cgroups through the runtime: update of its
// resource limits and restart policy, pause and unpause (the freezer).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "container_record.hpp"
#include "container_util.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/text.hpp"
#include "dind/runtime/resources.hpp"
#include "dind/runtime/shim_os.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

base::Status Containers::runtime_command(const Container& c, std::vector<std::string> args,
                                         const std::string& what) const {
  const std::string log = (run_dir(c.id) / (args.front() + ".log")).string();
  ::unlink(log.c_str());
  args.push_back(c.id);
  base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const int st = runtime::shim_os::run_runtime(paths_.runtime, (paths_.exec_root / "runc").string(),
                                               log, args, devnull.get(), devnull.get(),
                                               devnull.get());
  if (st != 0) {
    return make_error(ErrorKind::kInternal,
                      what + ": " +
                          runtime::shim_os::runtime_error(
                              log, "runc " + args.front() + " failed with status " +
                                       std::to_string(st)));
  }
  return {};
}

base::Result<std::vector<std::string>> Containers::update(const std::string& ref,
                                                          const model::UpdateRequest& request) {
  auto found = find(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto c = *found;
  // The container's operation lock (not the engine's) spans `runc update`.
  std::lock_guard op(c->op_mu);
  EngineLock lock(*this);
  DIND_TRY(admit(state_of(*c), Op::kUpdate, c->id));
  model::HostConfig hc = c->host_config;
  hc.resources = merge_update(hc.resources, request.resources, host_.swap_limit);
  if (request.restart_policy && !request.restart_policy->name.empty()) {
    if (hc.auto_remove) {
      return make_error(ErrorKind::kInvalidArgument,
                        "Restart policy cannot be updated because AutoRemove is enabled for the "
                        "container");
    }
    hc.restart_policy = *request.restart_policy;
    DIND_TRY(parse_restart_policy(hc));
  }
  std::vector<std::string> warnings;
  auto settled = runtime::settle_resources(hc, host_, true, &warnings);
  if (!settled) {
    return std::move(settled).error();
  }
  if (c->status == RunStatus::kRunning) {
    lock.unlock();
    const auto file = run_dir(c->id) / "update.json";
    DIND_TRY(base::write_file_atomic(file, runtime::oci_resources(settled->resources, host_).dump(), 0600));
    DIND_TRY(runtime_command(*c, {"update", "--resources", file.string()},
                             "Cannot update container " + c->id));
    lock.lock();
  }
  c->host_config = std::move(*settled);
  DIND_TRY(save(*c));
  return warnings;
}

base::Status Containers::pause(const std::string& ref) {
  return freeze(ref, true);
}

base::Status Containers::freeze(const std::string& ref, bool pause) {
  auto found = find(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto& c = **found;
  // Admitted under the engine's lock; `runc pause/resume` runs under the
  // container's operation lock only, so nobody else waits for it.
  std::lock_guard op(c.op_mu);
  {
    EngineLock lock(*this);
    DIND_TRY(admit(state_of(c), pause ? Op::kPause : Op::kUnpause, c.id));
  }
  DIND_TRY(runtime_command(c, {pause ? "pause" : "resume"},
                           (pause ? "Cannot pause container " : "Cannot unpause container ") + c.id));
  EngineLock lock(*this);
  if (c.status == RunStatus::kRunning) {  // not if it exited meanwhile
    c.paused = pause;
    emit(c, pause ? "pause" : "unpause");
  }
  return save(c);
}

base::Status Containers::unpause(const std::string& ref) {
  return freeze(ref, false);
}

void Containers::thaw_later(const std::string& id) {
  auto self = shared_from_this();
  workers_->post([self, id] {
    auto found = self->find(id);
    if (!found) {
      return;
    }
    auto& c = **found;
    std::lock_guard op(c.op_mu);
    {
      EngineLock lock(*self);
      if (!c.paused || c.status != RunStatus::kRunning) {
        return;
      }
    }
    if (auto st = self->runtime_command(c, {"resume"}, "unpause"); !st) {
      DIND_LOG(kWarn) << short_id(c.id) << ": " << st.error().message;
    }
    EngineLock lock(*self);
    c.paused = false;
    (void)self->save(c);
  });
}

EndpointView endpoint_view(const Networks& networks, const std::string& n,
                           const netsetup::EndpointState& ep, const std::vector<std::string>& names) {
  auto info = networks.find(n);
  EndpointView e;
  e.network_id = info ? info->id : "";
  e.endpoint_id = base::random_hex(64);
  e.ip_address = ep.ip.to_string();
  e.mac_address = ep.mac.to_string();
  if (ep.ip6 && info && info->state.subnet6) {
    e.ipv6_address = ep.ip6->to_string();
    e.ipv6_prefix_len = info->state.subnet6->len;
    e.ipv6_gateway = info->state.gateway6 ? info->state.gateway6->to_string() : "";
  }
  e.prefix_len = info ? info->state.subnet.len : 0;
  e.gateway = info ? info->state.gateway.to_string() : "";
  if (n != "bridge") {
    e.dns_names = names;
    if (names.size() >= 2) {
      e.aliases = model::Strings(names.begin() + 2, names.end());
    }
  }
  for (const auto& p : ep.ports) {
    e.ports.push_back({p.proto == netsetup::Proto::kTcp ? "tcp" : "udp",
                       p.host_ip ? p.host_ip->to_string() : "0.0.0.0", p.host_port,
                       p.container_port});
  }
  return e;
}

base::Result<FixedEndpoint> endpoint_fixed(const std::string& network, const model::EndpointConfig& ec) {
  FixedEndpoint out;
  if (!ec.ipv4_address.empty() || !ec.ipv6_address.empty()) {
    if (network == "bridge") {
      return make_error(ErrorKind::kInvalidArgument,
                        "user specified IP address is supported on user defined networks only");
    }
  }
  if (!ec.ipv4_address.empty()) {
    auto ip = netsetup::Ipv4::parse(ec.ipv4_address);
    if (!ip) {
      return make_error(ErrorKind::kInvalidArgument, "invalid IPv4 address: " + ec.ipv4_address);
    }
    out.ip = *ip;
  }
  if (!ec.ipv6_address.empty()) {
    auto ip6 = netsetup::Ipv6::parse(ec.ipv6_address);
    if (!ip6) {
      return make_error(ErrorKind::kInvalidArgument, "invalid IPv6 address: " + ec.ipv6_address);
    }
    out.ip6 = *ip6;
  }
  if (!ec.mac_address.empty()) {
    auto mac = netsetup::Mac::parse(ec.mac_address);
    if (!mac) {
      return make_error(ErrorKind::kInvalidArgument, ec.mac_address + " is not a valid mac address");
    }
    out.mac = *mac;
  }
  return out;
}

std::vector<std::string> dns_names(const Containers::Container& c,
                                   const model::EndpointConfig& endpoint_config) {
  std::vector<std::string> names = {c.name.substr(1), short_id(c.id)};
  for (const auto& a : endpoint_config.aliases.value_or(model::Strings{})) {
    if (std::find(names.begin(), names.end(), a) == names.end()) {
      names.push_back(a);
    }
  }
  return names;
}

base::Result<std::pair<std::string, std::shared_ptr<Containers::Container>>>
Containers::network_target_locked(const std::string& ref, const std::string& network) const {
  auto info = networks_->find(network);
  if (!info) {
    return std::move(info).error();
  }
  auto found = find_locked(ref);
  if (!found) {
    return std::move(found).error();
  }
  return std::make_pair(info->name, *found);
}

base::Status Containers::connect_network(const std::string& ref, const std::string& network,
                                         const model::EndpointConfig& endpoint_config) {
  // The container's operation lock spans the netlink work; the engine's
  // lock only the checks and the commit.
  auto found = find(ref);
  if (!found) {
    return std::move(found).error();
  }
  std::lock_guard op((*found)->op_mu);
  EngineLock lock(*this);
  DIND_ASSIGN_OR_RETURN(auto target, network_target_locked(ref, network));
  const auto [net, c] = target;
  if (c->network_mode == "host" || c->network_mode == "none") {
    return make_error(ErrorKind::kInvalidArgument,
                      "container cannot be disconnected from host network or connected to host "
                      "network");
  }
  if (c->status == RunStatus::kRunning) {
    if (c->endpoints.count(net) != 0) {
      return make_error(ErrorKind::kPermissionDenied, "endpoint with name " + c->name.substr(1) +
                                                          " already exists in network " + net);
    }
    netsetup::AttachRequest req;
    req.network = net;
    req.netns = c->netns;
    req.default_route = false;
    if (net != "bridge") {
      req.names = dns_names(*c, endpoint_config);
    }
    DIND_ASSIGN_OR_RETURN(auto fixed, endpoint_fixed(net, endpoint_config));
    req.ip = fixed.ip;
    req.ip6 = fixed.ip6;
    req.mac = fixed.mac;
    const uint64_t generation = c->generation;
    lock.unlock();
    auto ep = networks_->attach(req);
    lock.lock();
    if (!ep) {
      return std::move(ep).error();
    }
    if (c->generation != generation || c->status != RunStatus::kRunning || c->netns != req.netns) {
      // It exited meanwhile: its release did not see this endpoint.
      lock.unlock();
      (void)networks_->detach(net, req.netns);
      return make_error(ErrorKind::kConflict, "Container " + c->id + " is not running");
    }
    c->endpoints[net] = endpoint_view(*networks_, net, *ep, req.names);
    // Its first user network brings the embedded DNS to a container that
    // had the default bridge's servers (a file the user edited stays).
    if (resolver_network(c->network_mode, c->networking, network_name_of()) == "bridge" &&
        net != "bridge") {
      switch_resolver(*c, "bridge", net);
    }
  }
  c->networking[net] = endpoint_config;
  return save(*c);
}

base::Status Containers::disconnect_network(const std::string& ref, const std::string& network) {
  auto found = find(ref);
  if (!found) {
    return std::move(found).error();
  }
  std::lock_guard op((*found)->op_mu);
  EngineLock lock(*this);
  DIND_ASSIGN_OR_RETURN(auto target, network_target_locked(ref, network));
  const auto [net, c] = target;
  const bool configured = c->networking.count(net) != 0;
  const bool attached = c->status == RunStatus::kRunning && c->endpoints.count(net) != 0;
  if (!configured && !attached && c->network_mode != net) {
    return make_error(ErrorKind::kPermissionDenied,
                      "container " + c->id + " is not connected to network " + net);
  }
  if (attached) {
    // Off the inspect output first, then the netlink work without the lock.
    const std::string netns = c->netns;
    EndpointView was = c->endpoints[net];
    c->endpoints.erase(net);
    lock.unlock();
    auto detached = networks_->detach(net, netns);
    lock.lock();
    if (!detached) {
      if (c->netns == netns) {
        c->endpoints[net] = std::move(was);
      }
      return std::move(detached).error();
    }
  }
  if (configured) {
    c->networking.erase(net);
  }
  if (attached) {  // its resolver went with it: the next network's, if any
    const std::string mode = c->network_mode == net ? "none" : c->network_mode;
    const std::string next = resolver_network(mode, c->networking, network_name_of());
    if (next != net) {
      switch_resolver(*c, net, next);
    }
  }
  return save(*c);
}

std::function<std::optional<std::string>(const std::string&)> Containers::network_name_of() const {
  return [networks = networks_](const std::string& ref) -> std::optional<std::string> {
    auto info = networks->find(ref);
    return info ? std::optional<std::string>(info->name) : std::nullopt;
  };
}

void Containers::switch_resolver(const Container& c, const std::string& from,
                                 const std::string& to) const {
  const auto conf = dir(c.id) / "resolv.conf";
  if (c.host_config.dns.empty() &&
      base::read_file(conf).value_or("") == networks_->resolv_conf_for(from)) {
    (void)write_in_place(conf, networks_->resolv_conf_for(to));
  }
}

}  // namespace dind::engine
