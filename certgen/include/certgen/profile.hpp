#pragma once
// The certificate profile planner: pure functions from inputs (host facts,
// DOCKER_TLS_SAN, options) to the description of a certificate. Nothing here
// touches the disk, the clock or OpenSSL.

#include <chrono>
#include <compare>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace certgen {

using dind::base::Result;

enum class KeyType { kEcdsaP256, kRsa2048, kRsa4096, kEd25519 };

// Accepts "ecdsa", "ecdsa-p256", "p256", "rsa2048", "rsa4096", "ed25519"
// (case-insensitive; "rsa" means rsa4096, what docker:dind uses).
Result<KeyType> parse_key_type(std::string_view text);
std::string_view key_type_name(KeyType type);

enum class Role { kCa, kServer, kClient };
std::string_view role_name(Role role);

struct SubjectAltName {
  enum class Type { kDns, kIp };
  Type type = Type::kDns;
  std::string value;  // DNS: lower-cased name; IP: canonical inet_ntop text

  auto operator<=>(const SubjectAltName&) const = default;
  std::string to_string() const;  // "DNS:docker", "IP:127.0.0.1"
};

// Parses one SAN: "DNS:name", "IP:addr" (prefix case-insensitive) or a bare
// value (an IP literal becomes IP:, anything else DNS:).
Result<SubjectAltName> parse_san(std::string_view text);
// Parses a DOCKER_TLS_SAN value: entries separated by commas and/or
// whitespace; empty input is an empty list.
Result<std::vector<SubjectAltName>> parse_san_list(std::string_view text);

// What the host looked like at start, gathered by host_facts.hpp.
struct HostFacts {
  std::string etc_hostname;            // content of /etc/hostname, trimmed
  std::string hostname;                // gethostname()
  std::string fqdn;                    // canonical name, best effort
  std::vector<std::string> addresses;  // every interface address, v4 and v6
};

struct PlanOptions {
  std::chrono::days validity{825};
  std::string extra_sans;  // DOCKER_TLS_SAN
};

struct Profile {
  Role role = Role::kClient;
  std::string common_name;
  std::vector<SubjectAltName> sans;  // sorted, unique
  std::chrono::days validity{825};
  bool is_ca = false;
  bool server_auth = false;  // EKU serverAuth
  bool client_auth = false;  // EKU clientAuth
};

Profile plan_ca_profile(const PlanOptions& options);
// Fails only on a malformed options.extra_sans.
Result<Profile> plan_server_profile(const HostFacts& host, const PlanOptions& options);
Profile plan_client_profile(const PlanOptions& options);

// Sorts and de-duplicates; DNS names before IPs.
std::vector<SubjectAltName> normalize_sans(std::vector<SubjectAltName> sans);

}  // namespace certgen
