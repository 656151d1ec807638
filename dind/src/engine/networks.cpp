// clang-format off
#include <utility>  // Boost 1.74's asio needs it before itself in C++20
// clang-format on
#include "dind/engine/networks.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/sha256.hpp"
#include "dind/base/text.hpp"
#include "dind/base/time.hpp"
#include "netsetup/dns_server.hpp"
#include "netsetup/link.hpp"
#include "netsetup/resolv_conf.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr const char* kDefault = "bridge";
constexpr const char* kBuiltinCreated = "0001-01-01T00:00:00Z";

std::map<std::string, std::string> string_map(const json& j) {
  std::map<std::string, std::string> out;
  if (j.is_object()) {
    for (const auto& item : j.items()) {
      if (item.value().is_string()) {
        out[item.key()] = item.value().get<std::string>();
      }
    }
  }
  return out;
}
}  // namespace

Networks::~Networks() {
  if (dns_ioc_) {
    dns_ioc_->stop();
  }
  if (dns_thread_.joinable()) {
    dns_thread_.join();
  }
}

std::string nat_table_for(const std::string& bridge, const std::string& data_root) {
  if (bridge == "dind0") {
    return "dind";
  }
  if (bridge == "none") {
    return "dind-" + base::sha256_digest(data_root).substr(7, 12);
  }
  return "dind-" + bridge;
}

base::Result<std::unique_ptr<Networks>> Networks::open(NetworkOptions options) {
  std::unique_ptr<Networks> n(new Networks());
  n->options_ = options;
  // Before anything is created or replaced: another live engine in this
  // namespace with our bridge or table is refused, never torn down.
  for (const auto& [kind, name] : {std::pair<std::string, std::string>{"table", options.table},
                                   {"bridge", options.bridge}}) {
    if (name == "none") {
      continue;
    }
    auto claim = netsetup::Claim::take(kind, name, options.owner);
    if (!claim) {
      return make_error(ErrorKind::kConflict,
                        claim.error().message + ": give this engine its own with --bridge NAME (its NAT "
                        "table is then dind-NAME), or stop the other one");
    }
    n->claims_.push_back(std::move(*claim));
  }
  netsetup::ManagerOptions mo;
  mo.state_dir = options.state_dir;
  mo.table = options.table;
  mo.default_mtu = options.mtu;
  if (!options.pools.empty()) {
    mo.pools = options.pools;
  }
  auto m = netsetup::NetworkManager::open(mo);
  if (!m) {
    return std::move(m).error();
  }
  n->manager_.emplace(std::move(*m));
  base::remove_interrupted_writes(options.state_dir);  // a write the last run's end cut
  if (auto text = base::read_file(options.state_dir / "ids.json")) {
    auto doc = json::parse(*text, nullptr, false);
    if (doc.is_object()) {
      for (const auto& [name, v] : doc.items()) {
        NetworkInfo info;
        info.id = v.value("Id", "");
        info.name = name;
        info.created = v.value("Created", "");
        info.labels = string_map(v.value("Labels", json::object()));
        info.options = string_map(v.value("Options", json::object()));
        if (auto o = v.find("IPAMOptions"); o != v.end() && !o->is_null()) {
          info.ipam_options = string_map(*o);
        }
        info.attachable = v.value("Attachable", false);
        info.enable_ipv6 = v.value("EnableIPv6", false);
        const json ipam = v.value("IPAM", json::array());
        for (const auto& pool : ipam.is_array() ? ipam : json::array()) {
          if (pool.is_object()) {
            info.ipam.push_back(model::IpamPool{pool.value("Subnet", ""), pool.value("IPRange", ""),
                                                pool.value("Gateway", ""),
                                                string_map(pool.value("AuxiliaryAddresses", json::object()))});
          }
        }
        n->infos_[name] = info;
      }
    }
  }
  n->host_resolv_ = base::read_file("/etc/resolv.conf").value_or("");
  // The default network, created once and kept (dockerd's --bridge=none
  // goes without it).
  if (options.bridge != "none" && n->manager_->networks().count(kDefault) == 0) {
    netsetup::NetworkSpec spec;
    spec.name = kDefault;
    spec.bridge = options.bridge;
    if (options.mtu > 0) {
      spec.mtu = options.mtu;
    }
    if (!options.bip.empty()) {
      auto p = netsetup::Ipv4Prefix::parse(options.bip);
      if (!p) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid --bip " + options.bip + ": " + p.error().message);
      }
      spec.subnet = p->canonical();
      spec.gateway = p->addr;
    }
    auto created = n->manager_->create_network(spec);
    if (!created && created.error().kind == ErrorKind::kConflict &&
        netsetup::link_exists(options.bridge)) {
      // An interface of our bridge's name that our state does not know: left
      // by an earlier daemon with another data root. Replace it (dockerd
      // re-uses its docker0 the same way).
      DIND_LOG(kWarn) << "replacing the stale bridge " << options.bridge << " (not in "
                      << options.state_dir.string() << ")";
      if (auto st = netsetup::delete_link(options.bridge); st) {
        created = n->manager_->create_network(spec);
      }
    }
    if (!created) {
      return std::move(created).error().with_context("creating the default bridge network");
    }
  }
  for (const auto& [name, state] : n->manager_->networks()) {
    auto& info = n->infos_[name];
    info.name = name;
    if (info.id.empty()) {
      info.id = base::random_hex(64);
      info.created = base::rfc3339_nano(std::chrono::system_clock::now());
    }
    info.state = state;
  }
  std::erase_if(n->infos_,
                [&](const auto& kv) { return n->manager_->networks().count(kv.first) == 0; });
  DIND_TRY(n->save_ids());

  // DNS for user-defined networks, on its own thread.
  netsetup::DnsServerOptions dopts;
  dopts.upstreams = netsetup::upstreams(netsetup::parse_resolv_conf(n->host_resolv_));
  n->dns_ioc_ = std::make_unique<boost::asio::io_context>();
  n->dns_ = std::make_unique<netsetup::DnsServer>(*n->dns_ioc_, dopts);
  for (const auto& [name, state] : n->manager_->networks()) {
    if (name != kDefault) {
      if (auto st = n->dns_->listen(state.gateway); !st) {
        DIND_LOG(kWarn) << "DNS for network " << name << ": " << st.error().message;
      }
    }
  }
  n->dns_->update(n->manager_->dns_records(), n->manager_->endpoint_networks());
  n->dns_thread_ = std::thread([ioc = n->dns_ioc_.get()] {
    auto guard = boost::asio::make_work_guard(*ioc);
    ioc->run();
  });
  return n;
}

