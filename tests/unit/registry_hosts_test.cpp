#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "dind/base/fs.hpp"
#include "dind/registry/hosts.hpp"
#include "dind/registry/http_client.hpp"

using namespace dind::registry;
using dind::base::ErrorKind;
using dind::base::TempDir;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x\n";
}

RegistryOptions options_in(const fs::path& certs_dir) {
  RegistryOptions o;
  o.certs_dir = certs_dir;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------
// parse_url, Url, resolve_url

TEST_CASE("parse_url reads http(s) URLs", "[registry][hosts]") {
  struct Row {
    std::string in;
    bool tls;
    std::string host;
    std::string port;
    std::string target;
  };
  const Row rows[] = {
      {"https://registry.example", true, "registry.example", "443", "/"},
      {"http://registry.example", false, "registry.example", "80", "/"},
      {"https://registry.example/", true, "registry.example", "443", "/"},
      {"https://registry.example:5000/v2/", true, "registry.example", "5000", "/v2/"},
      {"http://10.0.0.1:5000/v2/a/b?x=1&y=2", false, "10.0.0.1", "5000", "/v2/a/b?x=1&y=2"},
      {"https://[::1]:5000/v2/x?y=1", true, "::1", "5000", "/v2/x?y=1"},
      {"https://[fe80::1]", true, "fe80::1", "443", "/"},
      {"http://[2001:db8::2]/p", false, "2001:db8::2", "80", "/p"},
      {"https://auth.example?service=x&scope=y", true, "auth.example", "443",
       "/?service=x&scope=y"},
      {"https://auth.example:8443?x", true, "auth.example", "8443", "/?x"},
      {"https://h:1", true, "h", "1", "/"},
      {"http://h:65535", false, "h", "65535", "/"},
      {"https://h/path@with:colon", true, "h", "443", "/path@with:colon"},
      // An empty port is the default one, as Go's net/url reads it.
      {"https://h:", true, "h", "443", "/"},
      {"https://[::1]:", true, "::1", "443", "/"},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto u = parse_url(r.in);
    REQUIRE(u.ok());
    CHECK(u->tls == r.tls);
    CHECK(u->host == r.host);
    CHECK(u->port == r.port);
    CHECK(u->target == r.target);
  }
}

TEST_CASE("parse_url refuses anything else", "[registry][hosts]") {
  const std::string bad[] = {
      "",
      "registry.example",
      "registry.example:5000/v2/",
      "ftp://registry.example",
      "HTTPS//registry.example",
      "https:/registry.example",
      "//registry.example",
      "https://",
      "http://",
      "https:///v2/",
      "https://?x=1",
      "https://:5000",
      "https://:5000/v2/",
      "https://h:0",
      "https://h:65536",
      "https://h:99999999999999999999",
      "https://h:abc",
      "https://h:-1",
      "https://h:+1",
      "https://h: 80",
      "https://h:80x",
      "https://h:5000:1",
      "https://user@h",
      "https://user:password@h/v2/",
      "https://@h",
      "https://[::1",
      "https://[::1/v2/",
      "https://[::1]x",
      "https://[::1]:0",
      "https://[::1]:abc",
      "https://[]",
      "https://[]:5000",
      "https://::1/",
  };
  for (const auto& b : bad) {
    INFO(b);
    auto u = parse_url(b);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().kind == ErrorKind::kInvalidArgument);
    // The message names the URL.
    CHECK_THAT(u.error().message, Catch::Contains(b));
  }
}

TEST_CASE("Url::origin and host_port omit the scheme's default port", "[registry][hosts]") {
  struct Row {
    std::string in;
    std::string origin;
    std::string host_port;
  };
  const Row rows[] = {
      {"https://r.example", "https://r.example", "r.example"},
      {"https://r.example:443/v2/", "https://r.example", "r.example"},
      {"https://r.example:5000/v2/", "https://r.example:5000", "r.example:5000"},
      {"http://r.example", "http://r.example", "r.example"},
      {"http://r.example:80", "http://r.example", "r.example"},
      {"http://r.example:443", "http://r.example:443", "r.example:443"},
      {"https://r.example:80", "https://r.example:80", "r.example:80"},
      {"https://[::1]:5000/x", "https://[::1]:5000", "[::1]:5000"},
      {"https://[::1]", "https://[::1]", "[::1]"},
      {"http://[fd00::1]:80", "http://[fd00::1]", "[fd00::1]"},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto u = parse_url(r.in);
    REQUIRE(u.ok());
    CHECK(u->origin() == r.origin);
    CHECK(u->host_port() == r.host_port);
  }
  CHECK(parse_url("https://r.example:5000/v2/x?y")->to_string() == "https://r.example:5000/v2/x?y");
  Url u;
  u.host = "h";
  u.port = "443";
  CHECK(u.to_string() == "https://h/");
}

