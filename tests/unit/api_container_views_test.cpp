// Inspect and list JSON from the engine's typed view: dockerd's shapes,
// published and exposed ports, the human status, sizes only when measured.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dind/api/container_views.hpp"
#include "dind/base/time.hpp"

using json = nlohmann::json;
using namespace dind;

namespace {

engine::ContainerView running_view() {
  engine::ContainerView v;
  v.id = std::string(64, 'a');
  v.name = "/web";
  v.created = "2026-12-01T10:00:00.5Z";
  v.image_id = "sha256:" + std::string(64, 'b');
  v.image_name = "busybox";
  v.path = "sh";
  v.args = {"-c", "sleep 1"};
  v.status = engine::RunStatus::kRunning;
  v.pid = 42;
  v.started_at = "2026-12-01T10:00:01Z";
  v.finished_at = engine::kZeroTime;
  v.container_dir = "/d/containers/" + v.id;
  v.layer_dir = "/d/image/mounts/" + v.id;
  v.sandbox_key = "/run/dind/netns";
  v.network_mode = "bridge";
  v.config.exposed_ports = {"80/tcp", "53/udp"};
  v.config.labels = {{"tier", "front"}};
  engine::EndpointView e;
  e.network_id = "n1";
  e.endpoint_id = "e1";
  e.ip_address = "172.17.0.2";
  e.prefix_len = 16;
  e.gateway = "172.17.0.1";
  e.ports = {{"tcp", "0.0.0.0", 8080, 80}};
  v.networks["bridge"] = e;
  engine::MountView m;
  m.type = "volume";
  m.name = "data";
  m.source = "/d/volumes/data/_data";
  m.destination = "/data";
  m.driver = "local";
  m.mode = "z";
  v.mounts.push_back(m);
  return v;
}

}  // namespace

TEST_CASE("inspect JSON from the view", "[api][containers]") {
  auto v = running_view();
  json doc = api::inspect_json(v);
  CHECK(doc["Path"] == "sh");
  CHECK(doc["Args"] == json({"-c", "sleep 1"}));
  CHECK(doc["State"]["Status"] == "running");
  CHECK(doc["State"]["Pid"] == 42);
  CHECK(doc["LogPath"] == v.container_dir + "/" + v.id + "-json.log");
  CHECK(doc["GraphDriver"]["Data"]["UpperDir"] == v.layer_dir + "/diff");
  const json& ns = doc["NetworkSettings"];
  CHECK(ns["IPAddress"] == "172.17.0.2");
  CHECK(ns["Ports"]["80/tcp"] == json::parse(R"([{"HostIp": "0.0.0.0", "HostPort": "8080"}])"));
  CHECK(ns["Ports"]["53/udp"].is_null());  // exposed, not published
  CHECK(ns["Networks"]["bridge"]["Aliases"].is_null());
  CHECK(ns["SandboxID"].get<std::string>().size() == 64);
  CHECK(doc["Mounts"][0]["Name"] == "data");
  CHECK(doc["Config"]["Labels"]["tier"] == "front");
  CHECK(doc["HostConfig"].contains("ShmSize"));
  CHECK_FALSE(doc.contains("SizeRw"));
  // Paused: the status shows it; a stopped container has no pid.
  v.paused = true;
  CHECK(api::inspect_json(v)["State"]["Status"] == "paused");
  v.status = engine::RunStatus::kExited;
  doc = api::inspect_json(v);
  CHECK(doc["State"]["Status"] == "exited");
  CHECK(doc["State"]["Pid"] == 0);
  CHECK(doc["State"]["Paused"] == false);
  v.size_rw = 10;
  v.size_root_fs = 100;
  doc = api::inspect_json(v);
  CHECK((doc["SizeRw"] == 10 && doc["SizeRootFs"] == 100));
  // --network none: an empty endpoint under its name.
  v.networks = {{"none", engine::EndpointView{}}};
  doc = api::inspect_json(v);
  CHECK(doc["NetworkSettings"]["Networks"]["none"]["IPAddress"] == "");
  CHECK(doc["NetworkSettings"]["Networks"]["none"]["DNSNames"].is_null());
}

TEST_CASE("list entries from the view", "[api][containers]") {
  auto v = running_view();
  const int64_t started = base::parse_time_secs(v.started_at);
  json s = api::summary_json(v, started + 180);
  CHECK(s["Names"] == json({"/web"}));
  CHECK(s["Command"] == "sh -c sleep 1");
  CHECK(s["Created"] == base::parse_time_secs("2026-12-01T10:00:00Z"));
  CHECK(s["State"] == "running");
  CHECK(s["Status"] == "Up 3 minutes");
  CHECK(s["Ports"] == json::parse(R"([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}])"));
  CHECK(s["HostConfig"]["NetworkMode"] == "default");
  CHECK(s["Labels"] == json({{"tier", "front"}}));
  v.paused = true;
  CHECK(api::summary_json(v, started + 1)["Status"] == "Up 1 second (Paused)");
  v.status = engine::RunStatus::kExited;
  v.exit_code = 3;
  v.finished_at = "2026-12-01T10:00:05Z";
  CHECK(api::summary_json(v, started + 3604)["Status"] == "Exited (3) About an hour ago");
  v.status = engine::RunStatus::kRestarting;
  CHECK(api::summary_json(v, started + 4)["Status"] == "Restarting (3) Less than a second ago");
  v.status = engine::RunStatus::kCreated;
  v.finished_at = engine::kZeroTime;
  CHECK(api::summary_json(v, started)["Status"] == "Created");
}
