#include <catch2/catch.hpp>

#include "netsetup/dns_records.hpp"
#include "netsetup/resolv_conf.hpp"

using namespace netsetup;
using namespace netsetup::dns;

namespace {
Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
}  // namespace

TEST_CASE("names encode and decode, compression pointers included", "[netsetup][dns]") {
  auto wire = encode_name("Web.Example.");
  REQUIRE(wire.ok());
  CHECK(*wire == std::string("\x03Web\x07"
                             "Example\x00",
                             13));
  size_t off = 0;
  CHECK(decode_name(*wire, off).value() == "web.example");
  CHECK(off == wire->size());
  // "a" + pointer to offset 0 ("x.y"): "a.x.y"
  std::string packet = std::string("\x01x\x01y\x00", 5) + std::string(
                                                              "\x01"
                                                              "a\xc0\x00",
                                                              4);
  size_t o2 = 5;
  CHECK(decode_name(packet, o2).value() == "a.x.y");
  CHECK(o2 == 9);
  CHECK_FALSE(encode_name(std::string(64, 'a')).ok());
  CHECK_FALSE(encode_name("a..b").ok());
  CHECK_FALSE(encode_name(std::string(200, 'a') + "." + std::string(60, 'b')).ok());
}

TEST_CASE("malformed packets are refused without crashing", "[netsetup][dns]") {
  const std::string good = build_query(0x1234, "web", kTypeA);
  REQUIRE(parse_query(good).ok());
  std::vector<std::string> bad = {
      "",
      std::string(11, '\0'),
      good.substr(0, good.size() - 1),                              // truncated question
      good + "x",                                                   // trailing byte
      std::string("\x12\x34\x81\x00", 4) + good.substr(4),          // QR set (a response)
      std::string("\x12\x34\x01\x00\x00\x02", 6) + good.substr(6),  // two questions
      std::string("\x12\x34\x01\x00\x00\x00", 6) + good.substr(6),  // no question
  };
  // A pointer to itself (loop) and one pointing forward.
  std::string header = good.substr(0, 12);
  bad.push_back(header + std::string("\xc0\x0c\x00\x01\x00\x01", 6));
  bad.push_back(header + std::string("\xc0\x20\x00\x01\x00\x01", 6));
  bad.push_back(header + std::string("\x40"
                                     "abc\x00\x00\x01\x00\x01",
                                     9));  // reserved label type
  bad.push_back(header + std::string("\x05"
                                     "ab\x00\x00\x01\x00\x01",
                                     8));  // label past the end
  bad.push_back(header + std::string("\x03"
                                     "a.b\x00\x00\x01\x00\x01",
                                     9));  // dot inside a label
  for (const auto& b : bad) {
    CHECK_FALSE(parse_query(b).ok());
  }
  // A non-standard opcode is "not implemented", not "malformed".
  std::string iquery = good;
  iquery[2] = static_cast<char>(0x09);
  auto r = parse_query(iquery);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == dind::base::ErrorKind::kUnimplemented);
}

TEST_CASE("EDNS0 raises the UDP size and answers truncate beyond it", "[netsetup][dns]") {
  std::string q = build_query(7, "many", kTypeA);
  q[11] = 1;                                                             // ARCOUNT = 1
  q += std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);  // OPT, size 1232
  auto parsed = parse_query(q);
  REQUIRE(parsed.ok());
  CHECK(parsed->udp_size == 1232);
  std::vector<Ipv4> ips;
  for (uint32_t i = 0; i < 200; ++i) {
    ips.push_back(Ipv4{0x0a000000 + i});
  }
  auto small = build_response(*parsed, Rcode::kNoError, ips, {}, 600, 512);
  auto sum = parse_response(small);
  REQUIRE(sum.ok());
  CHECK(sum->truncated);
  CHECK(sum->answers == 0);
  auto big = parse_response(build_response(*parsed, Rcode::kNoError, ips, {}, 600, 65535));
  CHECK(big->answers == 200);
}

TEST_CASE("records answer per network, with aliases and name.network", "[netsetup][dns]") {
  Records r;
  REQUIRE(r.add("front", ip("172.18.0.2"), {"web", "www", "abc123def456"}).ok());
  REQUIRE(r.add("front", ip("172.18.0.3"), {"web2", "www"}).ok());
  REQUIRE(r.add("back", ip("172.19.0.2"), {"db"}).ok());
  CHECK_FALSE(r.add("front", ip("172.18.0.9"), {"bad name"}).ok());
  CHECK_FALSE(r.add("front", ip("172.18.0.9"), {"-lead"}).ok());
  CHECK(r.lookup({"front"}, "WEB") == std::vector<Ipv4>{ip("172.18.0.2")});
  CHECK(r.lookup({"front"}, "www").size() == 2);
  CHECK(r.lookup({"front"}, "db").empty());  // isolated networks do not see each other
  CHECK(r.lookup({"front", "back"}, "db").size() == 1);
  CHECK(r.lookup({"front"}, "web.front").size() == 1);
  r.remove("front", ip("172.18.0.2"));
  CHECK(r.lookup({"front"}, "www") == std::vector<Ipv4>{ip("172.18.0.3")});
  CHECK(r.lookup({"front"}, "web").empty());
}