TEST_CASE("resolve_url follows every kind of Location", "[registry][hosts]") {
  auto base = parse_url("https://reg.example:5000/v2/app/blobs/sha256:abc?old=1");
  REQUIRE(base.ok());
  struct Row {
    std::string location;
    std::string want;
  };
  const Row rows[] = {
      {"https://cdn.example/blob?sig=1", "https://cdn.example/blob?sig=1"},
      {"http://cdn.example:8080/b", "http://cdn.example:8080/b"},
      {"https://[::1]:9000", "https://[::1]:9000/"},
      {"//cdn.example/p?q", "https://cdn.example/p?q"},
      {"//cdn.example:81", "https://cdn.example:81/"},
      {"/v2/other/blobs/x", "https://reg.example:5000/v2/other/blobs/x"},
      {"/", "https://reg.example:5000/"},
      {"?n=2", "https://reg.example:5000/v2/app/blobs/sha256:abc?n=2"},
  };
  for (const auto& r : rows) {
    INFO(r.location);
    auto u = resolve_url(*base, r.location);
    REQUIRE(u.ok());
    CHECK(u->to_string() == r.want);
  }
  // A scheme-relative Location keeps the base's scheme.
  auto plain = parse_url("http://reg.example/v2/");
  REQUIRE(plain.ok());
  auto rel = resolve_url(*plain, "//cdn.example/p");
  REQUIRE(rel.ok());
  CHECK_FALSE(rel->tls);
  CHECK(rel->to_string() == "http://cdn.example/p");
  CHECK(resolve_url(*plain, "?a")->to_string() == "http://reg.example/v2/?a");

  const std::string bad[] = {
      "",
      "relative/path",
      "../up",
      "blobs",
      "ftp://cdn.example/x",
      "mailto:x@example",
      "https://user:pw@cdn.example/",
      "https://cdn.example:0/",
      "//",
      "//user@cdn.example/",
      "#fragment",
  };
  for (const auto& b : bad) {
    INFO(b);
    auto u = resolve_url(*base, b);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().kind == ErrorKind::kInvalidArgument);
  }
}

TEST_CASE("parse_url, resolve_url and is_insecure survive random input", "[registry][hosts]") {
  std::mt19937 rng(3986);
  const std::string alphabet = "https:/[]@?#:.a1059-";
  const auto base = parse_url("https://reg.example:5000/v2/x?y");
  REQUIRE(base.ok());
  RegistryOptions o;
  o.insecure = {"10.0.0.0/8", "fd00::/8", "a:1"};
  for (int n = 0; n < 20000; ++n) {
    std::string s(rng() % 30, ' ');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    if (rng() % 2) {
      s = (rng() % 2 ? "https://" : "http://") + s;
    }
    INFO(s);
    REQUIRE_NOTHROW(is_insecure(s, o));
    REQUIRE_NOTHROW(resolve_url(*base, s));
    auto u = parse_url(s);
    if (!u.ok()) {
      continue;
    }
    CHECK_FALSE(u->host.empty());
    CHECK(u->host.find('@') == std::string::npos);
    CHECK_FALSE(u->target.empty());
    CHECK(u->target[0] == '/');
    const int port = std::stoi(u->port);
    CHECK(port >= 1);
    CHECK(port <= 65535);
  }
}

// ---------------------------------------------------------------------------
// is_insecure, validate_options

TEST_CASE("is_insecure: loopback is always insecure", "[registry][hosts]") {
  const RegistryOptions none;
  for (const std::string h : {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000",
                              "127.5.6.7:443", "127.255.255.255", "::1", "[::1]", "[::1]:5000"}) {
    INFO(h);
    CHECK(is_insecure(h, none));
  }
  for (const std::string h : {"registry.example", "registry.example:5000", "128.0.0.1",
                              "126.255.255.255:5000", "10.0.0.1", "localhost.example",
                              "127.0.0.1.example", "[::2]:5000", "::2", "docker.io", ""}) {
    INFO(h);
    CHECK_FALSE(is_insecure(h, none));
  }
}

