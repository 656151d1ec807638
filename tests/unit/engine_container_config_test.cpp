// The pure half of container creation: names, config merge, mounts, ports
// and signals, with Docker's messages for bad input.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dind/engine/container_config.hpp"
#include "support/model_fixtures.hpp"

using json = nlohmann::json;
using namespace dind::engine;
using dind::testing::config_of;
using dind::testing::host_config_of;
namespace model = dind::model;

namespace {

// Decoded as the API does, then parsed: either step may refuse.
template <typename F>
auto decoded(const char* host_config, F parse) -> decltype(parse(model::HostConfig{})) {
  auto hc = model::decode_host_config(json::parse(host_config));
  if (!hc) {
    return std::move(hc).error();
  }
  return parse(*hc);
}

}  // namespace

TEST_CASE("container names", "[engine][config]") {
  for (const char* ok : {"web", "/web", "a1", "my_app.v2-x", "0x"}) {
    INFO(ok);
    CHECK(validate_container_name(ok).ok());
  }
  for (const char* bad :
       {"", "a", "/", "-lead", ".dot", "has space", "bad!", "a/b", "über", "_x"}) {
    INFO(bad);
    auto st = validate_container_name(bad);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message == std::string("Invalid container name (") + bad +
                                    "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
}

TEST_CASE("merge with the image config", "[engine][config]") {
  const model::Config image =
      config_of(R"({"Env":["PATH=/bin","A=image"],"Cmd":["sh"],"Entrypoint":["/init"],
    "WorkingDir":"/w","User":"app","Labels":{"x":"1"},"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT",
    "Volumes":{"/data":{}},"Healthcheck":{"Test":["CMD","true"],"Retries":3},"Shell":["/bin/bash","-c"]})");
  model::Config c = merge_config(config_of(R"({"Env":["A=mine"],"Labels":{"y":"2","x":"mine"}})"),
                                 image, std::string(64, 'f'));
  CHECK(c.hostname == "ffffffffffff");
  CHECK(c.env == model::Strings{"A=mine", "PATH=/bin"});
  CHECK(c.cmd == model::Strings{"sh"});
  CHECK(c.entrypoint == model::Strings{"/init"});
  CHECK(c.working_dir == "/w");
  CHECK(c.user == "app");
  CHECK(c.labels == model::StringMap{{"x", "mine"}, {"y", "2"}});
  CHECK(c.exposed_ports == std::set<std::string>{"80/tcp"});
  CHECK(c.volumes == std::set<std::string>{"/data"});
  CHECK(c.stop_signal == "SIGQUIT");
  REQUIRE(c.healthcheck.has_value());
  CHECK(c.healthcheck->retries == 3);
  CHECK(c.shell == model::Strings{"/bin/bash", "-c"});
  CHECK_FALSE(c.tty);
  // An entrypoint in the request drops the image's Cmd (dockerd's rule).
  c = merge_config(config_of(R"({"Entrypoint":["echo"]})"), image, std::string(64, 'f'));
  CHECK(c.entrypoint == model::Strings{"echo"});
  CHECK_FALSE(c.cmd.has_value());
  // The request's command wins over the image's.
  c = merge_config(config_of(R"({"Cmd":["true"],"Hostname":"h","User":"root"})"), image,
                   std::string(64, 'f'));
  CHECK(c.cmd == model::Strings{"true"});
  CHECK(c.entrypoint == model::Strings{"/init"});
  CHECK((c.hostname == "h" && c.user == "root"));
  // Nothing anywhere: Env stays null (dockerd's inspect shows "Env": null).
  c = merge_config(model::Config{}, model::Config{}, std::string(64, 'f'));
  CHECK_FALSE(c.env.has_value());
}

