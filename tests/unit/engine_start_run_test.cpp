// The start transaction through a fake OS seam: every call of a start can
// fail (the Nth, for each N), and after each failure nothing the attempt
// made is left (mounts, the shim's container, the namespace, endpoints).
// A successful start leaves exactly what a running container holds.

#include <catch2/catch.hpp>
#include <set>

#include "engine/start_run.hpp"

using namespace dind::engine;
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {

// Records what is live and fails the call numbered fail_at (1-based).
class FakeOs final : public StartOs {
 public:
  explicit FakeOs(int fail_at) : fail_at_(fail_at) {}
  std::set<std::string> live;
  std::vector<std::string> calls;
  bool volume_made = false;

  dind::base::Status mount_rootfs() override { return step("mount", "rootfs"); }
  void unmount_rootfs() override { live.erase("rootfs"); }
  dind::base::Status write_file(const std::string& name, const std::string&) override {
    return step("write " + name, "");
  }
  dind::base::Status create_volume(const std::string& name) override {
    auto st = step("volume " + name, "");
    volume_made = volume_made || st.ok();
    return st;
  }
  dind::base::Status ensure_bind_source(const std::string& path, bool) override { return step("bind " + path, ""); }
  dind::base::Status write_bundle(const nlohmann::json&) override { return step("bundle", ""); }
  dind::base::Result<std::pair<int, int>> spawn_shim(const dind::runtime::ShimOptions&) override {
    if (auto st = step("spawn", "shim"); !st) {
      return std::move(st).error();
    }
    return std::make_pair(100, 99);
  }
  void abort_shim() override { live.erase("shim"); }
  dind::base::Status start_shim() override {
    auto st = step("start", "");
    if (!st) {
      live.erase("shim");  // a failed runc start: the shim deleted the container itself
    }
    return st;
  }
  dind::base::Status bind_netns(int) override { return step("netns", "netns"); }
  void unbind_netns() override { live.erase("netns"); }
  dind::base::Result<netsetup::EndpointState> attach(const netsetup::AttachRequest& r) override {
    if (auto st = step("attach " + r.network, "ep:" + r.network); !st) {
      return std::move(st).error();
    }
    netsetup::EndpointState ep;
    ep.network = r.network;
    ep.ip = *netsetup::Ipv4::parse(r.network == "bridge" ? "172.17.0.2" : "172.18.0.2");
    return ep;
  }
  void detach(const std::string& network) override { live.erase("ep:" + network); }

 private:
  dind::base::Status step(const std::string& call, const std::string& makes) {
    calls.push_back(call);
    if (static_cast<int>(calls.size()) == fail_at_) {
      return make_error(ErrorKind::kInternal, "injected failure in " + call);
    }
    if (!makes.empty()) {
      live.insert(makes);
    }
    return {};
  }
  int fail_at_;
};

StartPlan plan() {
  StartPlan p;
  p.hostname = "web\n";
  p.volumes = {"data"};
  p.bind_sources = {"/srv/new"};
  p.spec = {{"linux", nlohmann::json::object()}};
  return p;
}

RunRequest request(const StartPlan& p) {
  RunRequest r;
  r.plan = &p;
  r.netns_path = "/run/x/netns";
  r.networks = {{"bridge", {}}, {"backend", {"web", "api"}}};
  r.hostname = "web";
  return r;
}

}  // namespace

TEST_CASE("a start that fails at any step leaves nothing behind", "[engine][start]") {
  const StartPlan p = plan();
  FakeOs dry(0);  // never fails: how many calls a start makes
  auto ok = run_start(dry, request(p));
  REQUIRE(ok);
  CHECK(dry.live == std::set<std::string>{"rootfs", "shim", "netns", "ep:bridge", "ep:backend"});
  CHECK(ok->init_pid == 100);
  CHECK(ok->shim_pid == 99);
  REQUIRE(ok->endpoints.size() == 2);
  CHECK(ok->endpoints[1].first == "backend");
  const size_t steps = dry.calls.size();
  REQUIRE(steps >= 12);
  for (size_t n = 1; n <= steps; ++n) {
    FakeOs os(static_cast<int>(n));
    auto r = run_start(os, request(p));
    INFO("failing call " << n << ": " << os.calls.back());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("injected failure in " + os.calls.back()) != std::string::npos);
    CHECK(os.live.empty());
    CHECK(os.calls.size() == n);  // nothing runs after the failure
  }
}

TEST_CASE("a start keeps a rootfs it did not mount, and skips the network without a namespace",
          "[engine][start]") {
  const StartPlan p = plan();
  auto r = request(p);
  r.rootfs_mounted = true;
  r.netns_path.clear();
  r.networks.clear();
  FakeOs dry(0);
  REQUIRE(run_start(dry, r));
  CHECK(dry.live == std::set<std::string>{"shim"});
  for (size_t n = 1; n <= dry.calls.size(); ++n) {
    FakeOs os(static_cast<int>(n));
    REQUIRE_FALSE(run_start(os, r));
    CHECK(os.live.empty());
  }
}
