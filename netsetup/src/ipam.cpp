#include "netsetup/ipam.hpp"

#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;
using dind::base::Status;

namespace {
constexpr int kSchemaVersion = 1;
}

Status Ipam::add_network(const std::string& name, const Ipv4Prefix& subnet, Ipv4 gateway) {
  if (nets_.count(name)) {
    return make_error(ErrorKind::kAlreadyExists, "IPAM: network " + name + " already exists");
  }
  const Ipv4Prefix net = subnet.canonical();
  for (const auto& [other, n] : nets_) {
    if (n.subnet.overlaps(net)) {
      return make_error(ErrorKind::kConflict, "subnet " + net.to_string() + " overlaps " +
                                                  n.subnet.to_string() + " of network " + other);
    }
  }
  if (!net.contains(gateway)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "gateway " + gateway.to_string() + " is not in " + net.to_string());
  }
  nets_[name] = Net{net, gateway, {}, gateway.value};
  return {};
}

Status Ipam::remove_network(const std::string& name) {
  if (!nets_.erase(name)) {
    return make_error(ErrorKind::kNotFound, "IPAM: no network " + name);
  }
  return {};
}

Result<Ipv4> Ipam::allocate(const std::string& network, std::optional<Ipv4> wanted) {
  auto it = nets_.find(network);
  if (it == nets_.end()) {
    return make_error(ErrorKind::kNotFound, "IPAM: no network " + network);
  }
  Net& n = it->second;
  auto usable = [&](uint32_t v) {
    return v != n.subnet.network().value && v != n.subnet.broadcast().value && v != n.gateway.value;
  };
  if (wanted) {
    if (!n.subnet.contains(*wanted)) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "address " + wanted->to_string() + " is not in subnet " + n.subnet.to_string());
    }
    if (!usable(wanted->value)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "address " + wanted->to_string() +
                            " is the network, broadcast or gateway address of " + network);
    }
    if (n.used.count(wanted->value)) {
      return make_error(ErrorKind::kConflict,
                        "address " + wanted->to_string() + " is already in use on " + network);
    }
    n.used.insert(wanted->value);
    return *wanted;
  }
  const uint32_t first = n.subnet.network().value;
  const uint64_t size = n.subnet.size();
  for (uint64_t step = 1; step <= size; ++step) {
    const uint32_t v = first + static_cast<uint32_t>((n.cursor - first + step) % size);
    if (usable(v) && !n.used.count(v)) {
      n.used.insert(v);
      n.cursor = v;
      return Ipv4{v};
    }
  }
  return make_error(
      ErrorKind::kFailedPrecondition,
      "no available IPv4 addresses on network " + network + " (" + n.subnet.to_string() + ")");
}

Status Ipam::release(const std::string& network, Ipv4 ip) {
  auto it = nets_.find(network);
  if (it == nets_.end()) {
    return make_error(ErrorKind::kNotFound, "IPAM: no network " + network);
  }
  if (!it->second.used.erase(ip.value)) {
    return make_error(ErrorKind::kNotFound,
                      "address " + ip.to_string() + " is not allocated on " + network);
  }
  return {};
}

size_t Ipam::allocated(const std::string& network) const {
  auto it = nets_.find(network);
  return it == nets_.end() ? 0 : it->second.used.size();
}

std::string Ipam::to_json() const {
  nlohmann::json nets = nlohmann::json::object();
  for (const auto& [name, n] : nets_) {
    nlohmann::json used = nlohmann::json::array();
    for (uint32_t v : n.used) {
      used.push_back(Ipv4{v}.to_string());
    }
    nets[name] = {{"subnet", n.subnet.to_string()},
                  {"gateway", n.gateway.to_string()},
                  {"cursor", Ipv4{n.cursor}.to_string()},
                  {"allocated", used}};
  }
  return nlohmann::json{{"version", kSchemaVersion}, {"networks", nets}}.dump(2) + "\n";
}

Result<Ipam> Ipam::from_json(std::string_view text) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorKind::kDataLoss, "IPAM state: " + why);
  };
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad("not a JSON object");
  }
  if (doc.value("version", 0) != kSchemaVersion) {
    return bad("unsupported schema version");
  }
  Ipam ipam;
  auto nets = doc.find("networks");
  if (nets == doc.end() || !nets->is_object()) {
    return bad("missing networks");
  }
  for (auto& [name, n] : nets->items()) {
    if (!n.is_object() || !n.contains("subnet") || !n["subnet"].is_string() ||
        !n.contains("gateway") || !n["gateway"].is_string() || !n.contains("allocated") ||
        !n["allocated"].is_array()) {
      return bad("malformed network " + name);
    }
    auto subnet = Ipv4Prefix::parse(n["subnet"].get<std::string>());
    auto gw = Ipv4::parse(n["gateway"].get<std::string>());
    if (!subnet || !gw) {
      return bad("malformed addresses in network " + name);
    }
    if (auto st = ipam.add_network(name, *subnet, *gw); !st) {
      return bad(st.error().message);
    }
    for (auto& a : n["allocated"]) {
      auto ip = a.is_string() ? Ipv4::parse(a.get<std::string>()) : std::nullopt;
      if (!ip || !ipam.allocate(name, *ip)) {
        return bad("bad allocated address in network " + name);
      }
    }
    if (n.contains("cursor") && n["cursor"].is_string()) {
      if (auto c = Ipv4::parse(n["cursor"].get<std::string>()); c && subnet->contains(*c)) {
        ipam.nets_[name].cursor = c->value;
      }
    }
  }
  return ipam;
}

Result<Ipam> Ipam::load(const std::filesystem::path& file) {
  auto text = dind::base::read_file(file, 16u << 20);
  if (!text) {
    if (text.error().sys_errno == ENOENT) {
      return Ipam{};
    }
    return std::move(text).error();
  }
  auto ipam = from_json(*text);
  if (!ipam) {
    return std::move(ipam).error().with_context(file.string());
  }
  return ipam;
}

Status Ipam::save(const std::filesystem::path& file) const {
  return dind::base::write_file_atomic(file, to_json(), 0600);
}

}  // namespace netsetup