base::Status Networks::save_ids() const {
  json doc = json::object();
  for (const auto& [name, info] : infos_) {
    json ipam = json::array();
    for (const auto& p : info.ipam) {
      ipam.push_back({{"Subnet", p.subnet},
                      {"IPRange", p.ip_range},
                      {"Gateway", p.gateway},
                      {"AuxiliaryAddresses", p.aux_addresses}});
    }
    doc[name] = {{"Id", info.id},           {"Created", info.created},
                 {"Labels", info.labels},   {"Options", info.options},
                 {"IPAM", ipam},            {"IPAMOptions", info.ipam_options ? json(*info.ipam_options) : json(nullptr)},
                 {"Attachable", info.attachable}, {"EnableIPv6", info.enable_ipv6}};
  }
  return base::write_file_atomic(options_.state_dir / "ids.json", doc.dump() + "\n", 0600);
}

void Networks::refresh_dns() {
  auto records = manager_->dns_records();
  auto eps = manager_->endpoint_networks();
  boost::asio::post(
      *dns_ioc_, [dns = dns_.get(), records = std::move(records), eps = std::move(eps)]() mutable {
        dns->update(std::move(records), std::move(eps));
      });
}

template <typename F>
auto Networks::on_dns_thread(F f) {
  using R = decltype(f(*dns_));
  auto task = std::make_shared<std::packaged_task<R()>>([this, f = std::move(f)] { return f(*dns_); });
  auto done = task->get_future();
  boost::asio::post(*dns_ioc_, [task] { (*task)(); });
  return done.get();
}

