// The pure start plan: /etc files, --dns, what the executor must create or
// find, --init, the shim's options, and errors before anything is touched.

#include <catch2/catch.hpp>

#include "engine/start_plan.hpp"

using namespace dind::engine;
using nlohmann::json;

namespace {

StartFacts facts() {
  StartFacts f;
  f.id = std::string(12, 'b') + std::string(52, '0');
  f.config.image = "busybox";
  f.config.cmd = {"sh"};
  f.config.open_stdin = true;
  f.config.tty = true;
  f.rootfs = "/r/merged";
  f.container_dir = "/d/containers/" + f.id;
  f.run_dir = "/x/containers/" + f.id;
  f.socket = "/x/s/" + f.id.substr(0, 12) + ".sock";
  f.runc_root = "/x/runc";
  f.passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
  f.group = "root:x:0:\napp:x:1000:\nextra:x:2000:app\n";
  f.resolv_conf = "search corp.example\nnameserver 10.0.0.1\noptions ndots:0\n";
  f.volume_dir = [](const std::string& v) { return "/d/volumes/" + v + "/_data"; };
  return f;
}

}  // namespace

TEST_CASE("start plan: /etc files", "[engine][start]") {
  auto f = facts();
  f.config.hostname = "web";
  f.host_config.extra_hosts = {"db:10.1.2.3"};
  f.host_config.dns = {"9.9.9.9", "1.1.1.1"};
  auto p = plan_start(f);
  REQUIRE(p);
  CHECK(p->hostname == "web\n");
  CHECK(p->hosts.find("10.1.2.3\tdb\n") != std::string::npos);
  CHECK(p->hosts.find("127.0.0.1\tlocalhost\n") == 0);
  CHECK(p->resolv_conf == "nameserver 9.9.9.9\nnameserver 1.1.1.1\nsearch corp.example\noptions ndots:0\n");
  f.host_config.dns.clear();
  CHECK(plan_start(f)->resolv_conf == f.resolv_conf);
  f.network_mode = "none";
  CHECK(plan_start(f)->resolv_conf.empty());
  f.config.hostname.clear();
  CHECK(plan_start(f)->hostname == f.id.substr(0, 12) + "\n");
}

TEST_CASE("start plan: what the executor creates or must find", "[engine][start]") {
  auto f = facts();
  f.mounts = {MountSpec{MountSpec::Type::kVolume, "data", "/data", false, false, ""},
              MountSpec{MountSpec::Type::kBind, "/srv/new", "/new", false, true, ""},
              MountSpec{MountSpec::Type::kBind, "/srv/must", "/must", true, false, ""},
              MountSpec{MountSpec::Type::kTmpfs, "", "/tmp", false, false, "size=1m"}};
  auto p = plan_start(f);
  REQUIRE(p);
  CHECK(p->volumes == std::vector<std::string>{"data"});
  CHECK(p->bind_sources == std::vector<std::string>{"/srv/new"});
  CHECK(p->required_sources == std::vector<std::string>{"/srv/must"});
  bool volume_mounted = false;
  for (const auto& m : p->spec["mounts"]) {
    volume_mounted = volume_mounted || (m["destination"] == "/data" && m["source"] == "/d/volumes/data/_data");
  }
  CHECK(volume_mounted);
}

TEST_CASE("start plan: user, groups, --init and the shim", "[engine][start]") {
  auto f = facts();
  f.config.user = "app";
  f.host_config.group_add = {"extra", "3000"};
  auto p = plan_start(f);
  REQUIRE(p);
  CHECK(p->spec["process"]["user"]["uid"] == 1000);
  CHECK(p->spec["process"]["user"]["additionalGids"] == json({2000, 3000}));
  CHECK(p->shim.id == f.id);
  CHECK(p->shim.bundle == f.run_dir);
  CHECK(p->shim.socket == f.socket);
  CHECK(p->shim.log_path == f.container_dir + "/" + f.id + "-json.log");
  CHECK(p->shim.exit_file == f.container_dir + "/exit.json");
  CHECK(p->shim.tty);
  CHECK(p->shim.open_stdin);
  CHECK(p->shim.cgroup == "/dind/" + f.id);
  CHECK(p->spec["linux"]["cgroupsPath"] == "/dind/" + f.id);

  f.host_config.init = true;
  auto no_init = plan_start(f);
  REQUIRE_FALSE(no_init);
  CHECK(no_init.error().message == "--init needs the static dind-shim installed next to dind");
  f.init_exe = "/usr/local/bin/dind-shim";
  auto init = plan_start(f);
  REQUIRE(init);
  CHECK(init->spec["process"]["args"][0] == "/sbin/docker-init");

  f.config.user = "ghost";
  auto ghost = plan_start(f);
  REQUIRE_FALSE(ghost);
  CHECK(ghost.error().message.find("unable to find user ghost") != std::string::npos);
}
