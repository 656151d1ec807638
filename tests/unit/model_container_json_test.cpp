// The container configuration codec: Docker's JSON in (Go's decoding rules
// and messages for wrong types), dockerd's key set out, and round trips.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "dind/model/container_json.hpp"
#include "dind/model/network_json.hpp"

using json = nlohmann::json;
using namespace dind;

namespace {

std::set<std::string> keys(const json& obj) {
  std::set<std::string> out;
  for (const auto& [k, v] : obj.items()) {
    (void)v;
    out.insert(k);
  }
  return out;
}

// A create body as the docker CLI sends it, with most fields set.
const char* kRich = R"({
  "Hostname": "web", "Domainname": "example.org", "User": "app:app",
  "AttachStdin": true, "AttachStdout": true, "AttachStderr": true,
  "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Tty": true, "OpenStdin": true, "StdinOnce": true,
  "Env": ["A=1", "B="], "Cmd": ["sh", "-c", "echo hi"], "Image": "busybox",
  "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000, "Retries": 3},
  "Volumes": {"/data": {}}, "WorkingDir": "/srv", "Entrypoint": ["/init"],
  "Labels": {"x": "1"}, "StopSignal": "SIGQUIT", "StopTimeout": 7, "Shell": ["/bin/bash", "-c"],
  "HostConfig": {
    "Binds": ["/h:/c:ro"], "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
    "NetworkMode": "mynet", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": null},
    "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}, "AutoRemove": false,
    "CapAdd": ["NET_ADMIN"], "CapDrop": ["MKNOD"], "Dns": ["9.9.9.9"], "ExtraHosts": ["db:10.0.0.2"],
    "GroupAdd": ["wheel"], "OomScoreAdj": 5, "Privileged": false, "PublishAllPorts": true,
    "ReadonlyRootfs": true, "SecurityOpt": ["no-new-privileges"], "Tmpfs": {"/run": "size=1m"},
    "ShmSize": 1048576, "Sysctls": {"net.core.somaxconn": "1024"}, "ConsoleSize": [40, 120],
    "Memory": 33554432, "MemorySwap": -1, "NanoCpus": 500000000, "CpusetCpus": "0",
    "MemorySwappiness": 10, "OomKillDisable": true, "PidsLimit": 50,
    "Ulimits": [{"Name": "nofile", "Soft": 256, "Hard": 512}],
    "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}],
    "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 448}},
               {"Type": "bind", "Source": "/opt", "Target": "/o", "ReadOnly": true,
                "BindOptions": {"Propagation": "rshared"}}],
    "Init": true},
  "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Aliases": ["api"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}}}
})";

}  // namespace

TEST_CASE("codec: a create body decodes into typed values", "[model]") {
  auto r = model::decode_create_request(json::parse(kRich));
  REQUIRE(r.ok());
  const auto& c = r->config;
  CHECK(c.hostname == "web");
  CHECK(c.exposed_ports == std::set<std::string>{"53/udp", "80/tcp"});
  CHECK(c.env == model::Strings{"A=1", "B="});
  CHECK(c.cmd == model::Strings{"sh", "-c", "echo hi"});
  REQUIRE(c.healthcheck.has_value());
  CHECK(c.healthcheck->test == model::Strings{"CMD-SHELL", "true"});
  CHECK(c.healthcheck->interval == 1000000000);
  CHECK(c.stop_timeout == 7);
  CHECK(c.volumes == std::set<std::string>{"/data"});
  const auto& h = r->host_config;
  CHECK(h.binds == model::Strings{"/h:/c:ro"});
  CHECK(h.log_config.config.at("max-size") == "1m");
  CHECK(h.port_bindings.at("80/tcp") == std::vector<model::PortBinding>{{"127.0.0.1", "8080"}});
  CHECK(h.port_bindings.at("53/udp").empty());
  CHECK(h.restart_policy == model::RestartPolicySpec{"on-failure", 2});
  CHECK(h.console_size == std::vector<int64_t>{40, 120});
  CHECK(h.resources.memory == 33554432);
  CHECK(h.resources.memory_swappiness == 10);
  CHECK(h.resources.pids_limit == 50);
  CHECK(h.resources.oom_kill_disable);
  CHECK(h.resources.ulimits == std::vector<model::Ulimit>{{"nofile", 256, 512}});
  CHECK(h.resources.devices.at(0).path_in_container == "/dev/n");
  REQUIRE(h.mounts.size() == 2);
  CHECK(h.mounts[0].tmpfs_mode == 448);
  CHECK(h.mounts[1].bind_propagation == "rshared");
  CHECK(h.init == true);
  CHECK(h.tmpfs.at("/run") == "size=1m");
  REQUIRE(r->endpoints.count("mynet") == 1);
  CHECK(r->endpoints.at("mynet").aliases == model::Strings{"api"});
  CHECK(r->endpoints.at("mynet").ipv4_address == "10.9.0.5");
}

