#pragma once
// Typed container configuration from Docker JSON text, for tests: through
// the same codec the API decodes request bodies with.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "dind/model/container_json.hpp"

namespace dind::testing {

// The value `decode` makes of `j`; the test fails when it refuses it.
template <typename Decode>
auto decoded_or_fail(const nlohmann::json& j, Decode decode) {
  auto r = decode(j);
  INFO(j.dump());
  REQUIRE(r.ok());
  return std::move(*r);
}

inline model::Config config_of(const nlohmann::json& j) {
  return decoded_or_fail(j, model::decode_config);
}

inline model::Config config_of(const char* text) {
  return config_of(nlohmann::json::parse(text));
}

inline model::HostConfig host_config_of(const nlohmann::json& j) {
  return decoded_or_fail(j, model::decode_host_config);
}

inline model::HostConfig host_config_of(const char* text) {
  return host_config_of(nlohmann::json::parse(text));
}

}  // namespace dind::testing