TEST_CASE("is_insecure: listed hosts and CIDR members", "[registry][hosts]") {
  RegistryOptions o;
  o.insecure = {"myreg.example", "other.example:5000", "10.0.0.0/8",
                "172.16.0.0/12", "fd00::/8",           "2001:db8:1::/48"};
  REQUIRE(validate_options(o).ok());
  const std::string yes[] = {
      "myreg.example",  "myreg.example:443",   "myreg.example:5000",   "other.example:5000",
      "10.0.0.1",       "10.255.255.255:5000", "172.16.0.1",           "172.31.255.255:443",
      "[fd00::1]:5000", "fdff:ffff::1",        "[2001:db8:1:ffff::9]", "2001:db8:1::1",
  };
  for (const auto& h : yes) {
    INFO(h);
    CHECK(is_insecure(h, o));
  }
  const std::string no[] = {
      "other.example",      "other.example:5001",
      "myreg.example.evil", "evil-myreg.example",
      "11.0.0.1",           "9.255.255.255:5000",
      "172.15.255.255",     "172.32.0.1",
      "[fe80::1]:5000",     "fc00::1",
      "2001:db8:2::1",      "[2001:db8::1]",
  };
  for (const auto& h : no) {
    INFO(h);
    CHECK_FALSE(is_insecure(h, o));
  }

  RegistryOptions all_v4;
  all_v4.insecure = {"0.0.0.0/0"};
  CHECK(is_insecure("203.0.113.7:5000", all_v4));
  CHECK_FALSE(is_insecure("[2001:db8::1]:5000", all_v4));
  CHECK_FALSE(is_insecure("registry.example", all_v4));

  RegistryOptions exact;
  exact.insecure = {"192.0.2.7/32"};
  CHECK(is_insecure("192.0.2.7:5000", exact));
  CHECK_FALSE(is_insecure("192.0.2.6:5000", exact));
}

TEST_CASE("validate_options accepts what dockerd accepts", "[registry][hosts]") {
  RegistryOptions o;
  o.mirrors = {"https://mirror.example", "https://mirror.example:5000/", "http://10.0.0.1:5000"};
  o.insecure = {"myreg",    "myreg.example:5000", "10.0.0.0/8",
                "fd00::/8", "192.0.2.1/32",       "0.0.0.0/0"};
  CHECK(validate_options(o).ok());
  CHECK(validate_options(RegistryOptions{}).ok());
}

TEST_CASE("validate_options refuses bad mirrors and insecure entries", "[registry][hosts]") {
  for (const std::string m :
       {"mirror.example", "mirror.example:5000", "https://mirror.example/v2/",
        "https://mirror.example/path", "https://mirror.example?x=1", "ftp://mirror.example",
        "https://", "https://u:p@mirror.example", "https://mirror.example:0", ""}) {
    INFO(m);
    RegistryOptions o;
    o.mirrors = {"https://good.example", m};
    auto st = validate_options(o);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(st.error().message, Catch::StartsWith("invalid mirror: \"" + m + "\""));
  }
  for (const std::string i :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0/8",
        "myhost/8", "fd00::/129", "/8", "http://myreg", "https://myreg:5000", ""}) {
    INFO(i);
    RegistryOptions o;
    o.insecure = {"good.example", i};
    auto st = validate_options(o);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(st.error().message, Catch::StartsWith("insecure registry "));
  }
}

// ---------------------------------------------------------------------------
// endpoints_for

