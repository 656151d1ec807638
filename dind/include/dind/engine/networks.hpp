#pragma once
// The engine's networks: netsetup's NetworkManager behind a mutex, Docker's
// network IDs and options around it, the default `bridge` network, and the
// embedded DNS server (its own thread) for user-defined networks.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dind/base/result.hpp"
#include "netsetup/manager.hpp"

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
  nlohmann::json labels = nlohmann::json::object();
  netsetup::NetworkState state;
};

struct NetworkOptions {
  std::filesystem::path state_dir;  // <data-root>/network
  std::string table = "dind";
  std::string bridge = "dind0";
  std::string bip;  // "172.17.0.1/16" style, or "" for the pools
  int mtu = 0;
  std::vector<netsetup::PoolSpec> pools;  // empty: Docker's defaults
};

class Networks {
 public:
  static base::Result<std::unique_ptr<Networks>> open(NetworkOptions options);
  ~Networks();

  // User-defined networks (name clash: 409 "network with name X already exists").
  base::Result<NetworkInfo> create(const std::string& name, const nlohmann::json& request);
  base::Status remove(const std::string& name_or_id);
  base::Result<NetworkInfo> find(const std::string& name_or_id) const;
  std::vector<NetworkInfo> list() const;

  base::Result<netsetup::EndpointState> attach(const netsetup::AttachRequest& request);
  base::Status detach(const std::string& network, const std::filesystem::path& netns);
  // Every endpoint as (network, netns path): for the reconciliation at start.
  std::vector<std::pair<std::string, std::string>> endpoints() const;

  // The resolv.conf a container on `network` gets: our resolver for user
  // networks, the host's servers for the default bridge.
  std::string resolv_conf_for(const std::string& network) const;

 private:
  Networks() = default;
  base::Status save_ids() const;
  void refresh_dns();

  NetworkOptions options_;
  mutable std::mutex mu_;
  std::optional<netsetup::NetworkManager> manager_;
  std::map<std::string, NetworkInfo> infos_;  // name -> info (ids, labels)
  std::unique_ptr<boost::asio::io_context> dns_ioc_;
  std::unique_ptr<netsetup::DnsServer> dns_;
  std::thread dns_thread_;
  std::string host_resolv_;
};

}  // namespace dind::engine
