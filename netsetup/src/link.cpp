#include "netsetup/link.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <memory>

namespace netsetup {
using dind::base::Error;
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;
using dind::base::Status;

namespace {

// libnl's negative NLE_* codes as our error kinds.
Error nl_error(int err, const std::string& what) {
  ErrorKind kind = ErrorKind::kInternal;
  switch (-err) {
    case NLE_EXIST:
      kind = ErrorKind::kAlreadyExists;
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      kind = ErrorKind::kNotFound;
      break;
    case NLE_PERM:
      kind = ErrorKind::kPermissionDenied;
      break;
    case NLE_INVAL:
    case NLE_RANGE:
      kind = ErrorKind::kInvalidArgument;
      break;
    case NLE_BUSY:
      kind = ErrorKind::kConflict;
      break;
    default:
      break;
  }
  return make_error(kind, what + ": " + nl_geterror(err));
}

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using Sock = std::unique_ptr<nl_sock, SockDeleter>;
using Link = std::unique_ptr<rtnl_link, LinkDeleter>;
using Addr = std::unique_ptr<rtnl_addr, AddrDeleter>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrDeleter>;
using Route = std::unique_ptr<rtnl_route, RouteDeleter>;

// An rtnetlink socket in the calling thread's netns.
Result<Sock> open_socket() {
  Sock s(nl_socket_alloc());
  if (!s) {
    return make_error(ErrorKind::kInternal, "netlink: out of memory");
  }
  if (int err = nl_connect(s.get(), NETLINK_ROUTE); err < 0) {
    return nl_error(err, "netlink connect");
  }
  return s;
}

Result<Link> get_link(nl_sock* s, const std::string& name) {
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(s, 0, name.c_str(), &l); err < 0) {
    return nl_error(err, "link " + name);
  }
  return Link(l);
}

NlAddr ipv4_addr(Ipv4 ip, int prefix_len) {
  const uint32_t be = htonl(ip.value);
  NlAddr a(nl_addr_build(AF_INET, &be, sizeof(be)));
  nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

NlAddr ipv6_addr(const Ipv6& ip, int prefix_len) {
  NlAddr a(nl_addr_build(AF_INET6, ip.bytes.data(), 16));
  nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

NlAddr mac_addr(const Mac& mac) {
  return NlAddr(nl_addr_build(AF_LLC, mac.bytes.data(), 6));
}

Status add_address(nl_sock* s, int ifindex, const Ipv4Prefix& p, const std::string& ifname) {
  Addr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  NlAddr local = ipv4_addr(p.addr, p.len);
  NlAddr bcast = ipv4_addr(p.broadcast(), 32);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_broadcast(addr.get(), bcast.get());
  if (int err = rtnl_addr_add(s, addr.get(), 0); err < 0) {
    return nl_error(err, "add address " + p.to_string() + " to " + ifname);
  }
  return {};
}

// An IPv6 address without duplicate address detection (usable at once, as
// Docker's "flags 02").
Status add_address6(nl_sock* s, int ifindex, const Ipv6Prefix& p, const std::string& ifname) {
  Addr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), AF_INET6);
  NlAddr local = ipv6_addr(p.addr, p.len);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  if (int err = rtnl_addr_add(s, addr.get(), 0); err < 0) {
    return nl_error(err, "add address " + p.to_string() + " to " + ifname);
  }
  return {};
}

Status add_default_route6(nl_sock* s, int ifindex, const Ipv6& gateway) {
  Route r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET6);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  NlAddr dst = ipv6_addr(Ipv6{}, 0);
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  NlAddr gw = ipv6_addr(gateway, 128);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(r.get(), nh);
  if (int err = rtnl_route_add(s, r.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return nl_error(err, "add IPv6 default route via " + gateway.to_string());
  }
  return {};
}

// Sets flags (and optionally the master) on a link fetched from the kernel.
Status change_link(nl_sock* s, rtnl_link* orig, unsigned flags, int master,
                   const std::string& what) {
  Link chg(rtnl_link_alloc());
  if (flags) {
    rtnl_link_set_flags(chg.get(), flags);
  }
  if (master > 0) {
    rtnl_link_set_master(chg.get(), master);
  }
  if (int err = rtnl_link_change(s, orig, chg.get(), 0); err < 0) {
    return nl_error(err, what);
  }
  return {};
}

Status set_up(nl_sock* s, const std::string& name) {
  auto l = get_link(s, name);
  if (!l) {
    return std::move(l).error();
  }
  return change_link(s, l->get(), IFF_UP, 0, "set " + name + " up");
}

// Hairpin lets a container reach its own published port through the host.
// Both the original and the change must be AF_BRIDGE objects: libnl aborts
// the process on a family mismatch ("family is immutable").
Status set_hairpin(nl_sock* s, int ifindex, const std::string& name) {
  Link orig(rtnl_link_alloc());
  rtnl_link_set_ifindex(orig.get(), ifindex);
  rtnl_link_set_family(orig.get(), AF_BRIDGE);
  Link chg(rtnl_link_alloc());
  rtnl_link_set_family(chg.get(), AF_BRIDGE);
  rtnl_link_bridge_set_flags(chg.get(), RTNL_BRIDGE_HAIRPIN_MODE);
  if (int err = rtnl_link_change(s, orig.get(), chg.get(), 0); err < 0) {
    return nl_error(err, "hairpin on " + name);
  }
  return {};
}

Status add_default_route(nl_sock* s, int ifindex, Ipv4 gateway) {
  Route r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);  // what `ip route add` records
  NlAddr dst = ipv4_addr(Ipv4{0}, 0);
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  NlAddr gw = ipv4_addr(gateway, 32);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh now
  if (int err = rtnl_route_add(s, r.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return nl_error(err, "add default route via " + gateway.to_string());
  }
  return {};
}

Status check_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ ||
      name.find_first_of("/ \t\n:") != std::string::npos) {
    return make_error(ErrorKind::kInvalidArgument, "invalid interface name \"" + name + "\"");
  }
  return {};
}

}  // namespace

