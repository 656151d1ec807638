#include "netsetup/uplink.hpp"

#include <charconv>
#include <climits>
#include <sstream>

#include "dind/base/fs.hpp"

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;

Result<std::string> default_route_interface(std::string_view proc_net_route) {
  std::istringstream in{std::string(proc_net_route)};
  std::string line;
  std::getline(in, line);  // header
  std::string best;
  long best_metric = LONG_MAX;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) {
      continue;
    }
    if (dest != "00000000" || mask != "00000000") {
      continue;
    }
    long m = 0;
    std::from_chars(metric.data(), metric.data() + metric.size(), m);
    if (m < best_metric) {
      best_metric = m;
      best = iface;
    }
  }
  if (best.empty()) {
    return make_error(ErrorKind::kNotFound, "no IPv4 default route");
  }
  return best;
}

Result<Uplink> detect_uplink(const std::filesystem::path& proc, const std::filesystem::path& sys) {
  auto routes = dind::base::read_file(proc / "net/route", 1u << 20);
  if (!routes) {
    return std::move(routes).error();
  }
  auto iface = default_route_interface(*routes);
  if (!iface) {
    return std::move(iface).error();
  }
  auto mtu_text = dind::base::read_file(sys / "class/net" / *iface / "mtu", 64);
  if (!mtu_text) {
    return std::move(mtu_text).error();
  }
  Uplink up{*iface, 0};
  auto [ptr, ec] = std::from_chars(mtu_text->data(), mtu_text->data() + mtu_text->size(), up.mtu);
  if (ec != std::errc() || up.mtu < 68) {
    return make_error(ErrorKind::kDataLoss, "unreadable MTU for " + *iface);
  }
  return up;
}

}  // namespace netsetup