TEST_CASE("endpoints_for: Docker Hub pulls try the mirrors first", "[registry][hosts]") {
  TempDir tmp;
  RegistryOptions o = options_in(tmp.path());
  o.mirrors = {"https://mirror.a.example", "not a url", "http://mirror.b.example:5000/"};
  auto eps = endpoints_for(kDockerHubDomain, o, true);
  REQUIRE(eps.size() == 3);
  CHECK(eps[0].base.to_string() == "https://mirror.a.example/");
  CHECK(eps[0].mirror);
  CHECK(eps[0].fallback);
  CHECK(eps[0].trust.verify);
  CHECK(eps[1].base.to_string() == "http://mirror.b.example:5000/");
  CHECK(eps[1].mirror);
  CHECK(eps[1].fallback);
  CHECK(eps[2].base.to_string() == "https://registry-1.docker.io/");
  CHECK_FALSE(eps[2].mirror);
  CHECK_FALSE(eps[2].fallback);
  CHECK(eps[2].trust.verify);

  // Pushes go to the origin only.
  auto push = endpoints_for(kDockerHubDomain, o, false);
  REQUIRE(push.size() == 1);
  CHECK(push[0].base.to_string() == "https://registry-1.docker.io/");
  CHECK_FALSE(push[0].mirror);

  // Mirrors are for Docker Hub only.
  auto other = endpoints_for("registry.example", o, true);
  REQUIRE(other.size() == 1);
  CHECK(other[0].base.to_string() == "https://registry.example/");

  // A mirror with a path still has "/" as its base.
  o.mirrors = {"https://mirror.example/some/path"};
  auto pathy = endpoints_for(kDockerHubDomain, o, true);
  REQUIRE(pathy.size() == 2);
  CHECK(pathy[0].base.target == "/");
}

TEST_CASE("endpoints_for: an insecure HTTPS mirror is not verified", "[registry][hosts]") {
  TempDir tmp;
  RegistryOptions o = options_in(tmp.path());
  o.mirrors = {"https://10.0.0.5:5000", "https://mirror.example"};
  o.insecure = {"10.0.0.0/8"};
  auto eps = endpoints_for(kDockerHubDomain, o, true);
  REQUIRE(eps.size() == 3);
  CHECK(eps[0].base.host_port() == "10.0.0.5:5000");
  CHECK_FALSE(eps[0].trust.verify);
  CHECK(eps[1].trust.verify);
  CHECK(eps[2].trust.verify);
}

TEST_CASE("endpoints_for: insecure registries get HTTPS without verification, then HTTP",
          "[registry][hosts]") {
  TempDir tmp;
  RegistryOptions o = options_in(tmp.path());
  o.insecure = {"myreg.example:5000", "plain.example"};
  struct Row {
    std::string domain;
    std::string https;
    std::string http;
  };
  const Row rows[] = {
      {"myreg.example:5000", "https://myreg.example:5000/", "http://myreg.example:5000/"},
      {"plain.example", "https://plain.example/", "http://plain.example/"},
      {"localhost", "https://localhost/", "http://localhost/"},
      {"localhost:5000", "https://localhost:5000/", "http://localhost:5000/"},
      {"127.0.0.1:5000", "https://127.0.0.1:5000/", "http://127.0.0.1:5000/"},
      {"[::1]", "https://[::1]/", "http://[::1]/"},
      {"[::1]:5000", "https://[::1]:5000/", "http://[::1]:5000/"},
  };
  for (const bool pull : {true, false}) {
    for (const auto& r : rows) {
      INFO(r.domain << " pull=" << pull);
      auto eps = endpoints_for(r.domain, o, pull);
      REQUIRE(eps.size() == 2);
      CHECK(eps[0].base.to_string() == r.https);
      CHECK(eps[0].base.tls);
      CHECK_FALSE(eps[0].trust.verify);
      CHECK(eps[0].fallback);
      CHECK_FALSE(eps[0].mirror);
      CHECK(eps[1].base.to_string() == r.http);
      CHECK_FALSE(eps[1].base.tls);
      CHECK_FALSE(eps[1].fallback);
      CHECK_FALSE(eps[1].mirror);
    }
  }
  // The HTTP port of a host without one is 80, not 443.
  auto eps = endpoints_for("plain.example", o, true);
  CHECK(eps[1].base.port == "80");
}

TEST_CASE("endpoints_for: a secure registry is one verified HTTPS endpoint", "[registry][hosts]") {
  TempDir tmp;
  RegistryOptions o = options_in(tmp.path());
  o.insecure = {"other.example:6000"};
  for (const std::string d : {"registry.example", "registry.example:5000", "ghcr.io",
                              "other.example:5000", "other.example", "192.0.2.1:8443"}) {
    INFO(d);
    auto eps = endpoints_for(d, o, true);
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].base.to_string() == "https://" + d + "/");
    CHECK(eps[0].trust.verify);
    CHECK(eps[0].trust.ca_files.empty());
    CHECK_FALSE(eps[0].fallback);
    CHECK_FALSE(eps[0].mirror);
  }
  // A domain that is no host[:port] has no endpoint.
  CHECK(endpoints_for("registry.example:0", o, true).empty());
  CHECK(endpoints_for("user@registry.example", o, true).empty());
  CHECK(endpoints_for("", o, true).empty());
}