Status create_bridge(const BridgeSpec& spec) {
  DIND_TRY(check_name(spec.name));
  auto s = open_socket();
  if (!s) {
    return std::move(s).error();
  }
  Link br(rtnl_link_bridge_alloc());
  rtnl_link_set_name(br.get(), spec.name.c_str());
  NlAddr mac = mac_addr(spec.mac);
  rtnl_link_set_addr(br.get(), mac.get());
  rtnl_link_set_mtu(br.get(), static_cast<unsigned>(spec.mtu));
  if (int err = rtnl_link_add(s->get(), br.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return nl_error(err, "create bridge " + spec.name);
  }
  auto rest = [&]() -> Status {
    auto k = get_link(s->get(), spec.name);
    if (!k) {
      return std::move(k).error();
    }
    DIND_TRY(add_address(s->get(), rtnl_link_get_ifindex(k->get()), spec.gateway, spec.name));
    if (spec.gateway6) {
      (void)write_sysctl("net/ipv6/conf/" + spec.name + "/disable_ipv6", "0");
      DIND_TRY(add_address6(s->get(), rtnl_link_get_ifindex(k->get()), *spec.gateway6, spec.name));
    }
    // Host loopback → published port: the DNAT-ed packet leaves with a
    // 127.0.0.1 source, which the kernel drops as martian without this.
    DIND_TRY(write_sysctl("net/ipv4/conf/" + spec.name + "/route_localnet", "1"));
    return change_link(s->get(), k->get(), IFF_UP, 0, "set " + spec.name + " up");
  };
  if (auto st = rest(); !st) {
    (void)delete_link(spec.name);
    return st;
  }
  return {};
}

Status delete_link(const std::string& name) {
  auto s = open_socket();
  if (!s) {
    return std::move(s).error();
  }
  auto l = get_link(s->get(), name);
  if (!l) {
    return std::move(l).error();
  }
  if (int err = rtnl_link_delete(s->get(), l->get()); err < 0) {
    return nl_error(err, "delete link " + name);
  }
  return {};
}

bool link_exists(const std::string& name) {
  return if_nametoindex(name.c_str()) != 0;
}

Status attach(const Netns& target, const AttachSpec& spec) {
  DIND_TRY(check_name(spec.host_ifname));
  DIND_TRY(check_name(spec.ifname));
  auto s = open_socket();
  if (!s) {
    return std::move(s).error();
  }
  auto bridge = get_link(s->get(), spec.bridge);
  if (!bridge) {
    return std::move(bridge).error();
  }
  const int bridge_index = rtnl_link_get_ifindex(bridge->get());

  // One RTM_NEWLINK: the peer is born in the target netns with its final
  // name, so nothing ever shows up in ours but the host end.
  {
    rtnl_link* veth = rtnl_link_veth_alloc();
    if (veth == nullptr) {
      return make_error(ErrorKind::kInternal, "netlink: out of memory");
    }
    rtnl_link_set_name(veth, spec.host_ifname.c_str());
    rtnl_link_set_mtu(veth, static_cast<unsigned>(spec.mtu));
    rtnl_link* peer = rtnl_link_veth_get_peer(veth);
    rtnl_link_set_name(peer, spec.ifname.c_str());
    rtnl_link_set_mtu(peer, static_cast<unsigned>(spec.mtu));
    NlAddr mac = mac_addr(spec.mac);
    rtnl_link_set_addr(peer, mac.get());
    rtnl_link_set_ns_fd(peer, target.fd());
    const int err = rtnl_link_add(s->get(), veth, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(peer);
    rtnl_link_veth_release(veth);
    if (err < 0) {
      return nl_error(err, "create veth " + spec.host_ifname + " into " + target.description());
    }
  }
  auto configure = [&]() -> Status {
    DIND_TRY(run_in_netns(target, [&]() -> Status {
      auto cs = open_socket();
      if (!cs) {
        return std::move(cs).error();
      }
      auto l = get_link(cs->get(), spec.ifname);
      if (!l) {
        return std::move(l).error();
      }
      const int idx = rtnl_link_get_ifindex(l->get());
      // IPv4-only network: no IPv6 addresses or router solicitations (best effort).
      (void)write_sysctl("net/ipv6/conf/" + spec.ifname + "/disable_ipv6", spec.address6 ? "0" : "1");
      DIND_TRY(add_address(cs->get(), idx, spec.address, spec.ifname));
      if (spec.address6) {
        DIND_TRY(add_address6(cs->get(), idx, *spec.address6, spec.ifname));
      }
      DIND_TRY(change_link(cs->get(), l->get(), IFF_UP, 0, "set " + spec.ifname + " up"));
      DIND_TRY(set_up(cs->get(), "lo"));
      if (spec.gateway) {
        DIND_TRY(add_default_route(cs->get(), idx, *spec.gateway));
      }
      if (spec.gateway6 && spec.address6) {
        DIND_TRY(add_default_route6(cs->get(), idx, *spec.gateway6));
      }
      return {};
    }));
    auto host = get_link(s->get(), spec.host_ifname);
    if (!host) {
      return std::move(host).error();
    }
    DIND_TRY(change_link(s->get(), host->get(), 0, bridge_index,
                         "enslave " + spec.host_ifname + " to " + spec.bridge));
    DIND_TRY(set_hairpin(s->get(), rtnl_link_get_ifindex(host->get()), spec.host_ifname));
    return change_link(s->get(), host->get(), IFF_UP, 0, "set " + spec.host_ifname + " up");
  };
  if (auto st = configure(); !st) {
    (void)delete_link(spec.host_ifname);  // removes both ends
    return st;
  }
  return {};
}

Status detach(const std::string& host_ifname) {
  return delete_link(host_ifname);
}

Result<std::string> first_free_ifname(const Netns& target) {
  std::string found;
  DIND_TRY(run_in_netns(target, [&]() -> Status {
    for (int i = 0; i < 1000; ++i) {
      std::string name = "eth" + std::to_string(i);
      if (if_nametoindex(name.c_str()) == 0) {
        found = name;
        return {};
      }
    }
    return make_error(ErrorKind::kFailedPrecondition,
                      "no free ethN name in " + target.description());
  }));
  return found;
}

}  // namespace netsetup
