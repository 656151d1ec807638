#include "netsetup/manager.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "netsetup/conntrack.hpp"
#include "netsetup/dns_records.hpp"
#include "netsetup/link.hpp"
#include "netsetup/nft.hpp"
#include "netsetup/uplink.hpp"

namespace netsetup {
namespace fs = std::filesystem;
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;
using dind::base::Status;
using nlohmann::json;

namespace {

constexpr int kSchemaVersion = 1;

// Docker takes any name (spaces, slashes, any script); we refuse only what
// would garble logs and state: control characters, and absurd lengths.
bool valid_network_name(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

BridgeSpec bridge_spec(const NetworkState& n) {
  BridgeSpec b{n.bridge, n.mac, n.mtu, Ipv4Prefix{n.gateway, n.subnet.len}, std::nullopt};
  if (n.subnet6 && n.gateway6) {
    b.gateway6 = Ipv6Prefix{*n.gateway6, n.subnet6->len};
  }
  return b;
}

std::string random_veth_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[16];
  std::snprintf(buf, sizeof(buf), "veth%07llx", static_cast<unsigned long long>(rng() & 0xfffffff));
  return buf;
}

std::string port_text(const PortRequest& p) {
  return (p.host_ip ? p.host_ip->to_string() : std::string("0.0.0.0")) + ":" +
         std::to_string(p.host_port) + "/" + std::string(proto_name(p.proto));
}

// Binds the host port: a clash with any other process gives Docker's error.
// The bound (never listening) socket is the reservation; DNAT happens before
// socket lookup, so it does not intercept the mapped traffic.
Result<dind::base::UniqueFd> bind_port(const PortRequest& p) {
  const int type = p.proto == Proto::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  dind::base::UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(p.host_port);
  sa.sin_addr.s_addr = htonl(p.host_ip ? p.host_ip->value : 0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno == EADDRINUSE) {
      return make_error(ErrorKind::kConflict,
                        "Bind for " + port_text(p) + " failed: port is already allocated");
    }
    return dind::base::sys_error(errno, "bind " + port_text(p));
  }
  return fd;
}

json to_json(const PortRequest& p) {
  return {{"proto", proto_name(p.proto)},
          {"host_ip", p.host_ip ? p.host_ip->to_string() : ""},
          {"host_port", p.host_port},
          {"container_port", p.container_port}};
}

}  // namespace

Result<PortRequest> parse_port(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid port mapping \"" + std::string(text) + "\": " + why);
  };
  PortRequest p;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view proto = rest.substr(slash + 1);
    if (proto == "udp") {
      p.proto = Proto::kUdp;
    } else if (proto != "tcp") {
      return bad("protocol must be tcp or udp");
    }
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t colon = rest.find(':', pos);
    parts.push_back(rest.substr(pos, colon == std::string_view::npos ? rest.npos : colon - pos));
    if (colon == std::string_view::npos) {
      break;
    }
    pos = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) {
    return bad("expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO]");
  }
  if (parts.size() == 3) {
    p.host_ip = Ipv4::parse(parts[0]);
    if (!p.host_ip) {
      return bad("bad host IP");
    }
  }
  auto port = [](std::string_view s, uint16_t& out) {
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v == 0 || v > 65535) {
      return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
  };
  if (!port(parts[parts.size() - 2], p.host_port) || !port(parts.back(), p.container_port)) {
    return bad("ports must be 1-65535");
  }
  return p;
}

