// The OCI spec planner: golden config.json files for create requests as the
// docker CLI sends them, plus the pieces (args, env, user, seccomp).

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dind/engine/container_config.hpp"
#include "dind/runtime/spec.hpp"
#include "engine/start_plan.hpp"
#include "golden.hpp"
#include "support/model_fixtures.hpp"

using json = nlohmann::json;
using namespace dind;
using dind::testing::config_of;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n";
const char* kGroup =
    "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,root\ndocker:x:999:app\n";

// A small Docker-style profile template: default errno, an arch map, an
// unconditional allow list, a capability-gated rule and an arch-gated rule.
json seccomp_template() {
  return json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW", "args": [], "includes": {}, "excludes": {}},
      {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
      {"names": ["mount", "umount2"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
    ]})");
}

const char* kImageConfig = R"({
  "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
  "Cmd": ["/bin/sh"], "WorkingDir": "", "Labels": {"from": "image"}})";

struct Case {
  const char* name;
  const char* request;  // the /containers/create body (Config + HostConfig)
  const char* image = kImageConfig;
  bool host_network = false;
};

// The settled spec for one request, as the engine would plan it.
json plan(const Case& c) {
  auto request = model::decode_create_request(json::parse(c.request));
  REQUIRE(request.ok());
  const model::HostConfig& hc = request->host_config;
  const std::string id = "4c1d" + std::string(60, 'a');
  const model::Config config = engine::merge_config(request->config, config_of(c.image), id);
  auto specs = engine::parse_mounts(config, hc);
  REQUIRE(specs.ok());
  int anonymous = 0;
  for (auto& m : *specs) {  // the engine names anonymous volumes at create
    if (m.type == engine::MountSpec::Type::kVolume && m.source.empty()) {
      m.source = "anonymous" + std::to_string(anonymous++);
    }
  }
  // What the engine's start plan does with it (start_plan.hpp), the
  // executor's reads given as facts.
  engine::StartFacts f;
  f.id = id;
  f.config = config;
  f.host_config = hc;
  f.network_mode = c.host_network ? "host" : "bridge";
  f.mounts = *specs;
  f.rootfs = "/var/lib/dind/image/overlay2/mounts/" + id + "/merged";
  f.container_dir = "/var/lib/dind/containers/" + id;
  f.passwd = kPasswd;
  f.group = kGroup;
  f.seccomp = seccomp_template();
  f.host.nofile_hard = 524288;
  f.host.thermal_throttle_paths = {"/sys/devices/system/cpu/cpu0/thermal_throttle"};
  f.volume_dir = [](const std::string& v) { return "/var/lib/dind/volumes/" + v + "/_data"; };
  auto planned = engine::plan_start(f);
  REQUIRE(planned.ok());
  return planned->spec;
}

const Case kCases[] = {
    {"run_echo",
     R"({"Cmd":["echo","hi"],"Image":"busybox","HostConfig":{"NetworkMode":"default"}})"},
    {"image_cmd", R"({"Image":"busybox","HostConfig":{}})"},
    {"entrypoint_drops_image_cmd", R"({"Entrypoint":["/bin/echo"],"Image":"busybox"})"},
    {"entrypoint_and_cmd",
     R"({"Entrypoint":["/bin/sh","-c"],"Cmd":["echo $0"],"Image":"busybox"})"},
    {"env_override_and_add",
     R"({"Cmd":["env"],"Env":["LANG=de_DE","FOO=bar","EMPTY="],"Image":"busybox"})"},
    {"user_name", R"({"Cmd":["id"],"User":"app","Image":"busybox"})"},
    {"user_uid_gid", R"({"Cmd":["id"],"User":"4000:5000","Image":"busybox"})"},
    {"user_name_group", R"({"Cmd":["id"],"User":"nobody:wheel","Image":"busybox"})"},
    {"workdir_hostname_domain",
     R"({"Cmd":["pwd"],"WorkingDir":"/srv","Hostname":"web","Domainname":"example.org","Image":"busybox"})"},
    {"tty_console_size",
     R"({"Cmd":["sh"],"Tty":true,"OpenStdin":true,"Image":"busybox","HostConfig":{"ConsoleSize":[40,120]}})"},
    {"bind_mounts",
     R"({"Cmd":["ls"],"Image":"busybox","HostConfig":{"Binds":["/srv/data:/data","/etc/ssl:/etc/ssl:ro"]}})"},
    {"named_and_anonymous_volume",
     R"({"Cmd":["ls"],"Image":"busybox","Volumes":{"/cache":{}},"HostConfig":{"Binds":["keep:/keep"]}})"},
    {"mount_api",
     R"({"Cmd":["ls"],"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/opt","Target":"/mnt/opt","ReadOnly":true},{"Type":"tmpfs","Target":"/run/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}]}})"},
    {"tmpfs_flag",
     R"({"Cmd":["ls"],"Image":"busybox","HostConfig":{"Tmpfs":{"/scratch":"size=64m,mode=1777"}}})"},
    {"user_mount_over_default",
     R"({"Cmd":["ls"],"Image":"busybox","HostConfig":{"Binds":["/srv/shm:/dev/shm"]}})"},
    {"cap_add_drop",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"CapAdd":["NET_ADMIN","sys_ptrace"],"CapDrop":["MKNOD","CAP_NET_RAW"]}})"},
    {"cap_drop_all",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"CapDrop":["ALL"],"CapAdd":["CHOWN"]}})"},
    {"cap_sys_admin_unlocks_seccomp_rule",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"CapAdd":["SYS_ADMIN"]}})"},
    {"seccomp_unconfined",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"SecurityOpt":["seccomp=unconfined"]}})"},
    {"systempaths_from_the_request",  // --security-opt systempaths=unconfined and a list of one's own
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"MaskedPaths":[],"ReadonlyPaths":["/proc/sys"]}})"},
    {"read_only_rootfs",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"ReadonlyRootfs":true}})"},
    {"shm_size_oom_sysctls",
     R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"ShmSize":134217728,"OomScoreAdj":500,"Sysctls":{"net.core.somaxconn":"1024"}}})"},
    {"host_network", R"({"Cmd":["true"],"Image":"busybox","HostConfig":{"NetworkMode":"host"}})",
     kImageConfig, true},
    {"labels_merge",
     R"({"Cmd":["true"],"Image":"busybox","Labels":{"mine":"1","from":"request"}})"},
    {"image_workdir_user_entrypoint", R"({"Image":"app"})",
     R"({"Entrypoint":["/app/run"],"Cmd":["--serve"],"WorkingDir":"/app","User":"app","Env":["APP=1"]})"},
};

}  // namespace

