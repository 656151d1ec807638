#include "netsetup/nat.hpp"

#include <sstream>

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;

std::string_view proto_name(Proto p) {
  return p == Proto::kTcp ? "tcp" : "udp";
}

bool valid_ifname(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

namespace {
bool valid_table(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}
}  // namespace

Result<std::vector<PortMapping>> expand_port_range(Proto proto, std::optional<Ipv4> host_ip,
                                                   uint16_t host_first, uint16_t host_last,
                                                   Ipv4 container_ip, uint16_t container_first,
                                                   uint16_t container_last) {
  if (host_first == 0 || container_first == 0 || host_last < host_first ||
      container_last < container_first) {
    return make_error(ErrorKind::kInvalidArgument, "invalid port range");
  }
  if (host_last - host_first != container_last - container_first) {
    return make_error(ErrorKind::kInvalidArgument,
                      "host and container port ranges must have the same length");
  }
  std::vector<PortMapping> out;
  for (uint32_t i = 0; i <= static_cast<uint32_t>(host_last - host_first); ++i) {
    out.push_back(PortMapping{proto, host_ip, static_cast<uint16_t>(host_first + i), container_ip,
                              static_cast<uint16_t>(container_first + i)});
  }
  return out;
}

std::string render_delete(const std::string& table) {
  // Declaring the table first makes the delete succeed when it is absent.
  return "table ip " + table + "\ndelete table ip " + table + "\n";
}

Result<std::string> render_ruleset(const NatPlan& plan) {
  if (!valid_table(plan.table)) {
    return make_error(ErrorKind::kInvalidArgument, "invalid nft table name \"" + plan.table + "\"");
  }
  for (const auto& n : plan.networks) {
    if (!valid_ifname(n.bridge)) {
      return make_error(ErrorKind::kInvalidArgument, "invalid interface name \"" + n.bridge + "\"");
    }
  }
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  std::ostringstream o;
  o << render_delete(plan.table);
  o << "table ip " << plan.table << " {\n";

  // DNAT for published ports, for traffic arriving from outside (prerouting)
  // and for the host's own connections, loopback included (output).
  o << "\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n"
       "\t\tfib daddr type local jump published\n\t}\n";
  // nft 1.0.6 refuses the symbolic "dstnat" priority on the output hook.
  o << "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
       "\t\tfib daddr type local jump published\n\t}\n";
  o << "\tchain published {\n";
  for (const auto& p : plan.ports) {
    o << "\t\t";
    if (p.host_ip) {
      o << "ip daddr " << p.host_ip->to_string() << " ";
    }
    o << proto_name(p.proto) << " dport " << p.host_port << " dnat to "
      << p.container_ip.to_string() << ":" << p.container_port << "\n";
  }
  o << "\t}\n";

  o << "\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy accept;\n";
  for (const auto& n : plan.networks) {
    const std::string subnet = n.subnet.canonical().to_string();
    if (!n.internal) {
      o << "\t\toifname != " << q(n.bridge) << " ip saddr " << subnet << " masquerade\n";
    }
    // The host (loopback included) reaching a container through a published
    // port, and containers reaching published ports on their own network.
    o << "\t\toifname " << q(n.bridge) << " fib saddr type local masquerade\n";
    o << "\t\toifname " << q(n.bridge) << " ip saddr " << subnet << " ct status dnat masquerade\n";
  }
  o << "\t}\n";

  // Forwarding: established flows, traffic within a network, outbound from
  // non-internal networks and DNAT-ed (published) traffic pass; our bridges
  // are isolated from each other and closed to everything else. The policy
  // stays accept so that traffic that is not ours is left to other tables.
  o << "\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n";
  if (!plan.networks.empty()) {
    o << "\t\tct state established,related accept\n";
  }
  for (const auto& n : plan.networks) {
    o << "\t\tiifname " << q(n.bridge) << " oifname " << q(n.bridge) << " accept\n";
  }
  // A published port is reachable from anywhere, other networks included.
  for (const auto& n : plan.networks) {
    o << "\t\toifname " << q(n.bridge) << " ct status dnat accept\n";
  }
  for (const auto& n : plan.networks) {
    std::string others;
    for (const auto& m : plan.networks) {
      if (m.bridge != n.bridge) {
        others += (others.empty() ? "" : ", ") + q(m.bridge);
      }
    }
    if (!others.empty()) {
      o << "\t\tiifname " << q(n.bridge) << " oifname { " << others << " } drop\n";
    }
    o << "\t\tiifname " << q(n.bridge) << (n.internal ? " drop\n" : " accept\n");
  }
  for (const auto& n : plan.networks) {
    o << "\t\toifname " << q(n.bridge) << " drop\n";
  }
  o << "\t}\n}\n";
  return o.str();
}

}  // namespace netsetup