TEST_CASE("decide answers known names, forwards the rest, FORMERRs garbage", "[netsetup][dns]") {
  Records r;
  REQUIRE(r.add("net", ip("10.0.0.2"), {"web"}).ok());
  REQUIRE(r.add("net", ip("10.0.0.3"), {"web"}).ok());
  std::mt19937 rng(1);
  auto a = decide(r, {"net"}, build_query(1, "web", kTypeA), rng);
  REQUIRE(a.kind == Decision::Kind::kAnswer);
  auto sum = parse_response(a.response);
  REQUIRE(sum.ok());
  CHECK(sum->id == 1);
  CHECK(sum->rcode == Rcode::kNoError);
  CHECK(sum->a.size() == 2);
  // Shuffled: over a few answers both orders appear.
  std::set<uint32_t> firsts;
  for (int i = 0; i < 20; ++i) {
    firsts.insert(parse_response(decide(r, {"net"}, build_query(1, "web", kTypeA), rng).response)
                      ->a[0]
                      .value);
  }
  CHECK(firsts.size() == 2);
  auto aaaa = decide(r, {"net"}, build_query(2, "web", kTypeAaaa), rng);
  REQUIRE(aaaa.kind == Decision::Kind::kAnswer);
  CHECK(parse_response(aaaa.response)->answers == 0);
  CHECK(parse_response(aaaa.response)->rcode == Rcode::kNoError);
  CHECK(decide(r, {"net"}, build_query(3, "example.org", kTypeA), rng).kind ==
        Decision::Kind::kForward);
  CHECK(decide(r, {"other"}, build_query(3, "web", kTypeA), rng).kind == Decision::Kind::kForward);
  CHECK(decide(r, {"net"}, "short", rng).kind == Decision::Kind::kDrop);
  auto formerr = decide(r, {"net"}, std::string(12, '\0') + "junk", rng);
  REQUIRE(formerr.kind == Decision::Kind::kAnswer);
  CHECK(parse_response(formerr.response)->rcode == Rcode::kFormErr);
}

TEST_CASE("resolv.conf in and out", "[netsetup][dns]") {
  auto host = parse_resolv_conf(
      "# comment\nnameserver 127.0.0.11\nnameserver 10.0.0.2 ; trailing\nnameserver 10.0.0.3\n"
      "nameserver 10.0.0.4\nsearch a.example b.example\noptions ndots:1 edns0\nbogus line\n");
  CHECK(host.nameservers.size() == 4);
  CHECK(upstreams(host) == std::vector<std::string>{"127.0.0.11", "10.0.0.2", "10.0.0.3"});
  CHECK(host.search == std::vector<std::string>{"a.example", "b.example"});
  const std::string out = container_resolv_conf(host, "127.0.0.11");
  CHECK(out.find("nameserver 127.0.0.11\n") != std::string::npos);
  CHECK(out.find("search a.example b.example\n") != std::string::npos);
  CHECK(out.find("options ndots:0\n") != std::string::npos);
  CHECK(out.find("10.0.0.2") != std::string::npos);  // upstreams named in the comment
}

TEST_CASE("AAAA answers for endpoints with IPv6, per network", "[netsetup][dns]") {
  Records r;
  auto v6 = [](const char* t) { return *netsetup::Ipv6::parse(t); };
  REQUIRE(r.add("six", ip("10.0.0.2"), {"web", "alias"}, v6("fd00::2")).ok());
  REQUIRE(r.add("four", ip("10.1.0.2"), {"web"}).ok());
  std::mt19937 rng(1);
  auto aaaa = decide(r, {"six"}, build_query(5, "alias", kTypeAaaa), rng);
  REQUIRE(aaaa.kind == Decision::Kind::kAnswer);
  auto sum = parse_response(aaaa.response);
  REQUIRE(sum.ok());
  CHECK(sum->answers == 1);
  CHECK(sum->a.empty());
  // The record itself: the last 16 bytes of the packet.
  const std::string tail = aaaa.response.substr(aaaa.response.size() - 16);
  CHECK(std::equal(tail.begin(), tail.end(), reinterpret_cast<const char*>(v6("fd00::2").bytes.data())));
  CHECK(r.lookup6({"six"}, "web.six").size() == 1);
  CHECK(r.lookup6({"four"}, "web").empty());  // no IPv6 there: NOERROR without answers
  CHECK(parse_response(decide(r, {"four"}, build_query(6, "web", kTypeAaaa), rng).response)->answers == 0);
}