Result<NetworkManager> NetworkManager::open(ManagerOptions options) {
  NetworkManager m;
  m.options_ = std::move(options);
  {
    dind::base::FileTransaction tx;
    DIND_TRY(tx.ensure_dir(m.options_.state_dir, 0700));
    DIND_TRY(tx.commit());
  }
  auto ipam = Ipam::load(m.options_.state_dir / "ipam.json");
  if (!ipam) {
    return std::move(ipam).error();
  }
  m.ipam_ = std::move(*ipam);
  auto text = dind::base::read_file(m.options_.state_dir / "networks.json", 16u << 20);
  if (text) {
    auto doc = json::parse(*text, nullptr, false);
    auto corrupt = [&] {
      return make_error(ErrorKind::kDataLoss,
                        (m.options_.state_dir / "networks.json").string() + " is corrupt");
    };
    if (doc.is_discarded() || doc.value("version", 0) != kSchemaVersion) {
      return corrupt();
    }
    try {
      for (auto& n : doc.at("networks")) {
        NetworkState s;
        s.name = n.at("name");
        s.bridge = n.at("bridge");
        auto subnet = Ipv4Prefix::parse(n.at("subnet").get<std::string>());
        auto gw = Ipv4::parse(n.at("gateway").get<std::string>());
        auto mac = Mac::parse(n.at("mac").get<std::string>());
        if (!subnet || !gw || !mac) {
          return corrupt();
        }
        s.subnet = *subnet;
        s.gateway = *gw;
        s.mac = *mac;
        s.mtu = n.at("mtu");
        s.internal = n.at("internal");
        if (n.contains("subnet6")) {
          auto subnet6 = Ipv6Prefix::parse(n.at("subnet6").get<std::string>());
          auto gw6 = Ipv6::parse(n.at("gateway6").get<std::string>());
          if (!subnet6 || !gw6) {
            return corrupt();
          }
          s.subnet6 = *subnet6;
          s.gateway6 = *gw6;
        }
        m.networks_[s.name] = s;
      }
      for (auto& e : doc.at("endpoints")) {
        EndpointState s;
        s.network = e.at("network");
        s.netns = e.at("netns");
        s.host_ifname = e.at("host_ifname");
        s.ifname = e.at("ifname");
        auto ip = Ipv4::parse(e.at("ip").get<std::string>());
        if (!ip) {
          return corrupt();
        }
        s.ip = *ip;
        if (auto it = e.find("ip6"); it != e.end() && it->is_string()) {
          s.ip6 = Ipv6::parse(it->get<std::string>());
          if (!s.ip6) {
            return corrupt();
          }
        }
        s.mac = mac_from_ip(s.ip);
        if (auto it = e.find("mac"); it != e.end() && it->is_string()) {
          if (auto mac = Mac::parse(it->get<std::string>())) {
            s.mac = *mac;
          }
        }
        s.names = e.at("names").get<std::vector<std::string>>();
        for (auto& p : e.at("ports")) {
          PortRequest r;
          r.proto = p.at("proto") == "udp" ? Proto::kUdp : Proto::kTcp;
          if (auto hip = p.at("host_ip").get<std::string>(); !hip.empty()) {
            r.host_ip = Ipv4::parse(hip);
          }
          r.host_port = p.at("host_port");
          r.container_port = p.at("container_port");
          s.ports.push_back(r);
        }
        m.endpoints_.push_back(s);
      }
    } catch (const json::exception&) {
      return corrupt();
    }
  } else if (text.error().sys_errno != ENOENT) {
    return std::move(text).error();
  }
  // Forwarding is per netns; without it nothing leaves a bridge.
  DIND_TRY(write_sysctl("net/ipv4/ip_forward", "1"));
  // A start in a namespace the recorded bridges are not in (a host reboot,
  // an appliance container started again on its data volume): they went
  // with the old namespace. Make them again, as recorded (address, MAC,
  // MTU), and the NAT table with them.
  bool recreated = false;
  for (const auto& [name, n] : m.networks_) {
    if (!link_exists(n.bridge)) {
      DIND_LOG(kInfo) << "re-creating the bridge " << n.bridge << " of network " << name;
      DIND_TRY(create_bridge(bridge_spec(n)));
      recreated = true;
    }
  }
  if (recreated) {
    DIND_TRY(m.apply_nat());
  }
  // Reservations do not survive the process: take them again (best effort;
  // a port grabbed meanwhile by someone else is reported, the mapping stays).
  for (auto& e : m.endpoints_) {
    if (auto st = m.reserve(e); !st) {
      DIND_LOG(kWarn) << st.error().message;
    }
  }
  return m;
}

Status NetworkManager::reserve(EndpointState& e) {
  std::vector<std::string> taken;
  for (auto& p : e.ports) {
    // Host port 0: the kernel picks one from its ephemeral range, and the
    // socket that got it holds it (no window for another process).
    auto fd = bind_port(p);
    if (fd && p.host_port == 0) {
      sockaddr_in sa{};
      socklen_t len = sizeof(sa);
      if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0 || ntohs(sa.sin_port) == 0) {
        fd = dind::base::sys_error(errno, "no free host port for " + port_text(p));
      } else {
        p.host_port = ntohs(sa.sin_port);
      }
    }
    if (!fd) {
      for (const auto& k : taken) {
        reservations_.erase(k);
      }
      return std::move(fd).error();
    }
    reservations_[port_text(p)] = std::make_shared<dind::base::UniqueFd>(std::move(*fd));
    taken.push_back(port_text(p));
  }
  return {};
}

