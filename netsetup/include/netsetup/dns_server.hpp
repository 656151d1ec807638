#pragma once
// The embedded DNS server: UDP and TCP listeners on each network's gateway
// address, port 53 (containers get `nameserver <gateway>`), answering
// container names and aliases from Records and forwarding everything else to
// the upstream resolvers. Which networks a query may see is decided by its
// source address (the querying endpoint's networks).
//
// Threading: everything runs on the io_context passed in; update_* calls must
// be posted to it (or made before run()).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netsetup/addr.hpp"
#include "netsetup/dns_records.hpp"

namespace boost::asio {
class io_context;
}

namespace netsetup {

struct DnsServerOptions {
  std::vector<std::string> upstreams;  // IPv4 literals, port 53
  std::chrono::milliseconds upstream_timeout{4000};
  uint16_t port = 53;
};

class DnsServer {
 public:
  DnsServer(boost::asio::io_context& ioc, DnsServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Starts answering on address:port (UDP and TCP).
  dind::base::Status listen(Ipv4 address);
  // Stops answering on address (its network went away); nothing when not listening.
  void unlisten(Ipv4 address);
  // Replaces the records and the map from endpoint address to its networks.
  void update(dns::Records records, std::map<uint32_t, std::vector<std::string>> endpoint_networks);
  void stop();

  uint64_t answered() const;
  uint64_t forwarded() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace netsetup