TEST_CASE("docker update: non-zero values replace, memory takes its swap along",
          "[engine][config]") {
  model::Resources current;
  current.memory = 64 << 20;
  current.memory_swap = 128 << 20;
  current.cpu_shares = 512;
  current.pids_limit = 50;
  model::Resources update;
  update.memory = 32 << 20;
  auto r = merge_update(current, update, true);
  CHECK(r.memory == 32 << 20);
  CHECK(r.memory_swap == 64 << 20);  // 2x the new limit
  CHECK(r.cpu_shares == 512);        // zero in the update: kept
  CHECK(r.pids_limit == 50);
  update.memory_swap = 100 << 20;  // given: taken as is
  update.pids_limit = 0;
  update.oom_kill_disable = false;
  r = merge_update(current, update, true);
  CHECK(r.memory_swap == 100 << 20);
  CHECK(r.pids_limit == 50);
  CHECK_FALSE(r.oom_kill_disable);
  // No swap accounting, or unlimited swap: the swap stays.
  current.memory_swap = -1;
  update = {};
  update.memory = 32 << 20;
  CHECK(merge_update(current, update, true).memory_swap == -1);
  update.cpuset_cpus = "0";
  update.memory_swappiness = 10;
  r = merge_update(current, update, false);
  CHECK((r.cpuset_cpus == "0" && r.memory_swappiness == 10));
}

