// docker events: the message shape, dockerd's filters and the bus's history.
#include <catch2/catch.hpp>

#include "dind/engine/events.hpp"

using namespace dind::engine;

namespace {

EventMessage container_event(const std::string& action, int64_t t) {
  return EventMessage{"container", action, std::string(64, 'a'),
                      {{"image", "busybox"}, {"name", "web"}, {"tier", "front"}}, t};
}

}  // namespace

TEST_CASE("event messages carry dockerd's legacy fields only for containers and images", "[engine][events]") {
  auto j = event_json(container_event("die", 1'700'000'000'123'456'789));
  CHECK(j["status"] == "die");
  CHECK(j["from"] == "busybox");
  CHECK(j["time"] == 1'700'000'000);
  CHECK(j["Actor"]["Attributes"]["tier"] == "front");
  auto n = event_json(EventMessage{"network", "create", "n1", {{"name", "x"}}, 5});
  CHECK_FALSE(n.contains("status"));
  CHECK_FALSE(n.contains("from"));
  auto i = event_json(EventMessage{"image", "tag", "sha256:1", {{"name", "a:1"}}, 5});
  CHECK(i["status"] == "tag");
  CHECK_FALSE(i.contains("from"));
}

TEST_CASE("event filters as dockerd applies them", "[engine][events]") {
  const auto e = container_event("exec_start: sh -c true", 1);
  CHECK(event_matches(e, {{"event", {"exec_start"}}}));
  CHECK(event_matches(e, {{"event", {"exec_start: sh -c true"}}}));
  CHECK_FALSE(event_matches(e, {{"event", {"start"}}}));
  CHECK(event_matches(e, {{"container", {"web"}}}));
  CHECK(event_matches(e, {{"container", {"aaaa"}}}));  // an ID prefix
  CHECK_FALSE(event_matches(e, {{"container", {"db"}}}));
  CHECK(event_matches(e, {{"label", {"tier=front"}}, {"type", {"container"}}}));
  CHECK_FALSE(event_matches(e, {{"label", {"tier=back"}}}));
  CHECK(event_matches(e, {{"label", {"tier"}}}));
  CHECK(event_matches(e, {{"image", {"busybox"}}}));
  CHECK_FALSE(event_matches(e, {{"type", {"network", "volume"}}}));
  const EventMessage connect{"network", "connect", "n1", {{"container", std::string(64, 'a')}, {"name", "front"}}, 1};
  CHECK(event_matches(connect, {{"network", {"front"}}}));
  CHECK(event_matches(connect, {{"container", {"aaaa"}}}));
  CHECK_FALSE(event_matches(connect, {{"volume", {"front"}}}));
}

TEST_CASE("the bus replays its history in a window and then streams", "[engine][events]") {
  EventBus bus;
  for (int64_t t = 1; t <= 5; ++t) {
    bus.publish(container_event("start", t));
  }
  std::vector<EventMessage> seen, history;
  const auto id = bus.subscribe(nullptr, [&](const EventMessage& e) { seen.push_back(e); return seen.size() < 2; },
                                2, 4, history);
  REQUIRE(history.size() == 3);
  CHECK(history.front().time_nano == 2);
  bus.publish(container_event("die", 0));  // stamped now
  CHECK(seen.size() == 1);
  CHECK(seen[0].time_nano > 1'000'000'000'000'000'000);
  bus.publish(container_event("die", 0));
  CHECK(bus.subscribers() == 0);  // the sink said false
  bus.unsubscribe(id);
  for (int i = 0; i < 2000; ++i) {
    bus.publish(container_event("x", 0));
  }
  std::vector<EventMessage> all;
  bus.unsubscribe(bus.subscribe(nullptr, [](const EventMessage&) { return true; }, 0, 0, all));
  CHECK(all.size() == EventBus::kHistory);
}