Status NetworkManager::save() const {
  json nets = json::array();
  for (const auto& [name, n] : networks_) {
    nets.push_back({{"name", n.name},
                    {"bridge", n.bridge},
                    {"subnet", n.subnet.to_string()},
                    {"gateway", n.gateway.to_string()},
                    {"mac", n.mac.to_string()},
                    {"mtu", n.mtu},
                    {"internal", n.internal}});
    if (n.subnet6 && n.gateway6) {
      nets.back()["subnet6"] = n.subnet6->to_string();
      nets.back()["gateway6"] = n.gateway6->to_string();
    }
  }
  json eps = json::array();
  for (const auto& e : endpoints_) {
    json ports = json::array();
    for (const auto& p : e.ports) {
      ports.push_back(to_json(p));
    }
    eps.push_back({{"network", e.network},
                   {"netns", e.netns},
                   {"host_ifname", e.host_ifname},
                   {"ifname", e.ifname},
                   {"ip", e.ip.to_string()},
                   {"mac", e.mac.to_string()},
                   {"names", e.names},
                   {"ports", ports}});
    if (e.ip6) {
      eps.back()["ip6"] = e.ip6->to_string();
    }
  }
  json doc = {{"version", kSchemaVersion}, {"networks", nets}, {"endpoints", eps}};
  DIND_TRY(ipam_.save(options_.state_dir / "ipam.json"));
  return dind::base::write_file_atomic(options_.state_dir / "networks.json", doc.dump(2) + "\n",
                                       0600);
}

NatPlan NetworkManager::nat_plan() const {
  NatPlan plan;
  plan.table = options_.table;
  for (const auto& [name, n] : networks_) {
    plan.networks.push_back(NatNetwork{n.bridge, n.subnet, n.internal});
  }
  for (const auto& e : endpoints_) {
    for (const auto& p : e.ports) {
      plan.ports.push_back(PortMapping{p.proto, p.host_ip, p.host_port, e.ip, p.container_port});
    }
  }
  return plan;
}

Status NetworkManager::publish_or_undo(const std::function<void()>& undo) {
  if (auto st = apply_nat(); !st) {
    undo();
    return st;
  }
  if (auto st = save(); !st) {
    undo();
    (void)apply_nat();  // back to the ruleset of the undone state
    return st;
  }
  return {};
}

Status NetworkManager::apply_nat() const {
  std::string text;
  if (networks_.empty()) {  // nothing of ours left: leave no trace either
    text = render_delete(options_.table);
  } else {
    auto rendered = render_ruleset(nat_plan());
    if (!rendered) {
      return std::move(rendered).error();
    }
    text = std::move(*rendered);
  }
  // Endpoints without published ports leave the ruleset as it was: skip the
  // kernel round trip (a few milliseconds of every container start).
  if (text == applied_) {
    return {};
  }
  auto st = nft_apply(text);
  applied_ = st ? text : std::string();
  listed_ = st && !networks_.empty() ? nft_list_table(options_.table).value_or("") : std::string();
  return st;
}

Result<bool> NetworkManager::repair_nat() const {
  if (applied_.empty() || networks_.empty() || listed_.empty()) {
    return false;
  }
  if (nft_list_table(options_.table).value_or("") == listed_) {
    return false;
  }
  DIND_TRY(nft_apply(applied_));
  listed_ = nft_list_table(options_.table).value_or("");
  return true;
}

