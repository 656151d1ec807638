#pragma once
// IP address management per network: allocate, release, static requests, and
// a JSON form persisted atomically so a restarted daemon continues without
// handing out an address twice. Not thread-safe: one owner.

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "netsetup/addr.hpp"

namespace netsetup {

class Ipam {
 public:
  dind::base::Status add_network(const std::string& name, const Ipv4Prefix& subnet, Ipv4 gateway);
  dind::base::Status remove_network(const std::string& name);
  bool has_network(const std::string& name) const { return nets_.count(name) != 0; }

  // A free address (sequentially after the last one handed out, wrapping, so
  // a just-released address is not reused at once), or `wanted` if free.
  dind::base::Result<Ipv4> allocate(const std::string& network, std::optional<Ipv4> wanted = {});
  dind::base::Status release(const std::string& network, Ipv4 ip);
  size_t allocated(const std::string& network) const;

  std::string to_json() const;
  static dind::base::Result<Ipam> from_json(std::string_view text);
  // The state file: a missing file is an empty Ipam.
  static dind::base::Result<Ipam> load(const std::filesystem::path& file);
  dind::base::Status save(const std::filesystem::path& file) const;

 private:
  struct Net {
    Ipv4Prefix subnet;
    Ipv4 gateway;
    std::set<uint32_t> used;
    uint32_t cursor = 0;  // last handed-out address
  };
  std::map<std::string, Net> nets_;
};

}  // namespace netsetup
