// Exec: the OCI process planned for `runc exec` from the container's own
// process, the capability tables, and the shim's command encodings.

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "dind/runtime/nsexec.hpp"

#include "dind/runtime/shim.hpp"
#include "dind/runtime/seccomp_bpf.hpp"
#include "dind/runtime/security.hpp"
#include "dind/runtime/spec.hpp"

using json = nlohmann::json;
using namespace dind;

namespace {

json container_process() {
  return json::parse(R"({
    "terminal": true, "consoleSize": {"height": 10, "width": 20},
    "user": {"uid": 0, "gid": 0}, "args": ["sleep", "1000"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=abc", "TERM=xterm", "BASE=1"],
    "cwd": "/srv", "noNewPrivileges": true, "apparmorProfile": "docker-default",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "oomScoreAdj": 5})");
}

const dind::model::Config kConfig = [] {
  dind::model::Config c;
  c.hostname = "abc";
  c.env = {"BASE=1", "KEEP=k"};
  c.tty = true;
  return c;
}();

}  // namespace

TEST_CASE("an exec's process is the container's with the exec's settings on top", "[runtime][exec]") {
  runtime::ExecInput in;
  in.args = {"sh", "-c", "id"};
  in.env = {"BASE=2", "NEW=n", "UNSET"};
  in.user = {1000, 1000, {2000}};
  const json p = runtime::plan_exec_process(container_process(), kConfig, in);
  CHECK(p["args"] == json({"sh", "-c", "id"}));
  // Defaults, then the container's Env, then the exec's (which wins); no
  // TERM without an exec TTY; names without a value are dropped.
  CHECK(p["env"] == json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "HOSTNAME=abc", "BASE=2", "KEEP=k", "NEW=n"}));
  CHECK(p["terminal"] == false);
  CHECK_FALSE(p.contains("consoleSize"));
  CHECK(p["user"] == json::parse(R"({"uid": 1000, "gid": 1000, "additionalGids": [2000]})"));
  CHECK(p["cwd"] == "/srv");
  // The container's confinement stays.
  CHECK(p["noNewPrivileges"] == true);
  CHECK(p["apparmorProfile"] == "docker-default");
  CHECK(p["capabilities"]["effective"] == json({"CAP_KILL"}));
  CHECK(p["rlimits"] == container_process()["rlimits"]);
  CHECK(p["oomScoreAdj"] == 5);
}

TEST_CASE("an exec TTY, size, workdir and privileged", "[runtime][exec]") {
  runtime::ExecInput in;
  in.args = {"sh"};
  in.tty = true;
  in.rows = 33;
  in.cols = 111;
  in.working_dir = "/tmp";
  in.privileged = true;
  in.privileged_caps = {"CAP_CHOWN", "CAP_SYS_ADMIN"};
  const json p = runtime::plan_exec_process(container_process(), kConfig, in);
  CHECK(p["terminal"] == true);
  CHECK(p["consoleSize"] == json::parse(R"({"height": 33, "width": 111})"));
  CHECK(std::count(p["env"].begin(), p["env"].end(), "TERM=xterm") == 1);
  CHECK(p["cwd"] == "/tmp");
  for (const char* set : {"bounding", "effective", "permitted"}) {
    CHECK(p["capabilities"][set] == json({"CAP_CHOWN", "CAP_SYS_ADMIN"}));
  }
  // A TTY without a size sets none.
  in.rows = 0;
  CHECK_FALSE(runtime::plan_exec_process(container_process(), kConfig, in).contains("consoleSize"));
  // A process without a cwd gets "/".
  json bare = container_process();
  bare.erase("cwd");
  in.working_dir.clear();
  CHECK(runtime::plan_exec_process(bare, kConfig, in)["cwd"] == "/");
}

TEST_CASE("capability names from masks and validation", "[runtime][exec]") {
  CHECK(runtime::capability_names(0).empty());
  CHECK(runtime::capability_names(0x1) == std::vector<std::string>{"CAP_CHOWN"});
  CHECK(runtime::capability_names((1ull << 21) | (1ull << 40)) ==
        std::vector<std::string>{"CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"});
  CHECK(runtime::capability_names(1ull << 63).empty());  // unknown bits are left out
  CHECK(runtime::capability_names(0x1ffffffffffull).size() == 41);
  for (const char* ok : {"NET_ADMIN", "cap_net_admin", "CAP_SYS_ADMIN", "all", "ALL"}) {
    CHECK(runtime::known_capability(ok));
  }
  for (const char* bad : {"", "CAP_", "NET_ADMINX", "CAP_NOPE", "sys admin"}) {
    CHECK_FALSE(runtime::known_capability(bad));
  }
}

TEST_CASE("an OCI seccomp profile compiles to a filter the kernel enforces", "[runtime][exec]") {
  const json profile = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
    "syscalls": [
      {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
    ]})");
  auto bpf = runtime::compile_seccomp(profile);
  REQUIRE(bpf.ok());
  REQUIRE(bpf->size() % 8 == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    sock_fprog prog{static_cast<unsigned short>(bpf->size() / 8),
                    reinterpret_cast<sock_filter*>(bpf->data())};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
      ::_exit(10);
    }
    const bool blocked = ::mkdir("/tmp/dind-seccomp-test-never", 0700) != 0 && errno == EACCES;
    const bool allowed = ::getpid() > 0 && ::personality(0xffffffff) >= 0;
    const bool arg_rule = ::personality(8) < 0 && errno == EPERM;
    ::_exit(blocked && allowed && arg_rule ? 0 : 11);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Bad input: errors, not crashes.
  CHECK_FALSE(runtime::compile_seccomp(json::parse(R"({"defaultAction": "SCMP_ACT_NOPE"})")).ok());
  CHECK_FALSE(runtime::compile_seccomp(json::parse(
                  R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                      "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_BOGUS"}]}]})"))
                  .ok());
  CHECK_FALSE(runtime::compile_seccomp(json::array()).ok());
}

TEST_CASE("native exec covers the process or hands it to runc", "[runtime][exec]") {
  using dind::runtime::natively_supported;
  const nlohmann::json ours = {
      {"terminal", true}, {"consoleSize", {{"height", 24}, {"width", 80}}},
      {"user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {10}}}}, {"args", {"sh"}}, {"env", {"A=1"}},
      {"cwd", "/"}, {"capabilities", {{"bounding", {"CAP_KILL"}}}}, {"rlimits", nlohmann::json::array()},
      {"noNewPrivileges", true}, {"oomScoreAdj", 5}};
  CHECK(natively_supported(ours));
  for (const char* field : {"scheduler", "ioPriority", "execCPUAffinity", "commandLine"}) {
    INFO(field);
    auto p = ours;
    p[field] = nlohmann::json::object();
    auto r = natively_supported(p);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == dind::base::ErrorKind::kUnimplemented);
    CHECK(r.error().message == std::string("process.") + field);
  }
  auto umask = ours;
  umask["user"]["umask"] = 18;
  CHECK(natively_supported(umask).error().message == "process.user.umask");
  auto labelled = ours;
  labelled["apparmorProfile"] = "docker-default";
  CHECK(natively_supported(labelled).error().kind == dind::base::ErrorKind::kUnimplemented);
  CHECK(natively_supported(nlohmann::json::array()).error().kind == dind::base::ErrorKind::kInvalidArgument);
}