// ---------------------------------------------------------------------------
// trust_for

TEST_CASE("trust_for reads certs.d", "[registry][hosts]") {
  TempDir tmp;
  const fs::path certs = tmp.path() / "certs.d";
  const fs::path dir = certs / "myreg.example:5000";
  touch(dir / "ca.crt");
  touch(dir / "z-extra.crt");
  touch(dir / "client.cert");
  touch(dir / "client.key");
  touch(dir / "other.cert");  // no other.key: ignored, and sorts after client.cert
  touch(dir / "stray.key");
  touch(dir / "README.md");
  touch(dir / "ca.crt.bak");

  TlsTrust t = trust_for("myreg.example:5000", certs);
  CHECK(t.ca_files == std::vector<fs::path>{dir / "ca.crt", dir / "z-extra.crt"});
  REQUIRE(t.client_cert.has_value());
  REQUIRE(t.client_key.has_value());
  CHECK(*t.client_cert == dir / "client.cert");
  CHECK(*t.client_key == dir / "client.key");
  CHECK(t.verify);
  CHECK(t.system_roots);

  // Only a .cert with its .key is a client certificate.
  const fs::path lone = certs / "lone.example";
  touch(lone / "client.cert");
  touch(lone / "other.key");
  TlsTrust l = trust_for("lone.example", certs);
  CHECK(l.ca_files.empty());
  CHECK_FALSE(l.client_cert.has_value());
  CHECK_FALSE(l.client_key.has_value());

  // No directory, a file instead of one, or no certs dir: nothing extra.
  touch(certs / "file.example");
  for (const auto& [host, dir_of_certs] :
       std::vector<std::pair<std::string, fs::path>>{{"none.example", certs},
                                                     {"file.example", certs},
                                                     {"myreg.example:5000", fs::path()},
                                                     {"myreg.example:5000", tmp.path() / "absent"},
                                                     {"myreg.example", certs}}) {
    INFO(host << " in " << dir_of_certs);
    TlsTrust n = trust_for(host, dir_of_certs);
    CHECK(n.ca_files.empty());
    CHECK_FALSE(n.client_cert.has_value());
    CHECK(n.verify);
  }
}

TEST_CASE("endpoints_for carries certs.d trust", "[registry][hosts]") {
  TempDir tmp;
  const fs::path certs = tmp.path() / "certs.d";
  touch(certs / "secure.example" / "ca.crt");
  touch(certs / "insecure.example:5000" / "ca.crt");
  touch(certs / "mirror.example:5000" / "ca.crt");
  touch(certs / "mirror.example:5000" / "me.cert");
  touch(certs / "mirror.example:5000" / "me.key");
  RegistryOptions o = options_in(certs);
  o.insecure = {"insecure.example:5000"};
  o.mirrors = {"https://mirror.example:5000"};

  auto secure = endpoints_for("secure.example", o, true);
  REQUIRE(secure.size() == 1);
  CHECK(secure[0].trust.ca_files == std::vector<fs::path>{certs / "secure.example" / "ca.crt"});
  CHECK(secure[0].trust.verify);

  auto insecure = endpoints_for("insecure.example:5000", o, true);
  REQUIRE(insecure.size() == 2);
  CHECK(insecure[0].trust.ca_files ==
        std::vector<fs::path>{certs / "insecure.example:5000" / "ca.crt"});
  CHECK_FALSE(insecure[0].trust.verify);

  auto hub = endpoints_for(kDockerHubDomain, o, true);
  REQUIRE(hub.size() == 2);
  CHECK(hub[0].trust.ca_files == std::vector<fs::path>{certs / "mirror.example:5000" / "ca.crt"});
  REQUIRE(hub[0].trust.client_cert.has_value());
  CHECK(*hub[0].trust.client_cert == certs / "mirror.example:5000" / "me.cert");
  CHECK(hub[1].trust.ca_files.empty());
}
