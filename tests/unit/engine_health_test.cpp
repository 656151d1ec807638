#include <catch2/catch.hpp>

#include "dind/engine/health.hpp"

using namespace dind::engine;
using namespace std::chrono_literals;

namespace {

HealthResult result(int code) {
  HealthResult r;
  r.exit_code = code;
  r.output = "exit " + std::to_string(code);
  return r;
}

dind::model::HealthConfig config(std::vector<std::string> test) {
  dind::model::HealthConfig c;
  c.test = std::move(test);
  return c;
}

}  // namespace

TEST_CASE("health settings: dockerd's defaults, and none for NONE or no test", "[engine][health]") {
  CHECK_FALSE(health_settings(std::nullopt));
  CHECK_FALSE(health_settings(config({})));
  CHECK_FALSE(health_settings(config({"NONE"})));
  auto s = health_settings(config({"CMD", "true"}));
  REQUIRE(s);
  CHECK(s->interval == 30s);
  CHECK(s->timeout == 30s);
  CHECK(s->retries == 3);
  CHECK(s->start_period == 0s);
  CHECK(s->start_interval == 0s);
  auto c = config({"CMD-SHELL", "x"});
  c.interval = 200'000'000;
  c.retries = 7;
  c.start_interval = 50'000'000;
  s = health_settings(c);
  REQUIRE(s);
  CHECK(s->interval == 200ms);
  CHECK(s->retries == 7);
  CHECK(s->start_interval == 50ms);
}

TEST_CASE("health config refusals in dockerd's words", "[engine][health]") {
  CHECK(check_health_config(std::nullopt).ok());
  CHECK(check_health_config(config({"NONE"})).ok());
  auto c = config({"CMD", "true"});
  c.interval = 999'999;
  CHECK(check_health_config(c).error().message == "Interval in Healthcheck cannot be less than 1ms");
  c = config({"CMD", "true"});
  c.timeout = 1;
  CHECK(check_health_config(c).error().message == "Timeout in Healthcheck cannot be less than 1ms");
  c = config({"CMD", "true"});
  c.retries = -1;
  CHECK(check_health_config(c).error().message == "Retries in Healthcheck cannot be negative");
  CHECK(check_health_config(config({"SHELL", "x"})).error().message == "unknown Healthcheck type 'SHELL'");
  CHECK_FALSE(check_health_config(config({"CMD"})).ok());
}

TEST_CASE("probe argv: CMD as given, CMD-SHELL through the shell", "[engine][health]") {
  auto s = health_settings(config({"CMD", "/bin/check", "--fast"}));
  CHECK(probe_args(*s, std::nullopt) == std::vector<std::string>{"/bin/check", "--fast"});
  s = health_settings(config({"CMD-SHELL", "test -f /ok"}));
  CHECK(probe_args(*s, std::nullopt) == std::vector<std::string>{"/bin/sh", "-c", "test -f /ok"});
  CHECK(probe_args(*s, std::vector<std::string>{"/bin/bash", "-ec"}) ==
        std::vector<std::string>{"/bin/bash", "-ec", "test -f /ok"});
}

TEST_CASE("results move the state as dockerd's handleProbeResult", "[engine][health]") {
  auto c = config({"CMD", "x"});
  c.retries = 2;
  const auto s = *health_settings(c);
  HealthState h;
  apply_probe(h, result(1), s, false);
  CHECK(h.status == HealthStatus::kStarting);
  CHECK(h.failing_streak == 1);
  apply_probe(h, result(1), s, false);
  CHECK(h.status == HealthStatus::kUnhealthy);
  CHECK(h.failing_streak == 2);
  apply_probe(h, result(0), s, false);
  CHECK(h.status == HealthStatus::kHealthy);
  CHECK(h.failing_streak == 0);
  apply_probe(h, result(-1), s, false);  // a timeout counts as a failure
  CHECK(h.status == HealthStatus::kHealthy);
  CHECK(h.failing_streak == 1);
  apply_probe(h, result(3), s, true);  // healthy already: the start period no longer shields
  CHECK(h.status == HealthStatus::kUnhealthy);
  for (int i = 0; i < 10; ++i) {
    apply_probe(h, result(i), s, false);
  }
  REQUIRE(h.log.size() == 5);
  CHECK(h.log.front().exit_code == 5);
  CHECK(h.log.back().exit_code == 9);
}

TEST_CASE("failures inside the start period do not count while starting", "[engine][health]") {
  auto c = config({"CMD", "x"});
  c.retries = 1;
  c.start_period = 10'000'000'000;
  const auto s = *health_settings(c);
  HealthState h;
  for (int i = 0; i < 4; ++i) {
    apply_probe(h, result(1), s, true);
  }
  CHECK(h.status == HealthStatus::kStarting);
  CHECK(h.failing_streak == 0);
  CHECK(h.log.size() == 4);
  apply_probe(h, result(1), s, false);
  CHECK(h.status == HealthStatus::kUnhealthy);
}

TEST_CASE("the wait before the next probe", "[engine][health]") {
  auto c = config({"CMD", "x"});
  c.interval = 2'000'000'000;
  c.start_period = 60'000'000'000;
  auto s = *health_settings(c);
  HealthState h;
  CHECK(next_probe_delay(s, h, true) == 2000ms);  // no start interval given
  c.start_interval = 100'000'000;
  s = *health_settings(c);
  CHECK(next_probe_delay(s, h, true) == 100ms);
  CHECK(next_probe_delay(s, h, false) == 2000ms);
  h.status = HealthStatus::kHealthy;
  CHECK(next_probe_delay(s, h, true) == 2000ms);
}
