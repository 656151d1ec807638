// Resource limits and security options: dockerd's checks and messages, the
// defaults it fills in, and the OCI objects they become.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dind/runtime/resources.hpp"
#include "dind/runtime/security.hpp"
#include "support/model_fixtures.hpp"

using json = nlohmann::json;
using namespace dind;
using dind::testing::host_config_of;

namespace {

runtime::HostFacts host() {
  runtime::HostFacts h;
  h.ncpus = 2;
  h.cpus_online = "0-1";
  h.mems_online = "0";
  h.nofile_hard = 20000;
  h.rlimit_hard = {{"nofile", 20000}, {"nproc", 96365}};
  h.bounding_caps = {"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"};  // no CAP_SYS_RESOURCE
  return h;
}

// Decoded as the API does, then settled: either step may refuse.
base::Result<model::HostConfig> settle(const char* text, bool update) {
  auto hc = model::decode_host_config(json::parse(text));
  if (!hc) {
    return std::move(hc).error();
  }
  return runtime::settle_resources(std::move(*hc), host(), update);
}

}  // namespace

TEST_CASE("resources: dockerd's defaults and the OCI object", "[runtime][resources]") {
  auto hc = runtime::settle_resources(host_config_of(R"({"Memory": 33554432, "NanoCpus": 500000000, "CpuShares": 512,
                      "CpusetCpus": "0", "PidsLimit": 50, "MemoryReservation": 16777216,
                      "OomKillDisable": true, "MemorySwappiness": 10})"),
      host(), false);
  REQUIRE(hc.ok());
  CHECK(hc->resources.memory_swap == 2 * 33554432);
  const json r = runtime::oci_resources(hc->resources, host());
  CHECK(r["memory"] == json::parse(R"({"limit": 33554432, "swap": 67108864,
      "reservation": 16777216, "swappiness": 10, "disableOOMKiller": true})"));
  CHECK(r["cpu"] == json::parse(R"({"shares": 512, "period": 100000, "quota": 50000, "cpus": "0"})"));
  CHECK(r["pids"] == json::parse(R"({"limit": 50})"));
  // No swap accounting: unlimited swap, none in the spec.
  auto h = host();
  h.swap_limit = false;
  auto no_swap = runtime::settle_resources(host_config_of(R"({"Memory": 33554432})"), h, false);
  CHECK(no_swap->resources.memory_swap == -1);
  CHECK_FALSE(runtime::oci_resources(no_swap->resources, h)["memory"].contains("swap"));
  // Nothing set: nothing in the spec; a negative pids limit means none.
  CHECK(runtime::oci_resources(model::Resources{}, host()).empty());
  CHECK((runtime::settle_resources(host_config_of(R"({"PidsLimit": -1})"), host(), false))->resources.pids_limit == 0);
  // An unsupported blkio weight: dockerd's warning, and dropped.
  h.blkio_weight = false;
  std::vector<std::string> warnings;
  auto w = runtime::settle_resources(host_config_of(R"({"BlkioWeight": 300})"), h, false, &warnings);
  CHECK(w->resources.blkio_weight == 0);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("Block I/O weight") != std::string::npos);
}

TEST_CASE("resources: bad values get dockerd's messages", "[runtime][resources]") {
  struct Bad {
    const char* hc;
    const char* message;
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {R"({"Memory": 1048576})", "Minimum memory limit allowed is 6MB"},
           {R"({"Memory": 16777216, "MemorySwap": 8388608})",
            "Minimum memoryswap limit should be larger than memory limit, see usage"},
           {R"({"MemorySwap": 8388608})",
            "You should always set the Memory limit when using Memoryswap limit, see usage"},
           {R"({"MemoryReservation": 1024})", "Minimum memory reservation allowed is 6MB"},
           {R"({"Memory": 16777216, "MemoryReservation": 33554432})",
            "Minimum memory limit can not be less than memory reservation limit, see usage"},
           {R"({"MemorySwappiness": 101})", "Invalid value: 101, valid memory swappiness range is 0-100"},
           {R"({"NanoCpus": 3000000000})",
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
           {R"({"NanoCpus": 1000000000, "CpuPeriod": 100000})",
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
           {R"({"NanoCpus": 1000000000, "CpuQuota": 50000})",
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
           {R"({"CpuPeriod": 10})",
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
           {R"({"CpuQuota": 10})", "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
           {R"({"CpusetCpus": "5"})", "Requested CPUs are not available - requested 5, available: 0-1"},
           {R"({"CpusetCpus": "1-0"})", "Invalid value 1-0 for cpuset cpus"},
           {R"({"CpusetCpus": "a"})", "Invalid value a for cpuset cpus"},
           {R"({"CpusetMems": "3"})", "Requested memory nodes are not available - requested 3, available: 0"},
           {R"({"BlkioWeight": 5})", "Range of blkio weight is from 10 to 1000"},
           {R"({"OomScoreAdj": 1001})", "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
           {R"({"Memory": "1g"})", nullptr},
           {R"({"Memory": -5})", nullptr},
           {R"({"Ulimits": {}})", nullptr},
           {R"({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]})", "invalid ulimit type: bogus"},
           {R"({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]})",
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"},
           {R"({"Ulimits": [{"Name": 5}]})", nullptr},
           {R"({"CpuRealtimeRuntime": 950000})", nullptr},
           {R"({"BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1}]})", nullptr}}) {
    INFO(b.hc);
    auto r = settle(b.hc, false);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == base::ErrorKind::kInvalidArgument);
    if (b.message != nullptr) {
      CHECK(r.error().message == b.message);
    }
  }
  // On update, swap without memory is fine (the container has a limit).
  CHECK(settle(R"({"MemorySwap": 8388608})", true).ok());
}

TEST_CASE("rlimits: the host's nofile by default, ulimits on top, capped without CAP_SYS_RESOURCE",
          "[runtime][resources]") {
  auto r = runtime::oci_rlimits(model::Resources{}, host());
  CHECK(*r == json::parse(R"([{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}])"));
  r = runtime::oci_rlimits(host_config_of(R"({"Ulimits": [{"Name": "nproc", "Soft": 100, "Hard": 200},
                                  {"Name": "nofile", "Soft": 256, "Hard": 512}]})").resources,
      host());
  CHECK(*r == json::parse(R"([{"type": "RLIMIT_NPROC", "hard": 200, "soft": 100},
                              {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}])"));
  r = runtime::oci_rlimits(host_config_of(R"({"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 40000}]})").resources,
                           host());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("CAP_SYS_RESOURCE") != std::string::npos);
  auto h = host();
  h.bounding_caps.push_back("CAP_SYS_RESOURCE");
  CHECK(runtime::oci_rlimits(host_config_of(R"({"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 40000}]})").resources,
                             h)
            .ok());
}

