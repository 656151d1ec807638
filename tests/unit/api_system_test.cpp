#include <catch2/catch.hpp>

#include "dind/api/system.hpp"

using namespace dind::api;

TEST_CASE("events since/until parse unix seconds with fractions", "[api][system]") {
  using namespace std::chrono;
  CHECK(parse_event_time("1700000000") == system_clock::time_point(seconds(1700000000)));
  CHECK(parse_event_time("1700000000.5") ==
        system_clock::time_point(seconds(1700000000) + milliseconds(500)));
  CHECK(parse_event_time("0.000000001").has_value());
  for (const char* bad :
       {"", "x", "-1", "1.", ".5", "1.5x", "1.1234567890", "2026-11-29T00:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_event_time(bad).has_value());
  }
}

TEST_CASE("runc --version output is parsed", "[api][system]") {
  auto v =
      parse_runc_version("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n");
  CHECK(v.version == "1.1.5+ds1");
  CHECK(v.commit == "1.1.5+ds1-1+deb12u1");
  CHECK(parse_runc_version("").version.empty());
}

TEST_CASE("common headers carry the negotiated API version", "[api][system]") {
  auto h = common_headers();
  CHECK(h.at("Api-Version") == "1.44");
  CHECK(h.at("Ostype") == "linux");
  CHECK(h.at("Docker-Experimental") == "false");
}
