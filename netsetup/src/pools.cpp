#include "netsetup/pools.hpp"

#include <charconv>
#include <sstream>

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;

std::vector<PoolSpec> default_pools() {
  auto p = [](const char* cidr, int size) { return PoolSpec{*Ipv4Prefix::parse(cidr), size}; };
  return {p("172.17.0.0/16", 16), p("172.18.0.0/16", 16), p("172.19.0.0/16", 16),
          p("172.20.0.0/14", 16), p("172.24.0.0/14", 16), p("172.28.0.0/14", 16),
          p("192.168.0.0/16", 20)};
}

Result<PoolSpec> parse_pool(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid address pool \"" + std::string(text) + "\": " + why);
  };
  std::optional<Ipv4Prefix> base;
  std::optional<int> size;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view part =
        text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
    pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      return bad("expected base=CIDR,size=N");
    }
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "base") {
      auto b = Ipv4Prefix::parse(value);
      if (!b) {
        return bad(b.error().message);
      }
      base = b->canonical();
    } else if (key == "size") {
      int n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return bad("size must be a number");
      }
      size = n;
    } else {
      return bad("unknown key \"" + std::string(key) + "\"");
    }
  }
  if (!base || !size) {
    return bad("both base and size are required");
  }
  if (*size < base->len || *size > 30) {
    return bad("size must be between the base's prefix length and 30");
  }
  return PoolSpec{*base, *size};
}

Result<Ipv4Prefix> choose_subnet(const std::vector<PoolSpec>& pools,
                                 const std::vector<Ipv4Prefix>& taken,
                                 const std::vector<Ipv4Prefix>& host_routes) {
  for (const auto& pool : pools) {
    const uint64_t step = uint64_t{1} << (32 - pool.size);
    const uint64_t count = pool.base.size() / step;
    for (uint64_t i = 0; i < count; ++i) {
      Ipv4Prefix candidate{Ipv4{static_cast<uint32_t>(pool.base.network().value + i * step)},
                           pool.size};
      bool free = true;
      for (const auto& t : taken) {
        free = free && !candidate.overlaps(t);
      }
      for (const auto& r : host_routes) {
        free = free && !candidate.overlaps(r);
      }
      if (free) {
        return candidate;
      }
    }
  }
  return make_error(ErrorKind::kFailedPrecondition,
                    "all predefined address pools have been fully subnetted");
}

std::vector<Ipv4Prefix> parse_route_prefixes(std::string_view text) {
  std::vector<Ipv4Prefix> out;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(f >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) {
      continue;
    }
    uint32_t d = 0, m = 0;
    auto r1 = std::from_chars(dest.data(), dest.data() + dest.size(), d, 16);
    auto r2 = std::from_chars(mask.data(), mask.data() + mask.size(), m, 16);
    if (r1.ec != std::errc() || r2.ec != std::errc() || m == 0) {
      continue;  // unparsable, or the default route
    }
    // /proc/net/route prints the raw (network-order) words in little-endian hex.
    d = __builtin_bswap32(d);
    m = __builtin_bswap32(m);
    int len = __builtin_popcount(m);
    out.push_back(Ipv4Prefix{Ipv4{d}, len}.canonical());
  }
  return out;
}

Result<BridgeAddress> plan_bridge_address(const Ipv4Prefix& subnet, std::optional<Ipv4> gateway) {
  const Ipv4Prefix net = subnet.canonical();
  if (net.len > 30) {
    return make_error(ErrorKind::kInvalidArgument,
                      "subnet " + net.to_string() + " is too small (at most /30)");
  }
  Ipv4 gw = gateway.value_or(Ipv4{net.network().value + 1});
  if (!net.contains(gw)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "gateway " + gw.to_string() + " is not in subnet " + net.to_string());
  }
  if (gw == net.network() || gw == net.broadcast()) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "gateway " + gw.to_string() + " is the network or broadcast address of " + net.to_string());
  }
  return BridgeAddress{net, gw};
}

Result<BridgeAddress> parse_bip(std::string_view text) {
  auto p = Ipv4Prefix::parse(text);
  if (!p) {
    return std::move(p).error().with_context("--bip");
  }
  return plan_bridge_address(*p, p->addr);
}

}  // namespace netsetup