Result<NetworkState> NetworkManager::create_network(const NetworkSpec& spec) {
  if (!valid_network_name(spec.name)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid network name \"" + spec.name +
                                                       "\": no control characters, at most 255 bytes");
  }
  if (networks_.count(spec.name)) {
    return make_error(ErrorKind::kConflict, "network with name " + spec.name + " already exists");
  }
  NetworkState n;
  n.name = spec.name;
  n.bridge = spec.bridge.empty() ? ("br-" + spec.name).substr(0, 15) : spec.bridge;
  if (!valid_ifname(n.bridge)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid bridge name \"" + n.bridge + "\"");
  }
  for (const auto& [other, s] : networks_) {
    if (s.bridge == n.bridge) {
      return make_error(ErrorKind::kConflict,
                        "bridge " + n.bridge + " is already used by network " + other);
    }
  }
  if (link_exists(n.bridge)) {
    return make_error(ErrorKind::kConflict, "an interface named " + n.bridge + " already exists");
  }
  std::vector<Ipv4Prefix> taken;
  for (const auto& [other, s] : networks_) {
    taken.push_back(s.subnet);
  }
  if (spec.subnet) {
    for (const auto& [other, s] : networks_) {
      if (s.subnet.overlaps(*spec.subnet)) {
        return make_error(ErrorKind::kConflict, "subnet " + spec.subnet->canonical().to_string() +
                                                    " overlaps with network " + other + " (" +
                                                    s.subnet.to_string() + ")");
      }
    }
  }
  Ipv4Prefix subnet;
  if (spec.subnet) {
    subnet = *spec.subnet;
  } else {
    auto routes = dind::base::read_file("/proc/net/route", 1u << 20);
    auto chosen = choose_subnet(options_.pools, taken,
                                routes ? parse_route_prefixes(*routes) : std::vector<Ipv4Prefix>{});
    if (!chosen) {
      return std::move(chosen).error();
    }
    subnet = *chosen;
  }
  auto addr = plan_bridge_address(subnet, spec.gateway);
  if (!addr) {
    return std::move(addr).error();
  }
  n.subnet = addr->subnet;
  n.gateway = addr->gateway;
  n.internal = spec.internal;
  if (spec.subnet6) {
    const Ipv6Prefix sub6 = spec.subnet6->canonical();
    if (sub6.len > 126) {
      return make_error(ErrorKind::kInvalidArgument, "IPv6 subnet " + sub6.to_string() + " is too small");
    }
    for (const auto& [other, s6] : networks_) {
      if (s6.subnet6 && s6.subnet6->overlaps(sub6)) {
        return make_error(ErrorKind::kConflict, "subnet " + sub6.to_string() + " overlaps with network " +
                                                    other + " (" + s6.subnet6->to_string() + ")");
      }
    }
    const Ipv6 gw6 = spec.gateway6.value_or(sub6.host(1));
    if (!sub6.contains(gw6) || gw6 == sub6.network()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "IPv6 gateway " + gw6.to_string() + " is not a host address of " + sub6.to_string());
    }
    n.subnet6 = sub6;
    n.gateway6 = gw6;
  }
  n.mac = random_mac();
  if (spec.mtu) {
    n.mtu = *spec.mtu;
  } else if (options_.default_mtu > 0) {
    n.mtu = options_.default_mtu;
  } else {
    auto up = detect_uplink();
    n.mtu = up ? up->mtu : 1500;
  }
  if (n.mtu < 68 || n.mtu > 65535) {
    return make_error(ErrorKind::kInvalidArgument, "invalid MTU " + std::to_string(n.mtu));
  }

  DIND_TRY(create_bridge(bridge_spec(n)));
  auto undo = [&] {
    networks_.erase(n.name);
    (void)ipam_.remove_network(n.name);
    (void)delete_link(n.bridge);
  };
  if (auto st = ipam_.add_network(n.name, n.subnet, n.gateway); !st) {
    (void)delete_link(n.bridge);
    return std::move(st).error();
  }
  for (const Ipv4& r : spec.reserved) {
    if (!n.subnet.contains(r) || r == n.gateway) {
      continue;  // outside the subnet (or the gateway): nothing to hold
    }
    if (auto held = ipam_.allocate(n.name, r); !held) {
      (void)ipam_.remove_network(n.name);
      (void)delete_link(n.bridge);
      return make_error(ErrorKind::kInvalidArgument,
                        "auxiliary address " + r.to_string() + ": " + held.error().message);
    }
  }
  networks_[n.name] = n;
  DIND_TRY(publish_or_undo(undo));
  return n;
}

