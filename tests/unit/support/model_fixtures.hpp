#pragma once
// Typed container configuration from Docker JSON text, for tests: through
// the same codec the API decodes request bodies with.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "dind/model/container_json.hpp"

namespace dind::testing {

inline model::Config config_of(const nlohmann::json& j) {
  auto c = model::decode_config(j);
  INFO(j.dump());
  REQUIRE(c.ok());
  return *c;
}

inline model::Config config_of(const char* text) {
  return config_of(nlohmann::json::parse(text));
}

inline model::HostConfig host_config_of(const nlohmann::json& j) {
  auto h = model::decode_host_config(j);
  INFO(j.dump());
  REQUIRE(h.ok());
  return *h;
}

inline model::HostConfig host_config_of(const char* text) {
  return host_config_of(nlohmann::json::parse(text));
}

}  // namespace dind::testing
