#include <catch2/catch.hpp>

#include "dind/base/fs.hpp"
#include "netsetup/uplink.hpp"
#include "tree_snapshot.hpp"

using namespace netsetup;
namespace fs = std::filesystem;

namespace {
const char* kHeader =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
}

TEST_CASE("the default route with the lowest metric wins", "[netsetup][uplink]") {
  std::string table = std::string(kHeader) +
                      "eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
                      "eth0\t00000000\t010011AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
  auto iface = default_route_interface(table);
  REQUIRE(iface.ok());
  CHECK(*iface == "eth0");
}

TEST_CASE("no default route, or garbage, is kNotFound", "[netsetup][uplink]") {
  for (std::string t : {std::string(kHeader), std::string(""), std::string("garbage\n\x01\x02")}) {
    auto r = default_route_interface(t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == dind::base::ErrorKind::kNotFound);
  }
}

TEST_CASE("detect_uplink reads the MTU from sysfs", "[netsetup][uplink]") {
  dind::base::TempDir tmp;
  fs::create_directories(tmp.path() / "proc/net");
  fs::create_directories(tmp.path() / "sys/class/net/ens3");
  testsupport::write_text(
      tmp.path() / "proc/net/route",
      std::string(kHeader) + "ens3\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
  testsupport::write_text(tmp.path() / "sys/class/net/ens3/mtu", "1400\n");
  auto up = detect_uplink(tmp.path() / "proc", tmp.path() / "sys");
  REQUIRE(up.ok());
  CHECK(up->name == "ens3");
  CHECK(up->mtu == 1400);
  testsupport::write_text(tmp.path() / "sys/class/net/ens3/mtu", "12\n");
  CHECK_FALSE(detect_uplink(tmp.path() / "proc", tmp.path() / "sys").ok());
}
