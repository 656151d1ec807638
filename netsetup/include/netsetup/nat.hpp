#pragma once
// The NAT/filter ruleset planner: from our networks and port mappings to the
// nftables text of our one table (`table ip <name>`), written so that applying
// it replaces the table atomically and touches no other table. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netsetup/addr.hpp"

namespace netsetup {

struct NatNetwork {
  std::string bridge;  // interface name
  Ipv4Prefix subnet;
  bool internal = false;  // no outbound traffic (docker network create --internal)
};

enum class Proto { kTcp, kUdp };
std::string_view proto_name(Proto p);

struct PortMapping {
  Proto proto = Proto::kTcp;
  std::optional<Ipv4> host_ip;  // nullopt: every local address
  uint16_t host_port = 0;
  Ipv4 container_ip;
  uint16_t container_port = 0;
};

// "8080-8082:80-82" style ranges expand to one mapping per port (as Docker
// does); the two ranges must have the same length.
dind::base::Result<std::vector<PortMapping>> expand_port_range(
    Proto proto, std::optional<Ipv4> host_ip, uint16_t host_first, uint16_t host_last,
    Ipv4 container_ip, uint16_t container_first, uint16_t container_last);

struct NatPlan {
  std::string table = "dind";
  std::vector<NatNetwork> networks;
  std::vector<PortMapping> ports;
};

// Validates names (interface names: 1-15 chars of [A-Za-z0-9_.-]; table
// names: [A-Za-z0-9_-]) so that nothing user-controlled can inject nft syntax.
dind::base::Result<std::string> render_ruleset(const NatPlan& plan);
// Removes our table if present, leaving every other table alone.
std::string render_delete(const std::string& table);

bool valid_ifname(std::string_view name);

}  // namespace netsetup
