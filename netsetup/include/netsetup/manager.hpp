#pragma once
// The network manager: the orchestration of the planners and executors into
// networks and endpoints, with its state in one directory (networks, IPAM,
// endpoints; each file written atomically). Every operation is a transaction:
// a failure midway undoes the finished steps. Not thread-safe: one owner (the
// daemon's network strand, or one dind-netsetup invocation).

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/fs.hpp"
#include "netsetup/addr.hpp"
#include "netsetup/dns_records.hpp"
#include "netsetup/ipam.hpp"
#include "netsetup/nat.hpp"
#include "netsetup/pools.hpp"

namespace netsetup {

struct NetworkSpec {
  std::string name;
  std::optional<Ipv4Prefix> subnet;  // default: from the pools
  std::optional<Ipv4> gateway;       // default: the first host address
  std::optional<int> mtu;            // default: the uplink's
  std::string bridge;                // default: "br-<name>" (at most 15 chars)
  bool internal = false;
  std::optional<Ipv6Prefix> subnet6;  // IPv6 too (no default pools)
  std::optional<Ipv6> gateway6;       // default: the subnet's first address
  std::vector<Ipv4> reserved;         // never handed out (Docker's AuxiliaryAddresses)
};

struct NetworkState {
  std::string name;
  std::string bridge;
  Ipv4Prefix subnet;
  Ipv4 gateway;
  int mtu = 1500;
  bool internal = false;
  std::optional<Ipv6Prefix> subnet6;  // canonical
  std::optional<Ipv6> gateway6;
  Mac mac;
};

struct PortRequest {
  Proto proto = Proto::kTcp;
  std::optional<Ipv4> host_ip;
  uint16_t host_port = 0;
  uint16_t container_port = 0;
};

// "[HOSTIP:]HOSTPORT:CPORT[/tcp|udp]" (docker run -p, without ranges).
dind::base::Result<PortRequest> parse_port(std::string_view text);

struct AttachRequest {
  std::string network;
  std::filesystem::path netns;
  std::optional<Ipv4> ip;
  std::optional<Mac> mac;  // else Docker's 02:42 + the address
  std::optional<Ipv6> ip6;  // a fixed IPv6 address (the network must have IPv6)
  std::vector<std::string> names;  // DNS names and aliases on this network
  std::vector<PortRequest> ports;
  bool default_route = true;
};

struct EndpointState {
  std::string network;
  std::string netns;
  std::string host_ifname;
  std::string ifname;
  Ipv4 ip;
  std::optional<Ipv6> ip6;  // on a network with IPv6
  Mac mac;  // the container side's
  std::vector<std::string> names;
  std::vector<PortRequest> ports;
};

struct ManagerOptions {
  std::filesystem::path state_dir;
  std::string table = "dind";  // our nft table
  std::vector<PoolSpec> pools = default_pools();
  int default_mtu = 0;  // 0: the uplink's, else 1500
};

class NetworkManager {
 public:
  // Loads the state directory (created if missing) and enables ip_forward.
  static dind::base::Result<NetworkManager> open(ManagerOptions options);

  dind::base::Result<NetworkState> create_network(const NetworkSpec& spec);
  dind::base::Status delete_network(const std::string& name);
  dind::base::Result<EndpointState> attach(const AttachRequest& request);
  dind::base::Status detach(const std::string& network, const std::filesystem::path& netns);

  const std::map<std::string, NetworkState>& networks() const { return networks_; }
  const std::vector<EndpointState>& endpoints() const { return endpoints_; }
  std::string describe() const;  // for `dind-netsetup show`

  // DNS view of the endpoints: names per network, and each endpoint
  // address's networks (what a query from that address may resolve).
  dns::Records dns_records() const;
  std::map<uint32_t, std::vector<std::string>> endpoint_networks() const;
  // Puts the NAT table back when the kernel's copy no longer matches what
  // was applied (flushed or edited behind our back). True when it did.
  dind::base::Result<bool> repair_nat() const;

 private:
  dind::base::Result<Ipv6> allocate6(const NetworkState& n, std::optional<Ipv6> wanted) const;
  dind::base::Status save() const;
  // The last steps of a change: the ruleset, then the state files; on a
  // failure `undo` reverts the in-memory and kernel steps.
  dind::base::Status publish_or_undo(const std::function<void()>& undo);
  dind::base::Status apply_nat() const;
  NatPlan nat_plan() const;

  // Host ports stay reserved by a bound socket for as long as this manager
  // lives (the daemon: its lifetime; one dind-netsetup call: that call).
  // A host port 0 becomes the port the kernel picked (written into e).
  dind::base::Status reserve(EndpointState& e);

  ManagerOptions options_;
  std::map<std::string, std::shared_ptr<dind::base::UniqueFd>> reservations_;
  std::map<std::string, NetworkState> networks_;
  std::vector<EndpointState> endpoints_;
  Ipam ipam_;
  mutable std::string applied_;  // the ruleset text last applied
  mutable std::string listed_;   // the kernel's listing of the table right after
};

}  // namespace netsetup
