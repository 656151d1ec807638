#include <catch2/catch.hpp>

#include "dind/base/fs.hpp"
#include "netsetup/addr.hpp"
#include "netsetup/ipam.hpp"
#include "netsetup/pools.hpp"
#include "tree_snapshot.hpp"

using namespace netsetup;
using dind::base::ErrorKind;

namespace {
Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
Ipv4Prefix pfx(const char* s) {
  return *Ipv4Prefix::parse(s);
}
}  // namespace

TEST_CASE("IPv4 and CIDR parsing refuses anything ambiguous", "[netsetup][addr]") {
  CHECK(ip("172.17.0.1").to_string() == "172.17.0.1");
  CHECK(ip("0.0.0.0").value == 0);
  CHECK(ip("255.255.255.255").value == 0xffffffff);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                          "a.b.c.d", "1..2.3", "1.2.3.-4", "1234.1.1.1"}) {
    INFO(bad);
    CHECK_FALSE(Ipv4::parse(bad).has_value());
  }
  auto p = pfx("10.1.2.3/24");
  CHECK(p.network().to_string() == "10.1.2.0");
  CHECK(p.broadcast().to_string() == "10.1.2.255");
  CHECK(p.canonical().to_string() == "10.1.2.0/24");
  CHECK(p.contains(ip("10.1.2.200")));
  CHECK_FALSE(p.contains(ip("10.1.3.1")));
  CHECK(pfx("0.0.0.0/0").contains(ip("8.8.8.8")));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
                          "/8", "10.0.0/8", "10.0.0.0/008"}) {
    INFO(bad);
    CHECK_FALSE(Ipv4Prefix::parse(bad).ok());
  }
}

TEST_CASE("overlap checks", "[netsetup][addr]") {
  CHECK(pfx("172.17.0.0/16").overlaps(pfx("172.17.5.0/24")));
  CHECK(pfx("172.17.5.0/24").overlaps(pfx("172.17.0.0/16")));
  CHECK_FALSE(pfx("172.17.0.0/16").overlaps(pfx("172.18.0.0/16")));
  CHECK(pfx("172.16.0.0/12").overlaps(pfx("172.31.255.0/24")));
  CHECK(pfx("0.0.0.0/0").overlaps(pfx("10.0.0.0/8")));
}

TEST_CASE("MACs", "[netsetup][addr]") {
  CHECK(mac_from_ip(ip("172.17.0.2")).to_string() == "02:42:ac:11:00:02");
  CHECK(Mac::parse("02:42:ac:11:00:02")->to_string() == "02:42:ac:11:00:02");
  for (const char* bad :
       {"", "02:42:ac:11:00", "02-42-ac-11-00-02", "zz:42:ac:11:00:02", "02:42:ac:11:00:022"}) {
    CHECK_FALSE(Mac::parse(bad).has_value());
  }
  for (int i = 0; i < 50; ++i) {
    Mac m = random_mac();
    CHECK((m.bytes[0] & 0x01) == 0);  // unicast
    CHECK((m.bytes[0] & 0x02) == 2);  // locally administered
  }
}

TEST_CASE("subnet choice skips our networks and host routes", "[netsetup][pools]") {
  auto pools = default_pools();
  CHECK(choose_subnet(pools, {}, {})->to_string() == "172.17.0.0/16");
  CHECK(choose_subnet(pools, {pfx("172.17.0.0/16")}, {})->to_string() == "172.18.0.0/16");
  // A VPC route over 172.16/12 pushes everything to 192.168.x/20.
  CHECK(choose_subnet(pools, {}, {pfx("172.16.0.0/12")})->to_string() == "192.168.0.0/20");
  CHECK(choose_subnet(pools, {pfx("192.168.0.0/20")}, {pfx("172.16.0.0/12")})->to_string() ==
        "192.168.16.0/20");
  auto none = choose_subnet({PoolSpec{pfx("10.0.0.0/24"), 25}},
                            {pfx("10.0.0.0/25"), pfx("10.0.0.128/25")}, {});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("fully subnetted") != std::string::npos);
}

