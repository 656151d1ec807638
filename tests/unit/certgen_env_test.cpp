#include <catch2/catch.hpp>
#include <map>

#include "certgen/env.hpp"

using namespace certgen;

namespace {
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}
}  // namespace

TEST_CASE("env: defaults are /certs, ecdsa-p256, 825 days", "[certgen][env]") {
  auto s = settings_from_env(env_of({}));
  REQUIRE(s.ok());
  REQUIRE(s->dir.has_value());
  CHECK(*s->dir == "/certs");
  CHECK(s->key_type == KeyType::kEcdsaP256);
  CHECK(s->plan.validity == std::chrono::days(825));
}

TEST_CASE("env: an empty DOCKER_TLS_CERTDIR disables TLS", "[certgen][env]") {
  auto s = settings_from_env(env_of({{"DOCKER_TLS_CERTDIR", ""}}));
  REQUIRE(s.ok());
  CHECK_FALSE(s->dir.has_value());
}

TEST_CASE("env: values are read and bad ones refused", "[certgen][env]") {
  auto s = settings_from_env(env_of({{"DOCKER_TLS_CERTDIR", "/x"},
                                     {"DOCKER_TLS_SAN", "DNS:a"},
                                     {"DIND_TLS_KEY_TYPE", "rsa4096"},
                                     {"DIND_TLS_VALIDITY_DAYS", "90"}}));
  REQUIRE(s.ok());
  CHECK(*s->dir == "/x");
  CHECK(s->plan.extra_sans == "DNS:a");
  CHECK(s->key_type == KeyType::kRsa4096);
  CHECK(s->plan.validity == std::chrono::days(90));

  auto bad_type = settings_from_env(env_of({{"DIND_TLS_KEY_TYPE", "dsa"}}));
  REQUIRE_FALSE(bad_type.ok());
  CHECK(bad_type.error().message.rfind("DIND_TLS_KEY_TYPE", 0) == 0);
  for (const char* v : {"0", "-1", "3651", "12x", "x", " 5"}) {
    INFO(v);
    CHECK_FALSE(settings_from_env(env_of({{"DIND_TLS_VALIDITY_DAYS", v}})).ok());
  }
}
