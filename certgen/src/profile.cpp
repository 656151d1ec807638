#include "certgen/profile.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "dind/base/text.hpp"

namespace certgen {
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {

std::string lower(std::string_view s) {
  return dind::base::ascii_lower(s);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// Canonical text of an IPv4/IPv6 literal, or empty if it is not one. A zone
// ("fe80::1%eth0") is not part of an X.509 iPAddress and is dropped.
std::string canonical_ip(std::string_view text) {
  std::string s(text);
  if (auto pct = s.find('%'); pct != std::string::npos) {
    s.resize(pct);
  }
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, out, sizeof(out));
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, out, sizeof(out));
  }
  return {};
}

bool valid_dns_name(std::string_view name) {
  return dind::base::valid_dns_name(name, true);
}

}  // namespace

Result<KeyType> parse_key_type(std::string_view text) {
  std::string t = lower(text);
  if (t == "ecdsa" || t == "ecdsa-p256" || t == "p256" || t == "ec" || t == "ecdsa256") {
    return KeyType::kEcdsaP256;
  }
  if (t == "rsa4096" || t == "rsa" || t == "rsa-4096") {
    return KeyType::kRsa4096;
  }
  if (t == "rsa2048" || t == "rsa-2048") {
    return KeyType::kRsa2048;
  }
  if (t == "ed25519") {
    return KeyType::kEd25519;
  }
  return make_error(ErrorKind::kInvalidArgument,
                    "unknown key type \"" + std::string(text) +
                        "\" (expected one of: ecdsa-p256, rsa2048, rsa4096, ed25519)");
}

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "ecdsa-p256";
    case KeyType::kRsa2048:
      return "rsa2048";
    case KeyType::kRsa4096:
      return "rsa4096";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kCa:
      return "ca";
    case Role::kServer:
      return "server";
    case Role::kClient:
      return "client";
  }
  return "unknown";
}

std::string SubjectAltName::to_string() const {
  return (type == Type::kDns ? "DNS:" : "IP:") + value;
}

Result<SubjectAltName> parse_san(std::string_view text) {
  auto bad = [&](std::string why) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid subject alternative name \"" + std::string(text) + "\": " + why);
  };
  if (iequals_prefix(text, "ip:")) {
    std::string_view v = text.substr(3);
    std::string ip = canonical_ip(v);
    if (ip.empty()) {
      return bad("not an IPv4 or IPv6 address");
    }
    return SubjectAltName{SubjectAltName::Type::kIp, ip};
  }
  if (iequals_prefix(text, "dns:")) {
    std::string_view v = text.substr(4);
    if (!valid_dns_name(v)) {
      return bad("not a valid DNS name");
    }
    return SubjectAltName{SubjectAltName::Type::kDns, lower(v)};
  }
  if (auto colon = text.find(':'); colon != std::string_view::npos && canonical_ip(text).empty()) {
    return bad("only DNS: and IP: entries are supported");
  }
  if (std::string ip = canonical_ip(text); !ip.empty()) {
    return SubjectAltName{SubjectAltName::Type::kIp, ip};
  }
  if (!valid_dns_name(text)) {
    return bad("not a valid DNS name or IP address");
  }
  return SubjectAltName{SubjectAltName::Type::kDns, lower(text)};
}

Result<std::vector<SubjectAltName>> parse_san_list(std::string_view text) {
  std::vector<SubjectAltName> out;
  size_t i = 0;
  while (i < text.size()) {
    auto is_sep = [](char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); };
    while (i < text.size() && is_sep(text[i])) {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && !is_sep(text[i])) {
      ++i;
    }
    if (i > start) {
      auto san = parse_san(text.substr(start, i - start));
      if (!san) {
        return std::move(san).error().with_context("DOCKER_TLS_SAN");
      }
      out.push_back(*san);
    }
  }
  return out;
}

std::vector<SubjectAltName> normalize_sans(std::vector<SubjectAltName> sans) {
  std::sort(sans.begin(), sans.end());
  sans.erase(std::unique(sans.begin(), sans.end()), sans.end());
  return sans;
}

Profile plan_ca_profile(const PlanOptions& options) {
  Profile p;
  p.role = Role::kCa;
  p.common_name = "docker:dind CA";
  p.validity = options.validity;
  p.is_ca = true;
  return p;
}

Result<Profile> plan_server_profile(const HostFacts& host, const PlanOptions& options) {
  auto extra = parse_san_list(options.extra_sans);
  if (!extra) {
    return std::move(extra).error();
  }
  std::vector<SubjectAltName> sans = {{SubjectAltName::Type::kDns, "docker"},
                                      {SubjectAltName::Type::kDns, "localhost"}};
  auto add_name = [&](const std::string& name) {
    // Host facts come from the machine, not the user: skip what is not a
    // usable DNS name instead of failing the start.
    if (valid_dns_name(name)) {
      sans.push_back({SubjectAltName::Type::kDns, lower(name)});
    }
  };
  add_name(host.etc_hostname);
  add_name(host.hostname);
  add_name(host.fqdn);
  if (auto dot = host.hostname.find('.'); dot != std::string::npos) {
    add_name(host.hostname.substr(0, dot));
  }
  if (auto dot = host.fqdn.find('.'); dot != std::string::npos) {
    add_name(host.fqdn.substr(0, dot));
  }
  for (const auto& addr : host.addresses) {
    if (std::string ip = canonical_ip(addr); !ip.empty()) {
      sans.push_back({SubjectAltName::Type::kIp, ip});
    }
  }
  sans.insert(sans.end(), extra->begin(), extra->end());

  Profile p;
  p.role = Role::kServer;
  p.common_name = "docker:dind server";
  p.sans = normalize_sans(std::move(sans));
  p.validity = options.validity;
  p.server_auth = true;
  return p;
}

Profile plan_client_profile(const PlanOptions& options) {
  Profile p;
  p.role = Role::kClient;
  p.common_name = "docker:dind client";
  p.validity = options.validity;
  p.client_auth = true;
  return p;
}

}  // namespace certgen