TEST_CASE("codec: encode then decode gives the same values", "[model]") {
  auto r = model::decode_create_request(json::parse(kRich));
  REQUIRE(r.ok());
  auto config = model::decode_config(model::encode_config(r->config));
  REQUIRE(config.ok());
  CHECK(*config == r->config);
  auto host = model::decode_host_config(model::encode_host_config(r->host_config));
  REQUIRE(host.ok());
  CHECK(*host == r->host_config);
  auto eps = model::decode_networking_config(model::encode_networking_config(r->endpoints));
  REQUIRE(eps.ok());
  CHECK(*eps == r->endpoints);
  // Empty values survive too (null versus empty lists).
  model::Config empty_cmd;
  empty_cmd.cmd = model::Strings{};
  CHECK(model::decode_config(model::encode_config(empty_cmd))->cmd == model::Strings{});
  CHECK_FALSE(model::decode_config(model::encode_config(model::Config{}))->cmd.has_value());
}

TEST_CASE("codec: dockerd's key set, null for nil lists", "[model]") {
  // The keys dockerd 20.10 sends in inspect's Config and HostConfig for a
  // plain `docker run` (capture 10-inspect).
  const std::set<std::string> config_keys = {
      "Hostname", "Domainname", "User",       "AttachStdin", "AttachStdout", "AttachStderr",
      "Tty",      "OpenStdin",  "StdinOnce",  "Env",         "Cmd",          "Image",
      "Volumes",  "WorkingDir", "Entrypoint", "OnBuild",     "Labels"};
  const json config = model::encode_config(model::Config{});
  CHECK(keys(config) == config_keys);
  CHECK(config["Env"].is_null());
  CHECK(config["Volumes"].is_null());
  CHECK(config["Labels"] == json::object());
  const std::set<std::string> host_keys = {
      "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
      "AutoRemove", "VolumeDriver", "VolumesFrom", "CapAdd", "CapDrop", "CgroupnsMode", "Dns",
      "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links",
      "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt",
      "UTSMode", "UsernsMode", "ShmSize", "Runtime", "ConsoleSize", "Isolation", "CpuShares",
      "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
      "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
      "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus",
      "CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests", "KernelMemory",
      "KernelMemoryTCP", "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable",
      "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
      "MaskedPaths", "ReadonlyPaths"};
  const json host = model::encode_host_config(model::HostConfig{});
  CHECK(keys(host) == host_keys);
  CHECK(host["Binds"].is_null());
  CHECK(host["PidsLimit"].is_null());
  CHECK(host["MemorySwappiness"].is_null());
  CHECK(host["Dns"].is_null());  // as dockerd echoes a request without it
  // ... and [] or {} when the request sent them so (the docker CLI does).
  auto sent = model::decode_host_config(json::parse(R"({"Dns": [], "PortBindings": {}, "Ulimits": null})"));
  REQUIRE(sent.ok());
  const json echoed = model::encode_host_config(*sent);
  CHECK(echoed["Dns"] == json::array());
  CHECK(echoed["PortBindings"] == json::object());
  CHECK(echoed["Ulimits"].is_null());
  CHECK(echoed["Devices"].is_null());
  CHECK(host["ConsoleSize"] == json::array({0, 0}));
  CHECK(host["RestartPolicy"] == json::parse(R"({"Name": "", "MaximumRetryCount": 0})"));
}

TEST_CASE("codec: Docker's string-or-list fields and null members", "[model]") {
  auto c = model::decode_config(json::parse(R"({"Cmd": "echo hi", "Entrypoint": null, "Env": null,
                                                "Unknown": {"x": 1}, "Labels": {"a": null}})"));
  REQUIRE(c.ok());
  CHECK(c->cmd == model::Strings{"echo hi"});
  CHECK_FALSE(c->entrypoint.has_value());
  CHECK_FALSE(c->env.has_value());
  CHECK(c->labels.at("a").empty());
  auto h = model::decode_host_config(json(nullptr));
  REQUIRE(h.ok());
  CHECK(*h == model::HostConfig{});
}

