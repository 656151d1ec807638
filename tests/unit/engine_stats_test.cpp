// docker stats samples from recorded cgroup v1 and v2 files.
#include <catch2/catch.hpp>

#include <map>

#include "dind/engine/stats.hpp"

using namespace dind::engine;

namespace {

StatsSource fake(std::map<std::string, std::string> files) {
  StatsSource s;
  s.cgroup = "/dind/c1";
  s.pid = 42;
  s.clock_ticks = 100;
  s.online_cpus = 2;
  s.host_memory = 1000000;
  s.read = [files](const std::string& p) -> std::optional<std::string> {
    auto it = files.find(p);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return s;
}

const char* kNetDev =
    "Inter-|   Receive\n face |bytes\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n"
    "  eth0: 1224 14 1 2 0 0 0 0 300 3 4 5 0 0 0 0\n";

}  // namespace

TEST_CASE("a cgroup v1 sample", "[engine][stats]") {
  auto s = fake({{"/proc/stat", "cpu  100 0 50 850 0 0 0 0 0 0\ncpu0 1 2 3"},
                 {"/sys/fs/cgroup/cpuacct/dind/c1/cpuacct.usage", "31463040"},
                 {"/sys/fs/cgroup/cpuacct/dind/c1/cpuacct.usage_percpu", "19728402 11734638 "},
                 {"/sys/fs/cgroup/cpuacct/dind/c1/cpuacct.stat", "user 1\nsystem 2"},
                 {"/sys/fs/cgroup/cpu/dind/c1/cpu.stat", "nr_periods 7\nnr_throttled 1\nthrottled_time 99"},
                 {"/sys/fs/cgroup/memory/dind/c1/memory.usage_in_bytes", "335872"},
                 {"/sys/fs/cgroup/memory/dind/c1/memory.max_usage_in_bytes", "3817472"},
                 {"/sys/fs/cgroup/memory/dind/c1/memory.limit_in_bytes", "9223372036854771712"},
                 {"/sys/fs/cgroup/memory/dind/c1/memory.stat", "cache 4096\nrss 53248"},
                 {"/sys/fs/cgroup/pids/dind/c1/pids.current", "3"},
                 {"/sys/fs/cgroup/pids/dind/c1/pids.max", "max"},
                 {"/sys/fs/cgroup/blkio/dind/c1/blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\n8:0 Write 0\nTotal 4096"},
                 {"/proc/42/net/dev", kNetDev}});
  auto j = sample_stats(s);
  CHECK(j["cpu_stats"]["cpu_usage"]["total_usage"] == 31463040);
  CHECK(j["cpu_stats"]["cpu_usage"]["percpu_usage"].size() == 2);
  CHECK(j["cpu_stats"]["cpu_usage"]["usage_in_usermode"] == 10000000);
  CHECK(j["cpu_stats"]["system_cpu_usage"] == 10000000000ull);
  CHECK(j["cpu_stats"]["throttling_data"]["throttled_time"] == 99);
  CHECK(j["memory_stats"]["limit"] == 1000000);  // the host's, not v1's "unlimited"
  CHECK(j["memory_stats"]["stats"]["rss"] == 53248);
  CHECK(j["pids_stats"] == nlohmann::json{{"current", 3}});
  REQUIRE(j["blkio_stats"]["io_service_bytes_recursive"].size() == 2);
  CHECK(j["blkio_stats"]["io_service_bytes_recursive"][0]["op"] == "Read");
  CHECK(j["networks"].size() == 1);
  CHECK(j["networks"]["eth0"]["rx_bytes"] == 1224);
  CHECK(j["networks"]["eth0"]["tx_dropped"] == 5);
}

TEST_CASE("a cgroup v2 sample and dockerd's message around it", "[engine][stats]") {
  auto s = fake({{"/sys/fs/cgroup/cgroup.controllers", "cpu memory pids io"},
                 {"/proc/stat", "cpu  1 1 1 1 0 0 0 0"},
                 {"/sys/fs/cgroup/dind/c1/cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 0"},
                 {"/sys/fs/cgroup/dind/c1/memory.current", "2048"},
                 {"/sys/fs/cgroup/dind/c1/memory.max", "4096"},
                 {"/sys/fs/cgroup/dind/c1/memory.stat", "anon 1024"},
                 {"/sys/fs/cgroup/dind/c1/pids.current", "1"},
                 {"/sys/fs/cgroup/dind/c1/pids.max", "100"},
                 {"/sys/fs/cgroup/dind/c1/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0"}});
  s.pid = 0;
  auto j = sample_stats(s);
  CHECK(j["cpu_stats"]["cpu_usage"]["total_usage"] == 5000);
  CHECK_FALSE(j["cpu_stats"]["cpu_usage"].contains("percpu_usage"));
  CHECK(j["memory_stats"]["limit"] == 4096);
  CHECK(j["pids_stats"]["limit"] == 100);
  CHECK(j["blkio_stats"]["io_service_bytes_recursive"][1]["value"] == 20);
  CHECK_FALSE(j.contains("networks"));
  auto m = stats_message(j, "now", nullptr, "0001-01-01T00:00:00Z", "/web", "c1");
  CHECK(m["precpu_stats"]["cpu_usage"]["total_usage"] == 0);
  CHECK(m["num_procs"] == 0);
  auto next = stats_message(j, "later", j, "now", "/web", "c1");
  CHECK(next["precpu_stats"] == j["cpu_stats"]);
  auto stopped = stats_message(nullptr, "0001-01-01T00:00:00Z", nullptr, "0001-01-01T00:00:00Z", "/web", "c1");
  CHECK(stopped["memory_stats"].empty());
}