TEST_CASE("mount specs parse like dockerd's", "[engine][config]") {
  auto m = parse_mounts(model::Config{}, host_config_of(R"({"Binds":["/h:/c","vol:/v:ro","/x:/y:rw,z"],
      "Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1024}}],
      "Tmpfs":{"/run":"size=1m"}})"));
  REQUIRE(m.ok());
  REQUIRE(m->size() == 5);
  CHECK(((*m)[0].type == MountSpec::Type::kBind && (*m)[0].create_source && !(*m)[0].read_only));
  CHECK(((*m)[1].type == MountSpec::Type::kVolume && (*m)[1].source == "vol" && (*m)[1].read_only));
  CHECK((*m)[3].tmpfs_options == "size=1024");
  // Image volumes not covered by a mount become anonymous volumes.
  m = parse_mounts(config_of(R"({"Volumes":{"/data":{},"/h":{}}})"),
                   host_config_of(R"({"Binds":["/src:/h"]})"));
  REQUIRE(m.ok());
  REQUIRE(m->size() == 2);
  CHECK(((*m)[1].destination == "/data" && (*m)[1].source.empty()));

  const std::pair<const char*, const char*> bad[] = {
      {R"({"Binds":["/only"]})", "invalid volume specification: '/only'"},
      {R"({"Binds":["a:b:c:d"]})", "invalid volume specification: 'a:b:c:d'"},
      {R"({"Binds":[":/x"]})", "invalid spec: :/x: empty section between colons"},
      {R"({"Binds":["/h:rel"]})", "mount path must be absolute"},
      {R"({"Binds":["/h:/c:bogus"]})", "invalid mode: bogus"},
      {R"({"Binds":["bad name!:/c"]})", "includes invalid characters for a local volume name"},
      {R"({"Binds":["/a:/same","/b:/same/"]})", "Duplicate mount point: /same"},
      {R"({"Binds":[42]})", "json: cannot unmarshal number 42 into Go struct field HostConfig.Binds of type string"},
      {R"({"Mounts":[{"Type":"bind","Target":"/x"}]})", "field Source must not be empty"},
      {R"({"Mounts":[{"Type":"bind","Source":"rel","Target":"/x"}]})",
       "mount path must be absolute"},
      {R"({"Mounts":[{"Type":"tmpfs","Source":"/s","Target":"/x"}]})",
       "field Source must not be specified"},
      {R"({"Mounts":[{"Type":"nfs","Target":"/x"}]})", "mount type unknown: \"nfs\""},
      {R"({"Mounts":[{"Type":"volume"}]})", "field Target must not be empty"},
      {R"({"Tmpfs":{"rel":""}})", "mount path must be absolute"},
  };
  for (const auto& [hc, msg] : bad) {
    INFO(hc);
    auto r = decoded(hc, [](const model::HostConfig& h) { return parse_mounts({}, h); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == dind::base::ErrorKind::kInvalidArgument);
    CHECK_THAT(r.error().message, Catch::Contains(msg));
  }
}

TEST_CASE("port bindings", "[engine][config]") {
  auto p = parse_port_bindings(
      config_of(R"({"ExposedPorts":{"80/tcp":{},"53/udp":{}}})"),
      host_config_of(R"({"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},
                                               "PublishAllPorts":true})"));
  REQUIRE(p.ok());
  REQUIRE(p->size() == 2);
  const auto& udp = (*p)[0].container_port == 53 ? (*p)[0] : (*p)[1];
  const auto& tcp = (*p)[0].container_port == 80 ? (*p)[0] : (*p)[1];
  CHECK((tcp.host_port == 8080 && tcp.host_ip && tcp.host_ip->to_string() == "127.0.0.1"));
  CHECK((udp.proto == netsetup::Proto::kUdp && udp.host_port == 0));
  for (const char* bad :
       {R"({"PortBindings":{"80/sctp":[{}]}})", R"({"PortBindings":{"x/tcp":[{}]}})",
        R"({"PortBindings":{"0/tcp":[{}]}})",
        R"({"PortBindings":{"80/tcp":[{"HostPort":"99999"}]}})",
        R"({"PortBindings":{"80/tcp":[{"HostPort":"8o"}]}})",
        R"({"PortBindings":{"80/tcp":[{"HostIp":"300.1.1.1","HostPort":"80"}]}})",
        R"({"PortBindings":{"80/tcp":[{"HostPort":80}]}})", R"({"PortBindings":{"80/tcp":5}})",
        R"({"PortBindings":[]})"}) {
    INFO(bad);
    auto r = decoded(bad, [](const model::HostConfig& h) { return parse_port_bindings({}, h); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == dind::base::ErrorKind::kInvalidArgument);
  }
}

TEST_CASE("signals by name and number", "[engine][config]") {
  CHECK(parse_signal("KILL").value() == SIGKILL);
  CHECK(parse_signal("SIGTERM").value() == SIGTERM);
  CHECK(parse_signal("sigusr1").value() == SIGUSR1);
  CHECK(parse_signal("9").value() == 9);
  CHECK(parse_signal("64").value() == 64);
  for (const char* bad : {"", "NOPE", "0", "65", "-1", "9x", "SIG"}) {
    INFO(bad);
    auto r = parse_signal(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == std::string("Invalid signal: ") + bad);
  }
}

TEST_CASE("restart policies: parsing with Docker's messages", "[engine][config][restart]") {
  using Kind = RestartPolicy::Kind;
  auto parse = [](const char* hc) { return decoded(hc, parse_restart_policy); };
  CHECK(parse("{}").value().kind == Kind::kNo);
  CHECK(parse(R"({"RestartPolicy":{"Name":""}})").value().kind == Kind::kNo);
  CHECK(parse(R"({"RestartPolicy":{"Name":"no"}})").value().kind == Kind::kNo);
  CHECK(parse(R"({"RestartPolicy":{"Name":"always"}})").value().kind == Kind::kAlways);
  CHECK(parse(R"({"RestartPolicy":{"Name":"unless-stopped","MaximumRetryCount":0}})").value().kind ==
        Kind::kUnlessStopped);
  auto of = parse(R"({"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}})");
  CHECK((of.value().kind == Kind::kOnFailure && of.value().max_retries == 3));
  struct Bad {
    const char* hc;
    const char* message;
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {R"({"RestartPolicy":{"Name":"sometimes"}})",
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"},
           {R"({"RestartPolicy":{"Name":"always","MaximumRetryCount":2}})",
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
           {R"({"RestartPolicy":{"Name":"no","MaximumRetryCount":-1}})",
            "invalid restart policy: maximum retry count can only be used with 'on-failure' and "
            "cannot be negative"},
           {R"({"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-1}})",
            "invalid restart policy: maximum retry count cannot be negative"},
           {R"({"RestartPolicy":{"Name":"always"},"AutoRemove":true})",
            "can't create 'AutoRemove' container with restart policy"},
           {R"({"RestartPolicy":{"Name":5}})", nullptr},
           {R"({"RestartPolicy":"always"})", nullptr},
           {R"({"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":"3"}})", nullptr}}) {
    INFO(b.hc);
    auto r = parse(b.hc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == dind::base::ErrorKind::kInvalidArgument);
    if (b.message != nullptr) {
      CHECK(r.error().message == b.message);
    }
  }
  // AutoRemove with "no" is fine.
  CHECK(parse(R"({"RestartPolicy":{"Name":"no"},"AutoRemove":true})").ok());
}