TEST_CASE("OCI spec planner: golden config.json per create request", "[runtime][spec]") {
  STATIC_REQUIRE(sizeof(kCases) / sizeof(kCases[0]) >= 20);
  for (const auto& c : kCases) {
    SECTION(c.name) {
      testsupport::check_golden(std::string("spec/") + c.name + ".json", plan(c).dump(2) + "\n");
    }
  }
}

TEST_CASE("spec planner invariants hold for every golden case", "[runtime][spec]") {
  for (const auto& c : kCases) {
    INFO(c.name);
    const json s = plan(c);
    // runc 1.1 has no time namespace; never emitted.
    for (const auto& ns : s["linux"]["namespaces"]) {
      CHECK(ns["type"] != "time");
    }
    CHECK(s["process"]["env"][0].get<std::string>().rfind("PATH=", 0) == 0);
    CHECK(s["process"]["rlimits"][0]["hard"] == 524288);  // never above the host's
    // Mount destinations: parents before children, each once.
    std::set<std::string> seen;
    size_t last_depth = 0;
    for (const auto& m : s["mounts"]) {
      const std::string d = m["destination"];
      CHECK(seen.insert(d).second);
      const size_t depth = static_cast<size_t>(std::count(d.begin(), d.end(), '/'));
      CHECK(depth >= last_depth);
      last_depth = depth;
    }
  }
}

TEST_CASE("process args and env follow dockerd", "[runtime][spec]") {
  CHECK(runtime::process_args(config_of(R"({"Entrypoint":["a"],"Cmd":["b","c"]})")).value() ==
        std::vector<std::string>{"a", "b", "c"});
  auto none = runtime::process_args(config_of(R"({"Entrypoint":null,"Cmd":[]})"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message == "No command specified");
  const auto env = runtime::process_env(
      config_of(R"({"Hostname":"h","Tty":true,"Env":["PATH=/x","A=1","NOVALUE"]})"));
  CHECK(env == std::vector<std::string>{"PATH=/x", "HOSTNAME=h", "TERM=xterm", "A=1"});
}

TEST_CASE("users resolve from the image's passwd and group files", "[runtime][spec]") {
  auto u = runtime::resolve_user("app", kPasswd, kGroup);
  REQUIRE(u.ok());
  CHECK((u->uid == 1000 && u->gid == 1000));
  CHECK(u->additional_gids == std::vector<uint32_t>{10, 999});
  u = runtime::resolve_user("0", kPasswd, kGroup);
  CHECK((u->uid == 0 && u->gid == 0));
  u = runtime::resolve_user("12345", kPasswd, kGroup);  // unknown uid: gid 0, fine
  CHECK((u->uid == 12345 && u->gid == 0));
  u = runtime::resolve_user("app:docker", kPasswd, kGroup);
  CHECK((u->uid == 1000 && u->gid == 999));
  u = runtime::resolve_user("", "", "");
  CHECK((u->uid == 0 && u->gid == 0));
  auto bad = runtime::resolve_user("ghost", kPasswd, kGroup);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "unable to find user ghost: no matching entries in passwd file");
  bad = runtime::resolve_user("app:ghosts", kPasswd, kGroup);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "unable to find group ghosts: no matching entries in group file");
  // Garbage files: lines that do not parse are skipped, not fatal.
  u = runtime::resolve_user("1000", "::::\n\x01\x02:x\nbroken\n", "\n:\n");
  CHECK((u.ok() && u->uid == 1000));
}

TEST_CASE("seccomp rendering keeps the native arch and the rules the caps allow",
          "[runtime][spec]") {
  const json caps_default =
      runtime::render_seccomp(seccomp_template(), "amd64", runtime::default_capabilities());
  CHECK(caps_default["architectures"] ==
        json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  auto names = [](const json& p) {
    std::vector<std::string> out;
    for (const auto& r : p["syscalls"]) {
      for (const auto& n : r["names"]) {
        out.push_back(r["action"].get<std::string>() + ":" + n.get<std::string>());
      }
    }
    return out;
  };
  auto n = names(caps_default);
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ERRNO:mount") == 1);
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ALLOW:mount") == 0);
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ALLOW:arch_prctl") == 1);
  auto admin = runtime::default_capabilities();
  admin.push_back("CAP_SYS_ADMIN");
  n = names(runtime::render_seccomp(seccomp_template(), "arm64", admin));
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ALLOW:mount") == 1);
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ERRNO:mount") == 0);
  CHECK(std::count(n.begin(), n.end(), "SCMP_ACT_ALLOW:arch_prctl") == 0);
}
