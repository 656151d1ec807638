// The appliance's daemon settings from its environment (docker:dind's
// contract plus the knobs it never had).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "dind/appliance/nested.hpp"
#include "dind/appliance/plan.hpp"

using namespace dind;

namespace {

certgen::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

const appliance::TlsFiles kTls{"/certs/server/ca.pem", "/certs/server/cert.pem",
                               "/certs/server/key.pem", "/certs/client"};

}  // namespace

TEST_CASE("appliance: docker:dind's listeners and drop-in paths", "[appliance]") {
  auto p = appliance::plan_appliance(env_of({}), kTls, {"--mtu", "1400"});
  REQUIRE(p.ok());
  CHECK(p->flags == std::vector<std::string>{"--host", "unix:///var/run/docker.sock", "--host",
                                             "tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert",
                                             "/certs/server/ca.pem", "--tlscert",
                                             "/certs/server/cert.pem", "--tlskey",
                                             "/certs/server/key.pem", "--mtu", "1400"});
  CHECK(p->defaults.data_root == "/var/lib/docker");
  CHECK(p->defaults.live_restore == false);
  CHECK(p->defaults.shutdown_timeout == 8);
  CHECK(p->warnings.empty());
  // A unix:// DOCKER_HOST moves the socket; a tcp:// one (the client's) does not.
  p = appliance::plan_appliance(env_of({{"DOCKER_HOST", "unix:///run/x.sock"}}), kTls, {});
  CHECK(p->flags[1] == "unix:///run/x.sock");
  p = appliance::plan_appliance(env_of({{"DOCKER_HOST", "tcp://docker:2376"}}), kTls, {});
  CHECK(p->flags[1] == "unix:///var/run/docker.sock");
}

TEST_CASE("appliance: without TLS no TCP unless opted in, loudly", "[appliance]") {
  auto p = appliance::plan_appliance(env_of({}), std::nullopt, {});
  REQUIRE(p.ok());
  CHECK(p->flags == std::vector<std::string>{"--host", "unix:///var/run/docker.sock"});
  REQUIRE(p->warnings.size() == 1);
  CHECK(p->warnings[0].find("DIND_INSECURE_TCP=1") != std::string::npos);
  p = appliance::plan_appliance(env_of({{"DIND_INSECURE_TCP", "1"}}), std::nullopt, {});
  CHECK(p->flags == std::vector<std::string>{"--host", "unix:///var/run/docker.sock", "--host",
                                             "tcp://0.0.0.0:2375", "--tls=false"});
  REQUIRE(p->warnings.size() == 1);
  CHECK(p->warnings[0].find("ANYONE") != std::string::npos);
  // The opt-in never weakens a TLS setup.
  p = appliance::plan_appliance(env_of({{"DIND_INSECURE_TCP", "1"}}), kTls, {});
  CHECK(std::find(p->flags.begin(), p->flags.end(), "--tls=false") == p->flags.end());
}

TEST_CASE("appliance: the knobs", "[appliance]") {
  auto p = appliance::plan_appliance(
      env_of({{"DIND_MTU", "1400"},
              {"DIND_BIP", "10.9.0.1/24"},
              {"DIND_REGISTRY_MIRRORS", "https://m1.example, https://m2.example"},
              {"DIND_INSECURE_REGISTRIES", "reg.local:5000"},
              {"DIND_LOG_LEVEL", "debug"},
              {"DIND_SHUTDOWN_TIMEOUT", "3"},
              {"DIND_TCP_ADDRESS", "127.0.0.1:12376"},
              {"DIND_ADDRESS_POOLS", "base=10.10.0.0/16,size=24; base=10.20.0.0/16,size=26"}}),
      kTls, {});
  REQUIRE(p.ok());
  CHECK(p->defaults.mtu == 1400);
  CHECK(p->defaults.bip == "10.9.0.1/24");
  CHECK(p->defaults.registry_mirrors ==
        std::vector<std::string>{"https://m1.example", "https://m2.example"});
  CHECK(p->defaults.insecure_registries == std::vector<std::string>{"reg.local:5000"});
  CHECK(p->defaults.log_level == "debug");
  CHECK(p->defaults.shutdown_timeout == 3);
  CHECK(p->defaults.address_pools ==
        std::vector<std::string>{"base=10.10.0.0/16,size=24", "base=10.20.0.0/16,size=26"});
  CHECK(p->flags[3] == "tcp://127.0.0.1:12376");
  // The user's flags still win: they are parsed over these defaults.
  const auto cfg = std::filesystem::temp_directory_path() / "dind-appliance-plan-test.json";
  { std::ofstream(cfg) << "{}"; }
  auto config = engine::parse_daemon_args({"--data-root", "/tmp/x", "--config-file", cfg.string()},
                                          p->defaults);
  std::filesystem::remove(cfg);
  REQUIRE(config.ok());
  CHECK(config->data_root == "/tmp/x");
  CHECK(config->mtu == 1400);
  CHECK(config->live_restore == false);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"DIND_MTU", "12"}, {"DIND_MTU", "x"}, {"DIND_SHUTDOWN_TIMEOUT", "-1"},
           {"DIND_LOG_LEVEL", "loud"}, {"DIND_ADDRESS_POOLS", "base=10.0.0.0/8"},
           {"DIND_ADDRESS_POOLS", "10.0.0.0/8"}}) {
    INFO(name << "=" << value);
    auto bad = appliance::plan_appliance(env_of({{name, value}}), kTls, {});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find(name) != std::string::npos);
  }
}

TEST_CASE("appliance: the nested environment's steps", "[appliance]") {
  appliance::NestedFacts f;
  auto p = appliance::plan_nested(f);
  CHECK_FALSE(p.evacuate_cgroup2);
  CHECK_FALSE(p.mount_securityfs);
  CHECK(p.make_root_shared);
  CHECK(p.mount_tmp);
  f.cgroup2_root = true;
  f.securityfs_dir = true;
  f.tmp_is_mountpoint = true;
  p = appliance::plan_nested(f);
  CHECK(p.evacuate_cgroup2);
  CHECK(p.mount_securityfs);
  CHECK_FALSE(p.mount_tmp);
  f.securityfs_mounted = true;
  CHECK_FALSE(appliance::plan_nested(f).mount_securityfs);
  // A tmpfs would hide the engine's own paths.
  f.tmp_is_mountpoint = false;
  f.engine_paths = {"/var/lib/docker", "/tmp/run/d.sock"};
  CHECK_FALSE(appliance::plan_nested(f).mount_tmp);
  f.engine_paths = {"/var/lib/docker", "/tmpfoo"};
  CHECK(appliance::plan_nested(f).mount_tmp);
}
