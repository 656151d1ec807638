#include <catch2/catch.hpp>

#include "dind/base/fs.hpp"
#include "dind/daemon/listeners.hpp"
#include "dind/engine/config.hpp"
#include "dind/engine/networks.hpp"
#include "dind/engine/host_info.hpp"
#include "tree_snapshot.hpp"

using namespace dind::engine;
using dind::base::TempDir;

namespace {
std::vector<std::string> args(std::initializer_list<const char*> a) {
  return {a.begin(), a.end()};
}
// Parses flags with an explicit (empty) config file so the machine's
// /etc/docker/daemon.json never leaks into a test.
dind::base::Result<DaemonConfig> parse(std::vector<std::string> a, const TempDir& tmp,
                                       const std::string& json = "{}") {
  testsupport::write_text(tmp.path() / "daemon.json", json);
  a.insert(a.begin(), {"--config-file", (tmp.path() / "daemon.json").string()});
  return parse_daemon_args(a);
}
}  // namespace

TEST_CASE("parse_host table", "[engine][config]") {
  struct Row {
    const char* in;
    bool tls;
    const char* out;
  };
  const Row rows[] = {
      {"unix:///var/run/docker.sock", true, "unix:///var/run/docker.sock"},
      {"unix://", true, "unix:///var/run/docker.sock"},
      {"/tmp/d.sock", true, "unix:///tmp/d.sock"},
      {"tcp://0.0.0.0:2376", true, "tcp://0.0.0.0:2376"},
      {"tcp://:2376", true, "tcp://0.0.0.0:2376"},
      {"tcp://127.0.0.1", true, "tcp://127.0.0.1:2376"},
      {"tcp://127.0.0.1", false, "tcp://127.0.0.1:2375"},
      {"tcp://localhost:1234/", true, "tcp://127.0.0.1:1234"},
      {"tcp://[::]:2376", true, "tcp://[::]:2376"},
      {"tcp://[::1]", true, "tcp://[::1]:2376"},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto h = parse_host(r.in, r.tls);
    REQUIRE(h.ok());
    CHECK(h->to_string() == r.out);
  }
  for (const char* bad :
       {"", "tcp://1.2.3.4:99999", "tcp://1.2.3.4:x", "tcp://::1:2376", "tcp://[::1",
        "tcp://1.2.3.4:2376/path", "unix://relative", "http://x:1", "fd://", "ssh://host"}) {
    INFO(bad);
    CHECK_FALSE(parse_host(bad, true).ok());
  }
}

TEST_CASE("flags in dockerd's spellings", "[engine][config]") {
  TempDir tmp;
  auto c = parse(args({"-H",
                       "unix:///tmp/a.sock",
                       "--host=tcp://0.0.0.0:2376",
                       "-Htcp://:9",
                       "--tlsverify",
                       "--tlscacert",
                       "/c/ca.pem",
                       "--tlscert=/c/cert.pem",
                       "--tlskey",
                       "/c/key.pem",
                       "--data-root",
                       "/d",
                       "--exec-root=/e",
                       "-p",
                       "/p.pid",
                       "--log-level",
                       "warn",
                       "--mtu",
                       "1400",
                       "--registry-mirror",
                       "https://m1",
                       "--registry-mirror=https://m2",
                       "--tls=false"}),
                 tmp);
  REQUIRE(c.ok());
  CHECK(c->hosts ==
        std::vector<std::string>{"unix:///tmp/a.sock", "tcp://0.0.0.0:2376", "tcp://:9"});
  CHECK(c->tlsverify == true);
  CHECK(c->tls == false);
  CHECK(c->tlscacert == "/c/ca.pem");
  CHECK(c->tlscert == "/c/cert.pem");
  CHECK(c->data_root == "/d");
  CHECK(c->exec_root == "/e");
  CHECK(c->pidfile == "/p.pid");
  CHECK(c->log_level == "warn");
  CHECK(c->mtu == 1400);
  CHECK(c->registry_mirrors.size() == 2);

  auto d = parse(args({}), tmp);
  REQUIRE(d.ok());
  CHECK(d->hosts == std::vector<std::string>{"unix:///var/run/docker.sock"});
  CHECK(parse(args({"-D"}), tmp)->log_level == "debug");
}

TEST_CASE("bad flags are refused with the flag named", "[engine][config]") {
  TempDir tmp;
  struct Row {
    std::vector<std::string> a;
    const char* needle;
  };
  const Row rows[] = {
      {{"--bogus"}, "unknown flag: --bogus"},
      {{"-Z"}, "unknown flag: -Z"},
      {{"--data-root"}, "flag needs an argument: --data-root"},
      {{"--tlsverify=maybe"}, "invalid boolean"},
      {{"--mtu", "big"}, "invalid value"},
      {{"--mtu", "-5"}, "invalid value"},
      {{"stray"}, "unexpected argument"},
  };
  for (const auto& r : rows) {
    auto c = parse(r.a, tmp);
    REQUIRE_FALSE(c.ok());
    INFO(c.error().message);
    CHECK(c.error().message.find(r.needle) != std::string::npos);
  }
  auto missing = parse_daemon_args(args({"--config-file", "/nonexistent/daemon.json"}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("configuration file") != std::string::npos);
}

TEST_CASE("daemon.json merges, conflicts and unknown keys", "[engine][config]") {
  TempDir tmp;
  auto c = parse(args({}), tmp,
                 R"({"hosts":["unix:///tmp/j.sock"],"tlsverify":true,"tlscacert":"/j/ca",)"
                 R"("data-root":"/j","registry-mirrors":["https://m"],"debug":true,"mtu":1360})");
  REQUIRE(c.ok());
  CHECK(c->hosts == std::vector<std::string>{"unix:///tmp/j.sock"});
  CHECK(c->tlsverify == true);
  CHECK(c->data_root == "/j");
  CHECK(c->log_level == "debug");
  CHECK(c->mtu == 1360);

  auto conflict = parse(args({"--data-root", "/f"}), tmp, R"({"data-root":"/j"})");
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().message.find(
            "specified both as a flag and in the configuration file: data-root") !=
        std::string::npos);

  auto unknown = parse(args({}), tmp, R"({"storage-driver":"vfs","hosts":[]})");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("don't match any configuration option: storage-driver") !=
        std::string::npos);

  for (const char* bad : {"", "[]", "{", "{\"hosts\":\"unix:///x\"}", "{\"mtu\":\"1400\"}",
                          "{\"tlsverify\":1}", "{\"hosts\":[1]}"}) {
    INFO(bad);
    CHECK_FALSE(parse(args({}), tmp, bad).ok());
  }
}