TEST_CASE("address pools, --bip and gateways", "[netsetup][pools]") {
  auto p = parse_pool("base=10.10.0.0/16,size=24");
  REQUIRE(p.ok());
  CHECK(p->size == 24);
  CHECK(choose_subnet({*p}, {}, {})->to_string() == "10.10.0.0/24");
  for (const char* bad :
       {"", "base=10.0.0.0/16", "size=24", "base=10.0.0.0/16,size=8", "base=x,size=24",
        "base=10.0.0.0/16,size=31", "base=10.0.0.0/16,size=24,extra=1", "10.0.0.0/16"}) {
    INFO(bad);
    CHECK_FALSE(parse_pool(bad).ok());
  }
  auto bip = parse_bip("172.30.0.1/16");
  REQUIRE(bip.ok());
  CHECK(bip->subnet.to_string() == "172.30.0.0/16");
  CHECK(bip->gateway.to_string() == "172.30.0.1");
  CHECK(plan_bridge_address(pfx("10.5.0.0/24"), {})->gateway.to_string() == "10.5.0.1");
  struct Row {
    const char* subnet;
    const char* gw;
    const char* needle;
  };
  for (auto r : {Row{"10.5.0.0/24", "10.6.0.1", "not in subnet"},
                 Row{"10.5.0.0/24", "10.5.0.0", "network or broadcast"},
                 Row{"10.5.0.0/24", "10.5.0.255", "network or broadcast"},
                 Row{"10.5.0.0/31", "10.5.0.1", "too small"}}) {
    auto res = plan_bridge_address(pfx(r.subnet), ip(r.gw));
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message.find(r.needle) != std::string::npos);
  }
  CHECK_FALSE(parse_bip("172.30.0.0/16").ok());  // the network address as gateway
}

TEST_CASE("route prefixes come from /proc/net/route", "[netsetup][pools]") {
  const char* table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
      "wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
  auto r = parse_route_prefixes(table);
  REQUIRE(r.size() == 2);
  CHECK(r[0].to_string() == "172.17.0.0/16");
  CHECK(r[1].to_string() == "10.0.0.0/8");
}

TEST_CASE("IPAM allocates sequentially, honours static requests, refuses clearly",
          "[netsetup][ipam]") {
  Ipam ipam;
  REQUIRE(ipam.add_network("n1", pfx("10.9.0.0/29"), ip("10.9.0.1")).ok());
  CHECK(ipam.add_network("n1", pfx("10.8.0.0/24"), ip("10.8.0.1")).error().kind ==
        ErrorKind::kAlreadyExists);
  CHECK(ipam.add_network("n2", pfx("10.9.0.0/16"), ip("10.9.0.1")).error().kind ==
        ErrorKind::kConflict);
  CHECK(ipam.allocate("n1")->to_string() == "10.9.0.2");
  CHECK(ipam.allocate("n1")->to_string() == "10.9.0.3");
  CHECK(ipam.allocate("n1", ip("10.9.0.6"))->to_string() == "10.9.0.6");
  CHECK(ipam.allocate("n1", ip("10.9.0.6")).error().kind == ErrorKind::kConflict);
  CHECK(ipam.allocate("n1", ip("10.9.0.1")).error().kind ==
        ErrorKind::kInvalidArgument);  // gateway
  CHECK(ipam.allocate("n1", ip("10.9.0.7")).error().kind ==
        ErrorKind::kInvalidArgument);  // broadcast
  CHECK(ipam.allocate("n1", ip("10.9.1.2")).error().kind == ErrorKind::kInvalidArgument);
  CHECK(ipam.allocate("nope").error().kind == ErrorKind::kNotFound);
  REQUIRE(ipam.release("n1", ip("10.9.0.2")).ok());
  // Sequential after the last one handed out: .4, .5, then wraps to .2.
  CHECK(ipam.allocate("n1")->to_string() == "10.9.0.4");
  CHECK(ipam.allocate("n1")->to_string() == "10.9.0.5");
  CHECK(ipam.allocate("n1")->to_string() == "10.9.0.2");
  auto full = ipam.allocate("n1");
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().message.find("no available IPv4 addresses") != std::string::npos);
  CHECK(ipam.release("n1", ip("10.9.0.200")).error().kind == ErrorKind::kNotFound);
}

