#pragma once
// Links, addresses and routes over rtnetlink (libnl-route-3): bridges and the
// veth pairs that attach a network namespace to one. Each operation works in
// the calling thread's netns unless it takes a Netns. Thin executors: the
// decisions (names, addresses, MTU) are made by the caller.

#include <optional>
#include <string>

#include "netsetup/addr.hpp"
#include "netsetup/netns.hpp"

namespace netsetup {

struct BridgeSpec {
  std::string name;
  Mac mac;  // explicit: a bridge without one takes a port's MAC and changes it
  int mtu = 1500;
  Ipv4Prefix gateway;  // the gateway address with the subnet's prefix length
  std::optional<Ipv6Prefix> gateway6;  // likewise for IPv6 (no duplicate address detection)
};

// Creates the bridge (down → address → up). On failure nothing is left.
dind::base::Status create_bridge(const BridgeSpec& spec);
// Deletes a link by name; kNotFound if absent.
dind::base::Status delete_link(const std::string& name);
bool link_exists(const std::string& name);

struct AttachSpec {
  std::string bridge;
  std::string host_ifname;  // "vethXXXXXXX" in our netns
  std::string ifname = "eth0";
  Ipv4Prefix address;           // container address with the network's prefix length
  std::optional<Ipv4> gateway;  // set: add the default route via it
  Mac mac;
  int mtu = 1500;
  std::optional<Ipv6Prefix> address6;  // an IPv6 address too (no duplicate address detection)
  std::optional<Ipv6> gateway6;        // set: the IPv6 default route via it
};

// Creates a veth pair with the peer directly in `target`, names it ifname,
// sets MAC, MTU, address, brings it and lo up, adds the default route, then
// enslaves the host end to the bridge with hairpin on and brings it up. A
// failure midway deletes the pair (which removes both ends).
dind::base::Status attach(const Netns& target, const AttachSpec& spec);
// The first "ethN" not present in `target`.
dind::base::Result<std::string> first_free_ifname(const Netns& target);

// Removes the pair by its host end.
dind::base::Status detach(const std::string& host_ifname);

}  // namespace netsetup