TEST_CASE("restart policies: the restart manager's decisions and backoff",
          "[engine][config][restart]") {
  using Kind = RestartPolicy::Kind;
  using ms = std::chrono::milliseconds;
  const RestartPolicy always{Kind::kAlways, 0};
  const RestartPolicy unless{Kind::kUnlessStopped, 0};
  const RestartPolicy on_failure2{Kind::kOnFailure, 2};
  const RestartPolicy on_failure{Kind::kOnFailure, 0};
  const RestartPolicy no{};
  CHECK_FALSE(next_restart(no, 1, false, 0, ms(0), ms(0)).restart);
  // Backoff: 100 ms, doubling, at most a minute; reset after a 10 s run.
  ms delay(0);
  std::vector<int64_t> seen;
  for (int i = 0; i < 12; ++i) {
    auto step = next_restart(always, 0, false, i, ms(50), delay);
    REQUIRE(step.restart);
    delay = step.delay;
    seen.push_back(delay.count());
  }
  CHECK(seen == std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200,
                                     60000, 60000});
  CHECK(next_restart(always, 0, false, 12, ms(10000), delay).delay == ms(100));
  CHECK(next_restart(always, 0, false, 12, ms(9999), ms(400)).delay == ms(800));
  // always ignores a manual stop (docker stop cancels it separately);
  // unless-stopped does not.
  CHECK(next_restart(always, 137, true, 0, ms(0), ms(0)).restart);
  CHECK(next_restart(unless, 0, false, 0, ms(0), ms(0)).restart);
  CHECK_FALSE(next_restart(unless, 0, true, 0, ms(0), ms(0)).restart);
  // on-failure: non-zero exits only, up to the maximum.
  CHECK_FALSE(next_restart(on_failure2, 0, false, 0, ms(0), ms(0)).restart);
  CHECK(next_restart(on_failure2, 3, false, 0, ms(0), ms(0)).restart);
  CHECK(next_restart(on_failure2, 3, false, 1, ms(0), ms(0)).restart);
  CHECK_FALSE(next_restart(on_failure2, 3, false, 2, ms(0), ms(0)).restart);
  CHECK(next_restart(on_failure, 1, false, 1000, ms(0), ms(0)).restart);
  // At daemon start.
  CHECK(restart_on_daemon_start(always, true));
  CHECK(restart_on_daemon_start(unless, false));
  CHECK_FALSE(restart_on_daemon_start(unless, true));
  CHECK_FALSE(restart_on_daemon_start(on_failure, false));
  CHECK_FALSE(restart_on_daemon_start(no, false));
}

TEST_CASE("legacy links: parsing and dockerd's variables", "[engine][links]") {
  using dind::engine::link_env;
  using dind::engine::parse_link;
  CHECK(*parse_link("db") == std::make_pair(std::string("db"), std::string("db")));
  CHECK(*parse_link("/db:al") == std::make_pair(std::string("db"), std::string("al")));
  CHECK(*parse_link("db:/al") == std::make_pair(std::string("db"), std::string("al")));
  for (const char* bad : {"", "/", "a:b:c", ":x", "x:"}) {
    INFO(bad);
    REQUIRE_FALSE(parse_link(bad).ok());
    CHECK(parse_link(bad).error().message == std::string("bad format for links: ") + bad);
  }
  const auto env = link_env("my-db", "/web", "10.0.0.2", {"5432/tcp", "80/udp"},
                            {"SECRET=s3", "PATH=/bin", "HOME=/root", "BROKEN"});
  const std::vector<std::string> want = {
      "MY_DB_PORT=udp://10.0.0.2:80",
      "MY_DB_PORT_80_UDP=udp://10.0.0.2:80",
      "MY_DB_PORT_80_UDP_ADDR=10.0.0.2",
      "MY_DB_PORT_80_UDP_PORT=80",
      "MY_DB_PORT_80_UDP_PROTO=udp",
      "MY_DB_PORT_5432_TCP=tcp://10.0.0.2:5432",
      "MY_DB_PORT_5432_TCP_ADDR=10.0.0.2",
      "MY_DB_PORT_5432_TCP_PORT=5432",
      "MY_DB_PORT_5432_TCP_PROTO=tcp",
      "MY_DB_NAME=/web/my-db",
      "MY_DB_ENV_SECRET=s3"};
  CHECK(env == want);
  CHECK(link_env("x", "/w", "1.2.3.4", {}, {}) == std::vector<std::string>{"X_NAME=/w/x"});
}
