#pragma once
// The embedded DNS's knowledge: per network, which names (container name,
// aliases, short ID, hostname) map to which addresses, and the decision for a
// query: answer from our records, or forward upstream. Pure; the server owns
// one instance on its strand.

#include <array>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "netsetup/dns_message.hpp"

namespace netsetup::dns {

// A DNS label for names and aliases: 1-63 of [a-z0-9_-], not starting or
// ending with '-' (dots allowed between labels). Case-insensitive.
bool valid_dns_name(std::string_view name);

class Records {
 public:
  // Adds an endpoint on `network` with its names; kInvalidArgument on a name
  // that is not a valid DNS name.
  dind::base::Status add(const std::string& network, Ipv4 ip,
                         const std::vector<std::string>& names,
                         std::optional<Ipv6> ip6 = std::nullopt);
  void remove(const std::string& network, Ipv4 ip);
  // Addresses for name as seen from a querier attached to `networks`
  // (also "name.network"); empty when unknown.
  std::vector<Ipv4> lookup(const std::vector<std::string>& networks, std::string_view name) const;
  // Its IPv6 addresses (AAAA), likewise.
  std::vector<std::array<uint8_t, 16>> lookup6(const std::vector<std::string>& networks,
                                               std::string_view name) const;

 private:
  // network -> name -> addresses
  std::map<std::string, std::map<std::string, std::set<uint32_t>>> names_;
  std::map<std::string, std::map<std::string, std::set<std::array<uint8_t, 16>>>> names6_;
};

struct Decision {
  enum class Kind { kAnswer, kForward, kDrop } kind = Kind::kDrop;
  std::string response;  // kAnswer
};

// What to do with a query packet from a container on `networks`. Known names
// get A answers (shuffled, TTL 600) or an empty NOERROR for other types; PTR
// and unknown names are forwarded; malformed packets get FORMERR (or are
// dropped when not even the header is readable).
Decision decide(const Records& records, const std::vector<std::string>& networks,
                std::string_view packet, std::mt19937& rng);

}  // namespace netsetup::dns