Result<Ipv6> NetworkManager::allocate6(const NetworkState& n, std::optional<Ipv6> wanted) const {
  auto used = [&](const Ipv6& ip) {
    if (n.gateway6 && ip == *n.gateway6) {
      return true;
    }
    for (const auto& e : endpoints_) {
      if (e.network == n.name && e.ip6 && *e.ip6 == ip) {
        return true;
      }
    }
    return false;
  };
  if (wanted) {
    if (!n.subnet6->contains(*wanted) || *wanted == n.subnet6->network()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "IPv6 address " + wanted->to_string() + " is not in subnet " + n.subnet6->to_string());
    }
    if (used(*wanted)) {
      return make_error(ErrorKind::kConflict, "Address already in use: " + wanted->to_string());
    }
    return *wanted;
  }
  // Sequential from ::2 (dockerd's order); endpoints are few, so a scan will do.
  const uint64_t limit = n.subnet6->len >= 64 + 1 ? (uint64_t{1} << (128 - n.subnet6->len)) : ~uint64_t{0};
  for (uint64_t i = 1; i < limit && i < 1000000; ++i) {
    const Ipv6 ip = n.subnet6->host(i);
    if (!used(ip)) {
      return ip;
    }
  }
  return make_error(ErrorKind::kUnavailable, "no free IPv6 address in " + n.subnet6->to_string());
}

Status NetworkManager::delete_network(const std::string& name) {
  auto it = networks_.find(name);
  if (it == networks_.end()) {
    return make_error(ErrorKind::kNotFound, "network " + name + " not found");
  }
  for (const auto& e : endpoints_) {
    if (e.network == name) {
      return make_error(ErrorKind::kConflict,
                        "error while removing network: network " + name + " has active endpoints");
    }
  }
  const NetworkState n = it->second;
  networks_.erase(it);
  (void)ipam_.remove_network(name);
  DIND_TRY(apply_nat());
  if (auto st = delete_link(n.bridge); !st && st.error().kind != ErrorKind::kNotFound) {
    return st;
  }
  return save();
}

Result<EndpointState> NetworkManager::attach(const AttachRequest& req) {
  auto net = networks_.find(req.network);
  if (net == networks_.end()) {
    return make_error(ErrorKind::kNotFound, "network " + req.network + " not found");
  }
  const std::string netns = fs::absolute(req.netns).string();
  for (const auto& e : endpoints_) {
    if (e.netns == netns && e.network == req.network) {
      return make_error(ErrorKind::kConflict,
                        netns + " is already attached to network " + req.network);
    }
  }
  for (const auto& name : req.names) {
    if (!dns::valid_dns_name(name)) {
      return make_error(ErrorKind::kInvalidArgument, "\"" + name + "\" is not a valid DNS name");
    }
  }
  for (const auto& p : req.ports) {
    for (const auto& e : endpoints_) {
      for (const auto& q : e.ports) {
        const bool same_ip = !p.host_ip || !q.host_ip || *p.host_ip == *q.host_ip;
        if (p.host_port != 0 && q.proto == p.proto && q.host_port == p.host_port && same_ip) {
          return make_error(ErrorKind::kConflict,
                            "Bind for " + port_text(p) + " failed: port is already allocated");
        }
      }
    }
  }
  auto ns = Netns::open(req.netns);
  if (!ns) {
    return std::move(ns).error();
  }
  auto ifname = first_free_ifname(*ns);
  if (!ifname) {
    return std::move(ifname).error();
  }
  EndpointState e;
  e.network = req.network;
  e.netns = netns;
  e.host_ifname = random_veth_name();
  e.ifname = *ifname;
  e.names = req.names;
  e.ports = req.ports;
  DIND_TRY(reserve(e));
  auto release_ports = [&] {
    for (const auto& p : e.ports) {
      reservations_.erase(port_text(p));
    }
  };
  auto ip = ipam_.allocate(req.network, req.ip);
  if (!ip) {
    release_ports();
    return std::move(ip).error();
  }
  e.ip = *ip;
  e.mac = req.mac.value_or(mac_from_ip(e.ip));
  const NetworkState& n = net->second;
  if (req.ip6 && !n.subnet6) {
    (void)ipam_.release(req.network, e.ip);
    release_ports();
    return make_error(ErrorKind::kInvalidArgument,
                      "network " + req.network + " has no IPv6 subnet for " + req.ip6->to_string());
  }
  if (n.subnet6) {
    auto ip6 = allocate6(n, req.ip6);
    if (!ip6) {
      (void)ipam_.release(req.network, e.ip);
      release_ports();
      return std::move(ip6).error();
    }
    e.ip6 = *ip6;
  }
  bool first_network = true;
  for (const auto& other : endpoints_) {
    first_network = first_network && other.netns != netns;
  }
  AttachSpec spec{n.bridge,
                  e.host_ifname,
                  e.ifname,
                  Ipv4Prefix{e.ip, n.subnet.len},
                  (req.default_route && first_network && !n.internal)
                      ? std::optional<Ipv4>(n.gateway)
                      : std::nullopt,
                  e.mac,
                  n.mtu,
                  e.ip6 ? std::optional<Ipv6Prefix>(Ipv6Prefix{*e.ip6, n.subnet6->len}) : std::nullopt,
                  (e.ip6 && req.default_route && first_network && !n.internal) ? n.gateway6 : std::nullopt};
  if (auto st = netsetup::attach(*ns, spec); !st) {
    (void)ipam_.release(req.network, e.ip);
    release_ports();
    return std::move(st).error();
  }
  endpoints_.push_back(e);
  auto undo = [&] {
    endpoints_.pop_back();
    release_ports();
    (void)netsetup::detach(e.host_ifname);
    (void)ipam_.release(req.network, e.ip);
  };
  DIND_TRY(publish_or_undo(undo));
  return e;
}

