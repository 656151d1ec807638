#pragma once
// Subnet choice for new networks: Docker's default address pools, skipping
// any subnet that overlaps one of our networks or a route already on the host
// (the classic "172.17.0.0/16 collides with the VPC" problem). Pure.

#include <optional>
#include <string_view>
#include <vector>

#include "netsetup/addr.hpp"

namespace netsetup {

struct PoolSpec {
  Ipv4Prefix base;
  int size = 16;  // prefix length of the subnets carved from base
};

// 172.17.0.0/16, 172.18.0.0/16, 172.19.0.0/16, 172.20.0.0/14, 172.24.0.0/14,
// 172.28.0.0/14 (all /16 subnets), 192.168.0.0/16 (/20 subnets).
std::vector<PoolSpec> default_pools();

// dockerd's --default-address-pool syntax: "base=10.10.0.0/16,size=24".
dind::base::Result<PoolSpec> parse_pool(std::string_view text);

// The first subnet carved from pools that overlaps nothing in `taken` and
// `host_routes`; kFailedPrecondition when every candidate is taken.
dind::base::Result<Ipv4Prefix> choose_subnet(const std::vector<PoolSpec>& pools,
                                             const std::vector<Ipv4Prefix>& taken,
                                             const std::vector<Ipv4Prefix>& host_routes);

// Destinations of the non-default routes in /proc/net/route text.
std::vector<Ipv4Prefix> parse_route_prefixes(std::string_view proc_net_route);

struct BridgeAddress {
  Ipv4Prefix subnet;  // canonical
  Ipv4 gateway;
};

// --bip style "172.17.0.1/16": the gateway with its subnet.
dind::base::Result<BridgeAddress> parse_bip(std::string_view text);
// Validates a user-supplied subnet and optional gateway (default: the first
// host address): the gateway lies inside, is neither the network nor the
// broadcast address, and the subnet has room for at least two hosts.
dind::base::Result<BridgeAddress> plan_bridge_address(const Ipv4Prefix& subnet,
                                                      std::optional<Ipv4> gateway);

}  // namespace netsetup