TEST_CASE("codec: wrong types get Go's messages", "[model]") {
  struct Bad {
    const char* body;
    const char* message;
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {R"({"HostConfig": {"Memory": "1g"}})",
            "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"},
           {R"({"HostConfig": {"Memory": 1.5}})",
            "json: cannot unmarshal number 1.5 into Go struct field HostConfig.Memory of type int64"},
           {R"({"HostConfig": {"Memory": 18446744073709551615}})", nullptr},
           {R"({"HostConfig": {"Privileged": "yes"}})",
            "json: cannot unmarshal string into Go struct field HostConfig.Privileged of type bool"},
           {R"({"HostConfig": {"Binds": "/a:/b"}})",
            "json: cannot unmarshal string into Go struct field HostConfig.Binds of type []string"},
           {R"({"HostConfig": {"Ulimits": {}}})",
            "json: cannot unmarshal object into Go struct field HostConfig.Ulimits of type "
            "[]*units.Ulimit"},
           {R"({"HostConfig": {"Ulimits": [{"Name": 5}]}})",
            "json: cannot unmarshal number 5 into Go struct field Ulimit.Name of type string"},
           {R"({"HostConfig": {"Ulimits": [7]}})", nullptr},
           {R"({"HostConfig": {"PortBindings": {"80/tcp": "8080"}}})", nullptr},
           {R"({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}})", nullptr},
           {R"({"HostConfig": {"RestartPolicy": "always"}})", nullptr},
           {R"({"HostConfig": {"Sysctls": {"a": 1}}})", nullptr},
           {R"({"HostConfig": {"ConsoleSize": [1, "x"]}})", nullptr},
           {R"({"HostConfig": {"Mounts": [{"Type": 1}]}})", nullptr},
           {R"({"HostConfig": {"DeviceRequests": [{"Capabilities": [[1]]}]}})", nullptr},
           {R"({"HostConfig": 5})",
            "json: cannot unmarshal number 5 into Go value of type container.HostConfig"},
           {R"({"Cmd": 5})", nullptr},
           {R"({"Cmd": [1]})", nullptr},
           {R"({"Env": [true]})", nullptr},
           {R"({"Labels": ["a"]})", nullptr},
           {R"({"ExposedPorts": ["80/tcp"]})", nullptr},
           {R"({"Healthcheck": {"Retries": "3"}})", nullptr},
           {R"({"StopTimeout": "10"})", nullptr},
           {R"({"NetworkingConfig": {"EndpointsConfig": []}})", nullptr},
           {R"({"NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": "a"}}}})", nullptr},
           {R"({"NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": "x"}}}})", nullptr},
           {R"([])", "the request body must be a JSON object"}}) {
    INFO(b.body);
    auto r = model::decode_create_request(json::parse(b.body));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == base::ErrorKind::kInvalidArgument);
    if (b.message != nullptr) {
      CHECK(r.error().message == b.message);
    }
  }
}

TEST_CASE("codec: an update body", "[model]") {
  auto u = model::decode_update_request(
      json::parse(R"({"Memory": 67108864, "CpuShares": 0, "RestartPolicy": {"Name": "always"}})"));
  REQUIRE(u.ok());
  CHECK(u->resources.memory == 67108864);
  REQUIRE(u->restart_policy.has_value());
  CHECK(u->restart_policy->name == "always");
  CHECK_FALSE(model::decode_update_request(json::parse(R"({"Memory": "64m"})")).ok());
  CHECK_FALSE(model::decode_update_request(json::parse(R"({"RestartPolicy": "always"})")).ok());
  CHECK_FALSE(model::decode_update_request(json::parse(R"(7)")).ok());
}

TEST_CASE("codec: an exec body", "[model]") {
  auto e = model::decode_exec_config(json::parse(
      R"({"Cmd": ["sh", "-c", "id"], "Env": ["A=1"], "User": "app", "Tty": true,
          "AttachStdout": true, "DetachKeys": "ctrl-x", "WorkingDir": "/tmp", "ConsoleSize": [24, 80]})"));
  REQUIRE(e.ok());
  CHECK(e->cmd == model::Strings{"sh", "-c", "id"});
  CHECK(e->env == model::Strings{"A=1"});
  CHECK((e->tty && e->attach_stdout && !e->attach_stdin));
  CHECK((e->console_rows == 24 && e->console_cols == 80));
  CHECK(model::decode_exec_config(json::parse(R"({"Cmd": "ls"})"))->cmd == model::Strings{"ls"});
  for (const char* bad : {R"({"Cmd": 5})", R"({"Cmd": [1]})", R"({"Env": "A=1"})", R"({"User": 0})",
                          R"({"Tty": "yes"})", R"({"ConsoleSize": ["a", 1]})", R"([])"}) {
    INFO(bad);
    auto r = model::decode_exec_config(json::parse(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == base::ErrorKind::kInvalidArgument);
  }
}

TEST_CASE("codec: a network create body", "[model]") {
  auto n = model::decode_network_create(json::parse(
      R"({"Name": "web", "Driver": "bridge", "Internal": true, "Labels": {"a": "1"},
          "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1",
                   "AuxiliaryAddresses": {"host1": "10.9.0.5"}}]},
          "Options": {"com.docker.network.bridge.name": "br9"}})"));
  REQUIRE(n.ok());
  CHECK(n->name == "web");
  CHECK(n->internal);
  CHECK(n->labels == model::StringMap{{"a", "1"}});
  REQUIRE(n->ipam.size() == 1);
  CHECK(n->ipam[0].subnet == "10.9.0.0/24");
  CHECK(n->ipam[0].aux_addresses.at("host1") == "10.9.0.5");
  for (const char* bad : {R"({"Name": 5})", R"({"Internal": "yes"})", R"({"IPAM": []})",
                          R"({"IPAM": {"Config": {}}})", R"({"IPAM": {"Config": [{"Subnet": 1}]}})",
                          R"({"Labels": ["a"]})", R"("web")"}) {
    INFO(bad);
    auto r = model::decode_network_create(json::parse(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == base::ErrorKind::kInvalidArgument);
  }
}
