#include <catch2/catch.hpp>
#include <filesystem>

#include "golden.hpp"
#include "netsetup/nat.hpp"

using namespace netsetup;
using testsupport::check_golden;

namespace {
Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
Ipv4Prefix pfx(const char* s) {
  return *Ipv4Prefix::parse(s);
}

}  // namespace

TEST_CASE("ruleset for two networks and published ports (golden)", "[netsetup][nat]") {
  NatPlan plan;
  plan.networks = {{"dind0", pfx("172.17.0.0/16"), false},
                   {"br-web", pfx("172.18.0.0/16"), false},
                   {"br-secret", pfx("172.19.0.0/16"), true}};
  auto range = expand_port_range(Proto::kTcp, {}, 8080, 8081, ip("172.18.0.2"), 80, 81);
  REQUIRE(range.ok());
  plan.ports = *range;
  plan.ports.push_back(PortMapping{Proto::kUdp, ip("127.0.0.1"), 5353, ip("172.17.0.3"), 53});
  auto text = render_ruleset(plan);
  REQUIRE(text.ok());
  check_golden("nat_three_networks.nft", *text);
}

TEST_CASE("an empty plan still replaces the table atomically (golden)", "[netsetup][nat]") {
  auto text = render_ruleset(NatPlan{});
  REQUIRE(text.ok());
  check_golden("nat_empty.nft", *text);
  CHECK(render_delete("dind") == "table ip dind\ndelete table ip dind\n");
}

TEST_CASE("names that could inject nft syntax are refused", "[netsetup][nat]") {
  for (const char* bad : {"", "br\"x", "br x", "br;x", "a234567890123456", "br}", "..", "br\n"}) {
    INFO(bad);
    NatPlan plan;
    plan.networks = {{bad, pfx("10.0.0.0/24"), false}};
    CHECK_FALSE(render_ruleset(plan).ok());
  }
  NatPlan bad_table;
  bad_table.table = "dind; flush ruleset";
  CHECK_FALSE(render_ruleset(bad_table).ok());
}

TEST_CASE("port ranges expand one to one", "[netsetup][nat]") {
  auto r = expand_port_range(Proto::kUdp, ip("10.0.0.1"), 5000, 5002, ip("172.17.0.2"), 6000, 6002);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[2].host_port == 5002);
  CHECK((*r)[2].container_port == 6002);
  CHECK_FALSE(expand_port_range(Proto::kTcp, {}, 80, 81, ip("1.1.1.1"), 80, 82).ok());
  CHECK_FALSE(expand_port_range(Proto::kTcp, {}, 0, 0, ip("1.1.1.1"), 80, 80).ok());
  CHECK_FALSE(expand_port_range(Proto::kTcp, {}, 90, 80, ip("1.1.1.1"), 90, 80).ok());
}
