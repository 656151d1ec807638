#include <catch2/catch.hpp>

#include "certgen/profile.hpp"

using namespace certgen;
using Type = SubjectAltName::Type;

TEST_CASE("parse_san accepts DNS:, IP: and bare values", "[certgen][profile]") {
  struct Row {
    const char* in;
    Type type;
    const char* value;
  };
  const Row rows[] = {
      {"DNS:dind", Type::kDns, "dind"},
      {"dns:Docker.Example.COM", Type::kDns, "docker.example.com"},
      {"IP:10.0.0.5", Type::kIp, "10.0.0.5"},
      {"ip:::1", Type::kIp, "::1"},
      {"IP:0:0:0:0:0:0:0:1", Type::kIp, "::1"},
      {"IP:fe80::1%eth0", Type::kIp, "fe80::1"},
      {"IP:FD00::2", Type::kIp, "fd00::2"},
      {"10.1.2.3", Type::kIp, "10.1.2.3"},
      {"2001:db8::7", Type::kIp, "2001:db8::7"},
      {"my-dind", Type::kDns, "my-dind"},
      {"DNS:*.svc.cluster.local", Type::kDns, "*.svc.cluster.local"},
      {"DNS:runner_dind_1", Type::kDns, "runner_dind_1"},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto san = parse_san(r.in);
    REQUIRE(san.ok());
    CHECK(san->type == r.type);
    CHECK(san->value == r.value);
  }
}

TEST_CASE("parse_san rejects malformed entries with a message naming them", "[certgen][profile]") {
  const char* bad[] = {
      "DNS:",      "IP:",         "IP:999.1.1.1",   "IP:1.2.3.4/24", "IP:dind",     "DNS:bad name",
      "DNS:-lead", "DNS:trail-",  "DNS:a..b",       "DNS:.",         "email:a@b.c", "URI:http://x",
      "FOO:bar",   "DNS:ünicode", "DNS:semi;colon", "DNS:a/b",       "DNS:x\x01y",
  };
  for (const char* in : bad) {
    INFO(in);
    auto san = parse_san(in);
    REQUIRE_FALSE(san.ok());
    CHECK(san.error().kind == dind::base::ErrorKind::kInvalidArgument);
    CHECK(san.error().message.find(in) != std::string::npos);
  }
  CHECK_FALSE(parse_san("DNS:" + std::string(64, 'a') + ".com").ok());   // label > 63
  CHECK_FALSE(parse_san("DNS:" + std::string(250, 'a') + ".com").ok());  // name > 253
}

TEST_CASE("parse_san_list splits on commas and whitespace", "[certgen][profile]") {
  auto list = parse_san_list(" DNS:a,IP:1.2.3.4  DNS:b\n,\tdind ,, ");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 4);
  CHECK((*list)[0].to_string() == "DNS:a");
  CHECK((*list)[1].to_string() == "IP:1.2.3.4");
  CHECK((*list)[2].to_string() == "DNS:b");
  CHECK((*list)[3].to_string() == "DNS:dind");
  CHECK(parse_san_list("").ok());
  CHECK(parse_san_list("   ,  ")->empty());

  auto bad = parse_san_list("DNS:ok IP:300.0.0.1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("DOCKER_TLS_SAN") != std::string::npos);
  CHECK(bad.error().message.find("IP:300.0.0.1") != std::string::npos);
}

TEST_CASE("the server profile has docker, localhost, host names, addresses and extras",
          "[certgen][profile]") {
  HostFacts host;
  host.etc_hostname = "cf4b4945b471";
  host.hostname = "cf4b4945b471";
  host.fqdn = "cf4b4945b471.ci.example";
  host.addresses = {"127.0.0.1",  "172.17.0.2",     "::1", "fe80::42:acff:fe11:2",
                    "172.17.0.2", "0:0:0:0:0:0:0:1"};
  PlanOptions opts;
  opts.extra_sans = "DNS:dind, IP:10.9.8.7 DNS:docker";
  auto p = plan_server_profile(host, opts);
  REQUIRE(p.ok());
  std::vector<std::string> got;
  for (const auto& s : p->sans) {
    got.push_back(s.to_string());
  }
  const std::vector<std::string> want = {"DNS:cf4b4945b471", "DNS:cf4b4945b471.ci.example",
                                         "DNS:dind",         "DNS:docker",
                                         "DNS:localhost",    "IP:10.9.8.7",
                                         "IP:127.0.0.1",     "IP:172.17.0.2",
                                         "IP:::1",           "IP:fe80::42:acff:fe11:2"};
  CHECK(got == want);
  CHECK(p->server_auth);
  CHECK_FALSE(p->client_auth);
  CHECK_FALSE(p->is_ca);
  CHECK(p->validity == std::chrono::days(825));
  CHECK(p->common_name == "docker:dind server");
}

TEST_CASE("the server profile skips unusable host facts but fails on bad extras",
          "[certgen][profile]") {
  HostFacts host;
  host.etc_hostname = "weird host name!";
  host.hostname = "";
  host.addresses = {"not-an-ip"};
  auto p = plan_server_profile(host, {});
  REQUIRE(p.ok());
  CHECK(p->sans.size() == 2);  // docker, localhost

  PlanOptions opts;
  opts.extra_sans = "DNS:bad_%";
  CHECK_FALSE(plan_server_profile(host, opts).ok());
}

TEST_CASE("CA and client profiles", "[certgen][profile]") {
  PlanOptions opts;
  opts.validity = std::chrono::days(30);
  auto ca = plan_ca_profile(opts);
  CHECK(ca.is_ca);
  CHECK(ca.common_name == "docker:dind CA");
  CHECK(ca.validity == std::chrono::days(30));
  auto client = plan_client_profile(opts);
  CHECK(client.client_auth);
  CHECK_FALSE(client.server_auth);
  CHECK(client.sans.empty());
  CHECK(client.common_name == "docker:dind client");
}

TEST_CASE("parse_key_type", "[certgen][profile]") {
  CHECK(*parse_key_type("ecdsa") == KeyType::kEcdsaP256);
  CHECK(*parse_key_type("ECDSA-P256") == KeyType::kEcdsaP256);
  CHECK(*parse_key_type("rsa4096") == KeyType::kRsa4096);
  CHECK(*parse_key_type("rsa") == KeyType::kRsa4096);
  CHECK(*parse_key_type("rsa2048") == KeyType::kRsa2048);
  CHECK(*parse_key_type("ed25519") == KeyType::kEd25519);
  for (const char* bad : {"", "rsa1024", "dsa", "ecdsa-p384", "ed448"}) {
    INFO(bad);
    auto r = parse_key_type(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("expected one of") != std::string::npos);
  }
}