TEST_CASE("IPAM state survives a restart and refuses corrupt files", "[netsetup][ipam]") {
  dind::base::TempDir tmp;
  const auto file = tmp.path() / "ipam.json";
  {
    auto ipam = Ipam::load(file);
    REQUIRE(ipam.ok());
    REQUIRE(ipam->add_network("bridge", pfx("172.17.0.0/16"), ip("172.17.0.1")).ok());
    REQUIRE(ipam->allocate("bridge").ok());
    REQUIRE(ipam->allocate("bridge").ok());
    REQUIRE(ipam->save(file).ok());
  }
  CHECK(testsupport::mode_of(file) == 0600);
  auto again = Ipam::load(file);
  REQUIRE(again.ok());
  CHECK(again->allocated("bridge") == 2);
  CHECK(again->allocate("bridge")->to_string() == "172.17.0.4");  // no duplicate after restart
  for (const char* bad :
       {"", "{", "[]", "{\"version\":2,\"networks\":{}}",
        "{\"version\":1,\"networks\":{\"a\":{\"subnet\":\"x\",\"gateway\":\"1.1.1.1\","
        "\"allocated\":[]}}}",
        "{\"version\":1,\"networks\":{\"a\":{\"subnet\":\"10.0.0.0/"
        "24\",\"gateway\":\"10.0.0.1\",\"allocated\":[\"10.0.1.5\"]}}}",
        "{\"version\":1,\"networks\":{\"a\":{\"subnet\":\"10.0.0.0/"
        "24\",\"gateway\":\"10.0.0.1\",\"allocated\":[\"10.0.0.5\",\"10.0.0.5\"]}}}"}) {
    INFO(bad);
    testsupport::write_text(file, bad);
    auto r = Ipam::load(file);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kDataLoss);
  }
}

TEST_CASE("IPv6 addresses and prefixes", "[netsetup][addr]") {
  using netsetup::Ipv6;
  using netsetup::Ipv6Prefix;
  CHECK(Ipv6::parse("fd00:1::2")->to_string() == "fd00:1::2");
  CHECK(Ipv6::parse("FD00:0001:0000::0002")->to_string() == "fd00:1::2");
  for (const char* bad : {"", "fd00", "1.2.3.4", "::ffff:1.2.3.4", "fe80::1%eth0", "fd00::zz", "1:2:3:4:5:6:7:8:9"}) {
    INFO(bad);
    CHECK_FALSE(Ipv6::parse(bad));
  }
  auto p = Ipv6Prefix::parse("fd00:1::5/64");
  REQUIRE(p.ok());
  CHECK(p->canonical().to_string() == "fd00:1::/64");
  CHECK(p->host(1).to_string() == "fd00:1::1");
  CHECK(p->host(0x1ff).to_string() == "fd00:1::1ff");
  CHECK(p->contains(*Ipv6::parse("fd00:1::ffff:1")));
  CHECK_FALSE(p->contains(*Ipv6::parse("fd00:2::1")));
  CHECK(p->overlaps(*Ipv6Prefix::parse("fd00:1:0:0:8000::/65")));
  CHECK_FALSE(p->overlaps(*Ipv6Prefix::parse("fd00:1:0:1::/64")));
  CHECK(Ipv6Prefix::parse("fd00:0:0:7::/61")->canonical().to_string() == "fd00::/61");
  for (const char* bad : {"fd00::/129", "fd00::", "fd00::/-1", "fd00::/6x", "10.0.0.0/8", "fd00::/0064"}) {
    INFO(bad);
    CHECK_FALSE(Ipv6Prefix::parse(bad).ok());
  }
}