TEST_CASE("cpu lists", "[runtime][resources]") {
  CHECK(*runtime::parse_cpu_list("0") == std::set<int>{0});
  CHECK(*runtime::parse_cpu_list("0-2,5") == std::set<int>{0, 1, 2, 5});
  for (const char* bad : {"", ",", "1-", "-1", "2-1", "x", "1,,2", "99999"}) {
    INFO(bad);
    CHECK_FALSE(runtime::parse_cpu_list(bad).has_value());
  }
}

TEST_CASE("security options with dockerd's messages", "[runtime][security]") {
  auto parse = [](const char* text) -> base::Result<runtime::SecurityOptions> {
    auto hc = model::decode_host_config(json::parse(text));
    if (!hc) {
      return std::move(hc).error();
    }
    return runtime::parse_security_opts(*hc);
  };
  CHECK(parse(R"({"SecurityOpt": ["no-new-privileges"]})")->no_new_privileges);
  CHECK(parse(R"({"SecurityOpt": ["no-new-privileges=true"]})")->no_new_privileges);
  CHECK_FALSE(parse(R"({"SecurityOpt": ["no-new-privileges:false"]})")->no_new_privileges);
  CHECK(parse(R"({"SecurityOpt": ["seccomp=unconfined"]})")->seccomp_unconfined);
  CHECK(parse(R"({"SecurityOpt": ["apparmor=unconfined", "label=disable", "label:type:x"]})").ok());
  auto custom = parse(R"({"SecurityOpt": ["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]})");
  REQUIRE(custom.ok());
  CHECK((*custom->seccomp_profile)["defaultAction"] == "SCMP_ACT_ALLOW");
  struct Bad {
    const char* hc;
    const char* message;
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {R"({"SecurityOpt": ["foo"]})", "invalid --security-opt 1: \"foo\""},
           {R"({"SecurityOpt": ["bar=1"]})", "invalid --security-opt 2: \"bar=1\""},
           {R"({"SecurityOpt": ["no-new-privileges=maybe"]})",
            "invalid --security-opt 2: \"no-new-privileges=maybe\""},
           {R"({"SecurityOpt": ["seccomp={not json"]})", "Decoding seccomp profile failed: invalid JSON"},
           {R"({"SecurityOpt": ["seccomp={\"syscalls\": 5}"]})", nullptr},
           {R"({"SecurityOpt": [5]})", nullptr},
           {R"({"SecurityOpt": "no-new-privileges"})", nullptr}}) {
    INFO(b.hc);
    auto r = parse(b.hc);
    REQUIRE_FALSE(r.ok());
    if (b.message != nullptr) {
      CHECK(r.error().message == b.message);
    }
  }
  CHECK(runtime::check_caps_and_sysctls(host_config_of(R"({"CapAdd": ["net_admin", "ALL"], "CapDrop": ["CAP_CHOWN"],
      "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "2"}})"), false)
            .ok());
  CHECK(runtime::check_caps_and_sysctls(host_config_of(R"({"CapAdd": ["NOPE"]})"), false).error().message ==
        "invalid CapAdd: unknown capability: \"CAP_NOPE\"");
  CHECK(runtime::check_caps_and_sysctls(host_config_of(R"({"Sysctls": {"kernel.hostname": "x"}})"), false)
            .error()
            .message == "sysctl 'kernel.hostname' is not allowed");
  CHECK(runtime::check_caps_and_sysctls(host_config_of(R"({"Sysctls": {"net.ipv4.ip_forward": "1"}})"), true)
            .error()
            .message == "sysctl 'net.ipv4.ip_forward' is not allowed in host network namespace");
  // Capabilities: privileged gets the bounding set; ALL adds it.
  const std::vector<std::string> bounding = {"CAP_CHOWN", "CAP_SYS_ADMIN"};
  CHECK(runtime::container_capabilities(host_config_of(R"({"Privileged": true})"), bounding) == bounding);
  auto all = runtime::container_capabilities(host_config_of(R"({"CapDrop": ["ALL"], "CapAdd": ["ALL"]})"), bounding);
  CHECK(all == bounding);
  auto dropped = runtime::container_capabilities(host_config_of(R"({"CapDrop": ["chown"]})"), bounding);
  CHECK(std::find(dropped.begin(), dropped.end(), "CAP_CHOWN") == dropped.end());
  CHECK(dropped.size() == runtime::default_capabilities().size() - 1);
}
