#pragma once
// Docker's network create request as typed values (`POST /networks/create`);
// the codec (network_json.hpp) turns the JSON body into it.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::model {

struct IpamPool {
  std::string subnet, ip_range, gateway;
  std::map<std::string, std::string> aux_addresses;
  bool operator==(const IpamPool&) const = default;
};

struct NetworkCreate {
  std::string name;
  std::string driver;  // "": bridge
  bool internal = false, attachable = false, enable_ipv6 = false, check_duplicate = false;
  std::string ipam_driver;
  std::vector<IpamPool> ipam;  // IPAM.Config
  // IPAM.Options; nullopt when not sent (inspect echoes null).
  std::optional<std::map<std::string, std::string>> ipam_options;
  std::map<std::string, std::string> options, labels;
  bool operator==(const NetworkCreate&) const = default;
};

}  // namespace dind::model
