#include "netsetup/dns_records.hpp"

#include <algorithm>
#include <cctype>

#include "dind/base/text.hpp"

namespace netsetup::dns {
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {
std::string lower(std::string_view s) {
  return dind::base::ascii_lower(s);
}
}  // namespace

bool valid_dns_name(std::string_view name) {
  return dind::base::valid_dns_name(name);
}

dind::base::Status Records::add(const std::string& network, Ipv4 ip,
                                const std::vector<std::string>& names, std::optional<Ipv6> ip6) {
  for (const auto& n : names) {
    if (!valid_dns_name(n)) {
      return make_error(ErrorKind::kInvalidArgument, "\"" + n + "\" is not a valid DNS name");
    }
  }
  for (const auto& n : names) {
    names_[network][lower(n)].insert(ip.value);
    if (ip6) {
      names6_[network][lower(n)].insert(ip6->bytes);
    }
  }
  return {};
}

void Records::remove(const std::string& network, Ipv4 ip) {
  auto net = names_.find(network);
  if (net == names_.end()) {
    return;
  }
  for (auto it = net->second.begin(); it != net->second.end();) {
    it->second.erase(ip.value);
    it = it->second.empty() ? net->second.erase(it) : std::next(it);
  }
  if (net->second.empty()) {
    names_.erase(net);
  }
}

namespace {

// The addresses of `name` (or "name.network") on any of `networks`.
template <typename Addr>
std::set<Addr> collect(const std::map<std::string, std::map<std::string, std::set<Addr>>>& by_network,
                       const std::vector<std::string>& networks, const std::string& key) {
  std::set<Addr> found;
  for (const auto& net : networks) {
    auto n = by_network.find(net);
    if (n == by_network.end()) {
      continue;
    }
    if (auto it = n->second.find(key); it != n->second.end()) {
      found.insert(it->second.begin(), it->second.end());
    }
    const std::string suffix = "." + lower(net);
    if (key.size() > suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (auto it = n->second.find(key.substr(0, key.size() - suffix.size())); it != n->second.end()) {
        found.insert(it->second.begin(), it->second.end());
      }
    }
  }
  return found;
}

}  // namespace

std::vector<Ipv4> Records::lookup(const std::vector<std::string>& networks,
                                  std::string_view name) const {
  std::vector<Ipv4> out;
  for (uint32_t v : collect(names_, networks, lower(name))) {
    out.push_back(Ipv4{v});
  }
  return out;
}

std::vector<std::array<uint8_t, 16>> Records::lookup6(const std::vector<std::string>& networks,
                                                      std::string_view name) const {
  auto found = collect(names6_, networks, lower(name));
  return {found.begin(), found.end()};
}

Decision decide(const Records& records, const std::vector<std::string>& networks,
                std::string_view packet, std::mt19937& rng) {
  auto q = parse_query(packet);
  if (!q) {
    auto id = header_id(packet);
    if (!id) {
      return {Decision::Kind::kDrop, {}};
    }
    const Rcode rc = q.error().kind == ErrorKind::kUnimplemented ? Rcode::kNotImp : Rcode::kFormErr;
    return {Decision::Kind::kAnswer, build_error(*id, rc)};
  }
  if (q->qclass != kClassIn) {
    return {Decision::Kind::kForward, {}};
  }
  auto ips = records.lookup(networks, q->name);
  if (ips.empty()) {
    return {Decision::Kind::kForward, {}};
  }
  constexpr uint32_t kTtl = 600;
  if (q->qtype == kTypeA) {
    std::shuffle(ips.begin(), ips.end(), rng);  // cheap round-robin, as Docker does
    return {Decision::Kind::kAnswer,
            build_response(*q, Rcode::kNoError, ips, {}, kTtl, q->udp_size)};
  }
  if (q->qtype == kTypeAaaa) {
    auto ips6 = records.lookup6(networks, q->name);
    std::shuffle(ips6.begin(), ips6.end(), rng);
    return {Decision::Kind::kAnswer, build_response(*q, Rcode::kNoError, {}, ips6, kTtl, q->udp_size)};
  }
  // A name we know but no record of this type (AAAA on an IPv4-only network,
  // MX...): NOERROR with no answers, so clients fall back to A.
  return {Decision::Kind::kAnswer, build_response(*q, Rcode::kNoError, {}, {}, kTtl, q->udp_size)};
}

}  // namespace netsetup::dns
