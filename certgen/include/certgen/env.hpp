#pragma once
// The appliance's certificate settings from its environment, so the daemon at
// start and `dind-certgen` with no arguments agree exactly:
//   DOCKER_TLS_CERTDIR     bundle directory; unset = /certs; empty = TLS off
//   DOCKER_TLS_SAN         extra SANs ("DNS:x IP:y", comma/space separated)
//   DIND_TLS_KEY_TYPE      ecdsa-p256 (default) | rsa2048 | rsa4096 | ed25519
//   DIND_TLS_VALIDITY_DAYS leaf and CA validity, default 825

#include <functional>
#include <optional>
#include <string>

#include "certgen/bundle.hpp"

namespace certgen {

inline constexpr const char* kDefaultCertDir = "/certs";

// Looks a variable up; nullopt when unset. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
EnvLookup process_environment();

struct EnvSettings {
  std::optional<std::filesystem::path> dir;  // nullopt: TLS disabled
  KeyType key_type = KeyType::kEcdsaP256;
  PlanOptions plan;
};

// Fails on an unknown key type or a validity that is not 1..3650 days; SANs
// are validated later by the planner.
Result<EnvSettings> settings_from_env(const EnvLookup& env);

Result<std::chrono::days> parse_validity_days(std::string_view text);

}  // namespace certgen