TEST_CASE("address pools as flags and as dockerd's daemon.json objects", "[engine][config]") {
  TempDir tmp;
  auto c = parse(args({"--default-address-pool", "base=10.10.0.0/16,size=24"}), tmp, "{}");
  REQUIRE(c.ok());
  CHECK(c->address_pools == std::vector<std::string>{"base=10.10.0.0/16,size=24"});
  c = parse(args({}), tmp, R"({"default-address-pools":[{"base":"10.20.0.0/16","size":24}]})");
  REQUIRE(c.ok());
  CHECK(c->address_pools == std::vector<std::string>{"base=10.20.0.0/16,size=24"});
  CHECK_FALSE(parse(args({"--default-address-pool", "base=nope,size=24"}), tmp, "{}").ok());
  CHECK_FALSE(parse(args({}), tmp, R"({"default-address-pools":[{"base":"10.0.0.0/8"}]})").ok());
}

TEST_CASE("TCP listeners need client verification unless --tls=false", "[engine][config]") {
  std::vector<std::string> warnings;
  DaemonConfig c;
  c.hosts = {"unix:///tmp/x.sock", "tcp://127.0.0.1:2376"};

  auto refused = dind::daemon::plan_listeners(c, warnings);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("--tls=false") != std::string::npos);

  c.tls = true;
  auto no_verify = dind::daemon::plan_listeners(c, warnings);
  REQUIRE_FALSE(no_verify.ok());
  CHECK(no_verify.error().message.find("without client verification") != std::string::npos);

  c.tlsverify = true;
  auto missing = dind::daemon::plan_listeners(c, warnings);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("--tlscacert, --tlscert, --tlskey") != std::string::npos);

  c.tlscacert = "/ca";
  c.tlscert = "/cert";
  c.tlskey = "/key";
  auto ok = dind::daemon::plan_listeners(c, warnings);
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[1].tls.has_value());
  CHECK_FALSE((*ok)[1].insecure);
  CHECK(warnings.empty());

  DaemonConfig plain;
  plain.hosts = {"tcp://0.0.0.0:2375"};
  plain.tls = false;
  auto insecure = dind::daemon::plan_listeners(plain, warnings);
  REQUIRE(insecure.ok());
  CHECK((*insecure)[0].insecure);
  CHECK_FALSE((*insecure)[0].tls.has_value());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("without encryption") != std::string::npos);

  DaemonConfig unix_only;
  unix_only.hosts = {"unix:///tmp/y.sock"};
  CHECK(dind::daemon::plan_listeners(unix_only, warnings).ok());  // no TLS needed for the socket
}

TEST_CASE("os-release and /proc/cgroups parsers", "[engine][host]") {
  auto kv = parse_os_release(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian'\n# "
      "comment\n\nVERSION_ID=\"12\"\n=x\nBAD\n");
  CHECK(kv["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)");
  CHECK(kv["NAME"] == "Debian");
  CHECK(kv["VERSION_ID"] == "12");
  CHECK(kv.size() == 3);
  auto cg = parse_proc_cgroups(
      "#subsys_name\thierarchy\tnum_"
      "cgroups\tenabled\ncpuset\t3\t1\t1\nmemory\t5\t90\t0\ngarbage\n");
  CHECK(cg["cpuset"]);
  CHECK_FALSE(cg["memory"]);
  CHECK(cg.count("garbage") == 0);
}

TEST_CASE("the engine ID is created once and kept", "[engine][host]") {
  TempDir tmp;
  auto a = load_or_create_engine_id(tmp.path() / "data");
  REQUIRE(a.ok());
  CHECK(a->size() == 36);
  CHECK(testsupport::mode_of(tmp.path() / "data/engine-id") == 0600);
  auto b = load_or_create_engine_id(tmp.path() / "data");
  REQUIRE(b.ok());
  CHECK(*a == *b);
  testsupport::write_text(tmp.path() / "data/engine-id", "garbage");
  CHECK_FALSE(load_or_create_engine_id(tmp.path() / "data").ok());
}

TEST_CASE("each bridge gets its own NAT table", "[engine][networks]") {
  CHECK(dind::engine::nat_table_for("dind0", "/var/lib/dind") == "dind");
  CHECK(dind::engine::nat_table_for("dind1", "/var/lib/dind") == "dind-dind1");
  const auto a = dind::engine::nat_table_for("none", "/tmp/a");
  const auto b = dind::engine::nat_table_for("none", "/tmp/b");
  CHECK(a.rfind("dind-", 0) == 0);
  CHECK(a.size() == 17);
  CHECK(a != b);
  CHECK(a == dind::engine::nat_table_for("none", "/tmp/a"));
}
