// The container record on disk: round trip, schema versions, and records a
// crash, a hand edit or a newer engine left.

#include <catch2/catch.hpp>

#include "engine/container_store.hpp"

using namespace dind::engine;
using nlohmann::json;

namespace {
const std::string kId(64, 'c');
}

TEST_CASE("a container record round-trips with its schema version", "[engine][store]") {
  Containers::Container c;
  c.id = kId;
  c.name = "/web";
  c.image_id = "sha256:" + std::string(64, 'a');
  c.config.image = "busybox";
  c.config.cmd = {"sh"};
  c.host_config.auto_remove = true;
  c.status = RunStatus::kExited;
  c.exit_code = 3;
  c.restart_count = 2;
  c.mounts.push_back(MountSpec{MountSpec::Type::kVolume, "data", "/data", true, false, ""});
  EndpointView e;
  e.network_id = "n1";
  e.ip_address = "10.0.0.2";
  e.prefix_len = 24;
  e.aliases = dind::model::Strings{"api"};
  e.ports = {{"udp", "127.0.0.1", 5353, 53}};
  c.endpoints["mynet"] = e;
  const json doc = encode_record(c);
  CHECK(doc["SchemaVersion"] == kContainerSchema);
  auto back = decode_record(doc, kId);
  REQUIRE(back);
  CHECK((*back)->name == "/web");
  CHECK((*back)->status == RunStatus::kExited);
  CHECK((*back)->exit_code == 3);
  CHECK((*back)->restart_count == 2);
  REQUIRE((*back)->mounts.size() == 1);
  CHECK((*back)->mounts[0].source == "data");
  CHECK((*back)->mounts[0].read_only);
  CHECK((*back)->config == c.config);
  CHECK((*back)->host_config == c.host_config);
  CHECK((*back)->endpoints == c.endpoints);
  CHECK(encode_record(**back) == doc);
}

TEST_CASE("records of the original format load; newer and broken ones are refused", "[engine][store]") {
  json legacy = {{"Id", kId}, {"Name", "/old"}, {"State", {{"Status", "running"}, {"Pid", 12}}}};
  auto old = decode_record(legacy, kId);
  REQUIRE(old);
  CHECK((*old)->status == RunStatus::kRunning);
  CHECK(encode_record(**old)["SchemaVersion"] == kContainerSchema);  // upgraded at the next save

  json newer = legacy;
  newer["SchemaVersion"] = kContainerSchema + 1;
  auto refused = decode_record(newer, kId);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == dind::base::ErrorKind::kFailedPrecondition);
  CHECK(refused.error().message.find("newer engine") != std::string::npos);

  for (const json& bad : {json::array(), json("x"), json{{"Id", "other"}}, json{{"Name", "/no-id"}},
                          json{{"Id", kId}, {"SchemaVersion", "1"}}, json{{"Id", kId}, {"SchemaVersion", -1}},
                          json{{"Id", kId}, {"State", {{"Pid", "twelve"}}}}, json{{"Id", kId}, {"Config", 5}},
                          json{{"Id", kId}, {"HostConfig", {{"Memory", "1g"}}}},
                          json{{"Id", kId}, {"State", {{"Status", "sleeping"}}}},
                          json{{"Id", kId}, {"MountSpecs", {{{"type", "volume"}}}}}}) {
    INFO(bad.dump());
    auto r = decode_record(bad, kId);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == dind::base::ErrorKind::kDataLoss);
  }
}