base::Result<NetworkInfo> Networks::create(const model::NetworkCreate& request) {
  const std::string& name = request.name;
  std::lock_guard lock(mu_);
  if (name.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "network name must not be empty");
  }
  if (infos_.count(name) != 0 || name == "host" || name == "none") {
    return make_error(ErrorKind::kConflict, "network with name " + name + " already exists");
  }
  const std::string& driver = request.driver;
  if (!driver.empty() && driver != "bridge") {
    return make_error(ErrorKind::kNotFound, "plugin \"" + driver + "\" not found");
  }
  if (!request.ipam_driver.empty() && request.ipam_driver != "default") {
    return make_error(ErrorKind::kNotFound, "plugin \"" + request.ipam_driver + "\" not found");
  }
  netsetup::NetworkSpec spec;
  spec.name = name;
  spec.internal = request.internal;
  if (options_.mtu > 0) {
    spec.mtu = options_.mtu;
  }
  if (auto mtu = request.options.find("com.docker.network.driver.mtu"); mtu != request.options.end()) {
    char* end = nullptr;
    const long v = std::strtol(mtu->second.c_str(), &end, 10);
    if (mtu->second.empty() || *end != '\0' || v < 68 || v > 65535) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid value for com.docker.network.driver.mtu: " + mtu->second);
    }
    spec.mtu = static_cast<int>(v);
  }
  // IPAM pools: IPv4 ones (the last wins), and IPv6 ones when IPv6 is on
  // (dockerd keeps a v6 pool of a network without IPv6 but uses none).
  for (const auto& c : request.ipam) {
    const bool v6 = c.subnet.find(':') != std::string::npos || c.gateway.find(':') != std::string::npos;
    if (v6) {
      if (!c.subnet.empty()) {
        auto p = netsetup::Ipv6Prefix::parse(c.subnet);
        if (!p) {
          return make_error(ErrorKind::kInvalidArgument, "invalid subnet " + c.subnet + ": " + p.error().message);
        }
        if (request.enable_ipv6) {
          spec.subnet6 = p->canonical();
        }
      }
      if (!c.gateway.empty()) {
        auto g = netsetup::Ipv6::parse(c.gateway);
        if (!g) {
          return make_error(ErrorKind::kInvalidArgument, "invalid gateway " + c.gateway);
        }
        if (request.enable_ipv6) {
          spec.gateway6 = *g;
        }
      }
      continue;
    }
    if (const std::string& subnet = c.subnet; !subnet.empty()) {
      auto p = netsetup::Ipv4Prefix::parse(subnet);
      if (!p) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid subnet " + subnet + ": " + p.error().message);
      }
      spec.subnet = p->canonical();
    }
    if (const std::string& gw = c.gateway; !gw.empty()) {
      auto g = netsetup::Ipv4::parse(gw);
      if (!g) {
        return make_error(ErrorKind::kInvalidArgument, "invalid gateway " + gw);
      }
      spec.gateway = *g;
    }
    for (const auto& [aux_name, aux] : c.aux_addresses) {
      auto a = netsetup::Ipv4::parse(aux);
      if (!a) {
        return make_error(ErrorKind::kInvalidArgument,
                          "invalid auxiliary address " + aux_name + "=" + aux);
      }
      spec.reserved.push_back(*a);
    }
  }
  if (request.enable_ipv6 && !spec.subnet6) {
    // dockerd has no default IPv6 pools either.
    return make_error(ErrorKind::kInvalidArgument,
                      "could not find an available, non-overlapping IPv6 address pool among the defaults "
                      "to assign to the network");
  }
  NetworkInfo info;
  info.id = base::random_hex(64);
  spec.bridge = "br-" + info.id.substr(0, 12);
  auto state = manager_->create_network(spec);
  if (!state) {
    return std::move(state).error();
  }
  info.name = name;
  info.created = base::rfc3339_nano(std::chrono::system_clock::now());
  info.labels = request.labels;
  info.options = request.options;
  info.attachable = request.attachable;
  info.enable_ipv6 = request.enable_ipv6;
  info.ipam = request.ipam;
  info.ipam_options = request.ipam_options;
  info.state = *state;
  infos_[name] = info;
  if (auto st = save_ids(); !st) {
    (void)manager_->delete_network(name);
    infos_.erase(name);
    return std::move(st).error();
  }
  const netsetup::Ipv4 gateway = state->gateway;
  if (auto st = on_dns_thread([gateway](netsetup::DnsServer& dns) { return dns.listen(gateway); });
      !st) {
    DIND_LOG(kWarn) << "DNS for network " << name << ": " << st.error().message;
  }
  return info;
}

