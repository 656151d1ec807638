#pragma once
// The uplink: the interface of the IPv4 default route. Its MTU is the default
// MTU of every bridge we create (a fixed 1500 is the classic dind bug).

#include <filesystem>
#include <string>

#include "dind/base/result.hpp"

namespace netsetup {

struct Uplink {
  std::string name;
  int mtu = 0;
};

// Parses /proc/net/route text; the interface of the lowest-metric default
// route, or kNotFound.
dind::base::Result<std::string> default_route_interface(std::string_view proc_net_route);

// Reads the uplink from procfs/sysfs (roots overridable for tests).
dind::base::Result<Uplink> detect_uplink(const std::filesystem::path& proc = "/proc",
                                         const std::filesystem::path& sys = "/sys");

}  // namespace netsetup
