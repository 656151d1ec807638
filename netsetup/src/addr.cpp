#include "netsetup/addr.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <charconv>
#include <cstdio>
#include <random>

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;

std::string Ipv4::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", (value >> 24) & 0xff, (value >> 16) & 0xff,
                (value >> 8) & 0xff, value & 0xff);
  return buf;
}

std::optional<Ipv4> Ipv4::parse(std::string_view text) {
  uint32_t out = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (text.empty() || text[0] != '.') {
        return std::nullopt;
      }
      text.remove_prefix(1);
    }
    size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') {
      ++n;
    }
    if (n == 0 || n > 3 || (n > 1 && text[0] == '0')) {  // no leading zeros (octal ambiguity)
      return std::nullopt;
    }
    unsigned octet = 0;
    std::from_chars(text.data(), text.data() + n, octet);
    if (octet > 255) {
      return std::nullopt;
    }
    out = (out << 8) | octet;
    text.remove_prefix(n);
  }
  if (!text.empty()) {
    return std::nullopt;
  }
  return Ipv4{out};
}

bool Ipv4Prefix::overlaps(const Ipv4Prefix& other) const {
  const int shorter = std::min(len, other.len);
  const uint32_t m = shorter == 0 ? 0 : ~uint32_t{0} << (32 - shorter);
  return (addr.value & m) == (other.addr.value & m);
}

std::string Ipv4Prefix::to_string() const {
  return addr.to_string() + "/" + std::to_string(len);
}

dind::base::Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid IPv4 CIDR \"" + std::string(text) + "\" (expected a.b.c.d/n)");
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return bad();
  }
  auto ip = Ipv4::parse(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!ip || len_text.empty() || len_text.size() > 2 || ec != std::errc() ||
      p != len_text.data() + len_text.size() || len < 0 || len > 32) {
    return bad();
  }
  return Ipv4Prefix{*ip, len};
}

std::string Ipv6::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  return ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

std::optional<Ipv6> Ipv6::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find(':') == std::string_view::npos ||
      text.find('.') != std::string_view::npos || text.find('%') != std::string_view::npos) {
    return std::nullopt;
  }
  Ipv6 ip;
  const std::string s(text);
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) != 1) {
    return std::nullopt;
  }
  return ip;
}

Ipv6 Ipv6Prefix::network() const {
  Ipv6 n = addr;
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(len - i * 8, 0, 8);
    n.bytes[i] &= static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
  }
  return n;
}

bool Ipv6Prefix::contains(const Ipv6& ip) const {
  return Ipv6Prefix{ip, len}.network() == network();
}

bool Ipv6Prefix::overlaps(const Ipv6Prefix& other) const {
  return len <= other.len ? contains(other.addr) : other.contains(addr);
}

Ipv6 Ipv6Prefix::host(uint64_t n) const {
  Ipv6 out = network();
  unsigned carry = 0;
  for (int i = 15; i >= 0; --i) {
    const unsigned sum = out.bytes[i] + static_cast<unsigned>(n & 0xff) + carry;
    out.bytes[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
    n >>= 8;
  }
  return out;
}

std::string Ipv6Prefix::to_string() const {
  return addr.to_string() + "/" + std::to_string(len);
}

dind::base::Result<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid IPv6 CIDR \"" + std::string(text) + "\" (expected an IPv6 address/n)");
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return bad();
  }
  auto ip = Ipv6::parse(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!ip || len_text.empty() || len_text.size() > 3 || ec != std::errc() ||
      p != len_text.data() + len_text.size() || len < 0 || len > 128) {
    return bad();
  }
  return Ipv6Prefix{*ip, len};
}

std::string Mac::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::optional<Mac> Mac::parse(std::string_view text) {
  if (text.size() != 17) {
    return std::nullopt;
  }
  Mac m;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') {
      return std::nullopt;
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + i * 3, text.data() + i * 3 + 2, v, 16);
    if (ec != std::errc() || p != text.data() + i * 3 + 2) {
      return std::nullopt;
    }
    m.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  }
  return m;
}

Mac mac_from_ip(Ipv4 ip) {
  return Mac{{0x02, 0x42, static_cast<uint8_t>(ip.value >> 24),
              static_cast<uint8_t>(ip.value >> 16), static_cast<uint8_t>(ip.value >> 8),
              static_cast<uint8_t>(ip.value)}};
}

Mac random_mac() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  Mac m;
  uint64_t r = rng();
  for (auto& b : m.bytes) {
    b = static_cast<uint8_t>(r);
    r >>= 8;
  }
  m.bytes[0] = static_cast<uint8_t>((m.bytes[0] & 0xfe) | 0x02);  // unicast, locally administered
  return m;
}

}  // namespace netsetup