Status NetworkManager::detach(const std::string& network, const fs::path& netns_path) {
  const std::string netns = fs::absolute(netns_path).string();
  for (auto it = endpoints_.begin(); it != endpoints_.end(); ++it) {
    if (it->network != network || it->netns != netns) {
      continue;
    }
    const EndpointState e = *it;
    endpoints_.erase(it);
    for (const auto& p : e.ports) {
      reservations_.erase(port_text(p));
    }
    DIND_TRY(apply_nat());
    // Flows DNAT-ed to this endpoint must not outlive its mappings.
    std::vector<PortMapping> removed;
    for (const auto& p : e.ports) {
      removed.push_back(PortMapping{p.proto, p.host_ip, p.host_port, e.ip, p.container_port});
    }
    if (auto flushed = flush_conntrack(removed); !flushed) {
      DIND_LOG(kWarn) << "conntrack cleanup for " << e.ip.to_string() << ": "
                      << flushed.error().message;
    }
    // The pair may already be gone with its namespace.
    if (auto st = netsetup::detach(e.host_ifname); !st && st.error().kind != ErrorKind::kNotFound) {
      return st;
    }
    (void)ipam_.release(network, e.ip);
    return save();
  }
  return make_error(ErrorKind::kNotFound, netns + " is not attached to network " + network);
}

dns::Records NetworkManager::dns_records() const {
  dns::Records r;
  for (const auto& e : endpoints_) {
    (void)r.add(e.network, e.ip, e.names, e.ip6);  // names were validated at attach
  }
  return r;
}

std::map<uint32_t, std::vector<std::string>> NetworkManager::endpoint_networks() const {
  // An address belongs to one endpoint; the endpoint's netns may be on
  // several networks, and its queries see all of them.
  std::map<uint32_t, std::vector<std::string>> out;
  for (const auto& e : endpoints_) {
    for (const auto& other : endpoints_) {
      if (other.netns == e.netns) {
        out[e.ip.value].push_back(other.network);
      }
    }
  }
  return out;
}

std::string NetworkManager::describe() const {
  std::ostringstream o;
  for (const auto& [name, n] : networks_) {
    o << "network " << name << " bridge " << n.bridge << " subnet " << n.subnet.to_string()
      << " gateway " << n.gateway.to_string() << " mtu " << n.mtu << (n.internal ? " internal" : "")
      << "\n";
    for (const auto& e : endpoints_) {
      if (e.network != name) {
        continue;
      }
      o << "  endpoint " << e.ip.to_string() << " " << e.ifname << " in " << e.netns << " (host "
        << e.host_ifname << ")";
      for (const auto& nm : e.names) {
        o << " " << nm;
      }
      for (const auto& p : e.ports) {
        o << " " << port_text(p) << "->" << p.container_port;
      }
      o << "\n";
    }
  }
  return o.str();
}

}  // namespace netsetup
