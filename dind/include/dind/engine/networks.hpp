#pragma once
// The engine's networks: netsetup's NetworkManager behind a mutex, Docker's
// network IDs and options around it, the default `bridge` network, and the
// embedded DNS server (its own thread) for user-defined networks.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dind/base/result.hpp"
#include "netsetup/claim.hpp"
#include "netsetup/manager.hpp"
#include "dind/model/network.hpp"

namespace netsetup {
class DnsServer;
}
namespace boost::asio {
class io_context;
}

namespace dind::engine {

struct NetworkInfo {
  std::string id;
  std::string name;
  std::string driver = "bridge";
  std::string created;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // the driver options given at create
  bool attachable = false;
  bool enable_ipv6 = false;
  // IPAM.Config as given at create (echoed by inspect); empty: chosen by us.
  std::vector<model::IpamPool> ipam;
  std::optional<std::map<std::string, std::string>> ipam_options;  // nullopt: not given
  netsetup::NetworkState state;
};

struct NetworkOptions {
  std::filesystem::path state_dir;  // <data-root>/network
  std::string table = "dind";   // nat_table_for(bridge, data root)
  std::string bridge = "dind0";
  std::string owner;  // who we are, for another engine's refusal ("pid N, data root D")
  std::string bip;  // "172.17.0.1/16" style, or "" for the pools
  int mtu = 0;
  std::vector<netsetup::PoolSpec> pools;  // empty: Docker's defaults
};

// The NAT table of an engine: "dind" with the default bridge (dind0),
// "dind-<bridge>" with another, "dind-<hash of the data root>" without one:
// two engines in one network namespace never share a table unless they share
// the bridge too, which the claims refuse.
std::string nat_table_for(const std::string& bridge, const std::string& data_root);

class Networks {
 public:
  static base::Result<std::unique_ptr<Networks>> open(NetworkOptions options);
  ~Networks();

  // User-defined networks (name clash: 409 "network with name X already exists").
  base::Result<NetworkInfo> create(const model::NetworkCreate& request);
  base::Status remove(const std::string& name_or_id);
  base::Result<NetworkInfo> find(const std::string& name_or_id) const;
  std::vector<NetworkInfo> list() const;
  // dockerd's pseudo networks `host` and `none` (drivers host and null),
  // for listing and inspecting; IDs stable for this data root.
  std::vector<NetworkInfo> builtins() const;
  // Whether any endpoint is attached to the network (by name).
  bool in_use(const std::string& name) const;

  base::Result<netsetup::EndpointState> attach(const netsetup::AttachRequest& request);
  base::Status detach(const std::string& network, const std::filesystem::path& netns);
  // Every endpoint as (network, netns path): for the reconciliation at start.
  std::vector<std::pair<std::string, std::string>> endpoints() const;
  // The NAT table put back if it was flushed or edited behind our back
  // (the daemon calls it every few seconds).
  void repair_nat() const;

  // The resolv.conf a container on `network` gets: our resolver for user
  // networks, the host's servers for the default bridge.
  std::string resolv_conf_for(const std::string& network) const;

 private:
  Networks() = default;
  base::Status save_ids() const;
  void refresh_dns();
  // Runs f(dns server) on the DNS thread and waits for its result.
  template <typename F>
  auto on_dns_thread(F f);

  NetworkOptions options_;
  mutable std::mutex mu_;
  std::optional<netsetup::NetworkManager> manager_;
  std::map<std::string, NetworkInfo> infos_;  // name -> info (ids, labels)
  std::unique_ptr<boost::asio::io_context> dns_ioc_;
  std::unique_ptr<netsetup::DnsServer> dns_;
  std::thread dns_thread_;
  std::string host_resolv_;
  std::vector<netsetup::Claim> claims_;  // our bridge and table in this namespace
};

}  // namespace dind::engine
