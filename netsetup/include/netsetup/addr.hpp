#pragma once
// IPv4 addresses, prefixes and MACs as values: parsing, containment, overlap.
// Pure; every parser refuses what it does not fully understand.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace netsetup {

struct Ipv4 {
  uint32_t value = 0;  // host byte order
  auto operator<=>(const Ipv4&) const = default;
  std::string to_string() const;
  static std::optional<Ipv4> parse(std::string_view text);  // dotted quad only
};

struct Ipv4Prefix {
  Ipv4 addr;  // may have host bits set (an interface address "10.0.0.1/24")
  int len = 0;
  auto operator<=>(const Ipv4Prefix&) const = default;

  uint32_t mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  Ipv4 network() const { return Ipv4{addr.value & mask()}; }
  Ipv4 broadcast() const { return Ipv4{network().value | ~mask()}; }
  Ipv4Prefix canonical() const { return Ipv4Prefix{network(), len}; }
  uint64_t size() const { return uint64_t{1} << (32 - len); }
  bool contains(Ipv4 ip) const { return (ip.value & mask()) == network().value; }
  bool overlaps(const Ipv4Prefix& other) const;
  std::string to_string() const;  // "10.0.0.1/24" (host bits kept)
  // "a.b.c.d/n" with 0 <= n <= 32.
  static dind::base::Result<Ipv4Prefix> parse(std::string_view text);
};

struct Ipv6 {
  std::array<uint8_t, 16> bytes{};  // network byte order
  auto operator<=>(const Ipv6&) const = default;
  std::string to_string() const;  // RFC 5952 ("fd00:1::2")
  static std::optional<Ipv6> parse(std::string_view text);  // no zone, no IPv4 dotted tail
};

struct Ipv6Prefix {
  Ipv6 addr;  // may have host bits set
  int len = 0;
  auto operator<=>(const Ipv6Prefix&) const = default;

  Ipv6 network() const;
  Ipv6Prefix canonical() const { return Ipv6Prefix{network(), len}; }
  bool contains(const Ipv6& ip) const;
  bool overlaps(const Ipv6Prefix& other) const;
  // The network's address plus n (n < 2^64; host bits beyond the prefix are
  // the caller's concern).
  Ipv6 host(uint64_t n) const;
  std::string to_string() const;  // "fd00:1::1/64" (host bits kept)
  static dind::base::Result<Ipv6Prefix> parse(std::string_view text);
};

struct Mac {
  std::array<uint8_t, 6> bytes{};
  auto operator<=>(const Mac&) const = default;
  std::string to_string() const;  // "02:42:ac:11:00:02"
  static std::optional<Mac> parse(std::string_view text);
};

// Docker's classic container MAC: 02:42 followed by the IPv4 address.
Mac mac_from_ip(Ipv4 ip);
// A random locally administered unicast MAC (for bridges).
Mac random_mac();

}  // namespace netsetup