base::Result<NetworkInfo> Networks::find(const std::string& ref) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, info] : infos_) {
    if (name == ref || info.id == ref) {
      return info;
    }
  }
  std::optional<NetworkInfo> match;
  for (const auto& [name, info] : infos_) {
    if (ref.size() >= 1 && info.id.rfind(ref, 0) == 0) {
      if (match) {
        return make_error(ErrorKind::kInvalidArgument, "network " + ref + " is ambiguous");
      }
      match = info;
    }
  }
  if (match) {
    return *match;
  }
  return make_error(ErrorKind::kNotFound, "network " + ref + " not found");
}

std::vector<NetworkInfo> Networks::list() const {
  std::lock_guard lock(mu_);
  std::vector<NetworkInfo> out;
  for (const auto& [name, info] : infos_) {
    out.push_back(info);
  }
  return out;
}

std::vector<NetworkInfo> Networks::builtins() const {
  std::vector<NetworkInfo> out;
  for (const auto& [name, driver] : {std::pair{"host", "host"}, std::pair{"none", "null"}}) {
    NetworkInfo info;
    info.name = name;
    info.driver = driver;
    info.id = base::sha256_digest(options_.state_dir.string() + "\n" + name).substr(7);
    info.created = kBuiltinCreated;
    out.push_back(std::move(info));
  }
  return out;
}

bool Networks::in_use(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& e : manager_->endpoints()) {
    if (e.network == name) {
      return true;
    }
  }
  return false;
}

base::Status Networks::remove(const std::string& ref) {
  auto info = find(ref);
  if (!info) {
    return std::move(info).error();
  }
  std::lock_guard lock(mu_);
  if (info->name == kDefault) {
    return make_error(ErrorKind::kPermissionDenied,
                      info->name + " is a pre-defined network and cannot be removed");
  }
  for (const auto& e : manager_->endpoints()) {
    if (e.network == info->name) {
      return make_error(ErrorKind::kPermissionDenied, "error while removing network: network " +
                                                          info->name + " id " + info->id +
                                                          " has active endpoints");
    }
  }
  DIND_TRY(manager_->delete_network(info->name));
  // Its resolver goes with it: a later network on the same gateway listens there.
  const netsetup::Ipv4 gateway = info->state.gateway;
  on_dns_thread([gateway](netsetup::DnsServer& dns) {
    dns.unlisten(gateway);
    return 0;
  });
  infos_.erase(info->name);
  return save_ids();
}

base::Result<netsetup::EndpointState> Networks::attach(const netsetup::AttachRequest& request) {
  std::lock_guard lock(mu_);
  auto e = manager_->attach(request);
  if (e) {
    refresh_dns();
  }
  return e;
}

base::Status Networks::detach(const std::string& network, const fs::path& netns) {
  std::lock_guard lock(mu_);
  auto st = manager_->detach(network, netns);
  refresh_dns();
  return st;
}

void Networks::repair_nat() const {
  std::lock_guard lock(mu_);
  if (!manager_) {
    return;
  }
  if (auto repaired = manager_->repair_nat(); !repaired) {
    DIND_LOG(kWarn) << "the NAT table " << options_.table << " differs from ours and could not be put back: "
                    << repaired.error().message;
  } else if (*repaired) {
    DIND_LOG(kWarn) << "the NAT table " << options_.table << " was changed behind our back: put back";
  }
}

std::vector<std::pair<std::string, std::string>> Networks::endpoints() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  if (manager_) {
    for (const auto& e : manager_->endpoints()) {
      out.emplace_back(e.network, e.netns);
    }
  }
  return out;
}

std::string Networks::resolv_conf_for(const std::string& network) const {
  std::lock_guard lock(mu_);
  auto host = netsetup::parse_resolv_conf(host_resolv_);
  auto it = manager_->networks().find(network);
  if (network != kDefault && it != manager_->networks().end()) {
    return netsetup::container_resolv_conf(host, it->second.gateway.to_string());
  }
  // The default bridge: the host's servers, except loopback ones that a
  // container cannot reach.
  std::string out;
  for (const auto& s : host.nameservers) {
    if (s.rfind("127.", 0) != 0) {
      out += "nameserver " + s + "\n";
    }
  }
  if (out.empty()) {
    out = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";  // dockerd's fallback
  }
  if (!host.search.empty()) {
    out += "search";
    for (const auto& s : host.search) {
      out += " " + s;
    }
    out += "\n";
  }
  if (!host.options.empty()) {
    out += "options";
    for (const auto& o : host.options) {
      out += " " + o;
    }
    out += "\n";
  }
  return out;
}

}  // namespace dind::engine
