#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <random>

#include "dind/base/text.hpp"
#include "dind/registry/auth.hpp"

using namespace dind::registry;
using dind::base::ErrorKind;

namespace {

// The first challenge of `scheme`, or nullptr.
const Challenge* find_scheme(const std::vector<Challenge>& cs, const std::string& scheme) {
  for (const auto& c : cs) {
    if (c.scheme == scheme) {
      return &c;
    }
  }
  return nullptr;
}

std::string param(const Challenge& c, const std::string& key) {
  auto it = c.params.find(key);
  return it == c.params.end() ? "<absent>" : it->second;
}

// base64url as the docker CLI sends X-Registry-Auth, optionally unpadded.
std::string base64url(std::string_view data, bool pad) {
  std::string s = dind::base::base64_encode(data);
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  if (!pad) {
    while (!s.empty() && s.back() == '=') {
      s.pop_back();
    }
  }
  return s;
}

const auto kNow = std::chrono::steady_clock::time_point{} + std::chrono::hours(1000);

}  // namespace

// ---------------------------------------------------------------------------
// parse_challenges

TEST_CASE("parse_challenges reads Docker Hub's bearer challenge", "[registry][auth]") {
  auto cs = parse_challenges({R"(Bearer realm="https://auth.docker.io/token",)"
                              R"(service="registry.docker.io",)"
                              R"(scope="repository:library/busybox:pull")"});
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "bearer");
  CHECK(cs[0].params.size() == 3);
  CHECK(param(cs[0], "realm") == "https://auth.docker.io/token");
  CHECK(param(cs[0], "service") == "registry.docker.io");
  CHECK(param(cs[0], "scope") == "repository:library/busybox:pull");
}

TEST_CASE("parse_challenges: schemes and keys are case-insensitive, values are kept",
          "[registry][auth]") {
  auto cs = parse_challenges({R"(BEARER Realm="https://Auth.Example/Token",SERVICE=Reg.Example)"});
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "bearer");
  CHECK(param(cs[0], "realm") == "https://Auth.Example/Token");
  CHECK(param(cs[0], "service") == "Reg.Example");

  auto basic = parse_challenges({"bAsIc REALM=\"Registry Realm\""});
  REQUIRE(basic.size() == 1);
  CHECK(basic[0].scheme == "basic");
  CHECK(param(basic[0], "realm") == "Registry Realm");
}

TEST_CASE("parse_challenges: quoted strings with escapes, tokens, optional whitespace",
          "[registry][auth]") {
  auto cs = parse_challenges(
      {R"(Bearer realm = "a \"quoted\" realm, with comma" ,  service=tok-en.example  ,)"
       R"( scope="x\\y\z")"});
  REQUIRE(cs.size() == 1);
  CHECK(param(cs[0], "realm") == R"(a "quoted" realm, with comma)");
  CHECK(param(cs[0], "service") == "tok-en.example");
  // quoted-pair: a backslash takes the next character literally.
  CHECK(param(cs[0], "scope") == R"(x\yz)");

  auto empty = parse_challenges({R"(Bearer realm="",service=)"});
  REQUIRE(empty.size() == 1);
  CHECK(param(empty[0], "realm").empty());
  CHECK(param(empty[0], "service").empty());
}

TEST_CASE("parse_challenges: several challenges in one value and across values",
          "[registry][auth]") {
  auto one = parse_challenges(
      {R"(Basic realm="basic realm", Bearer realm="https://a/token",service="s")"});
  REQUIRE(one.size() == 2);
  CHECK(one[0].scheme == "basic");
  CHECK(param(one[0], "realm") == "basic realm");
  CHECK(one[0].params.size() == 1);
  CHECK(one[1].scheme == "bearer");
  CHECK(param(one[1], "realm") == "https://a/token");
  CHECK(param(one[1], "service") == "s");

  // Token values and no comma between challenges.
  auto bare = parse_challenges({"Basic realm=r1 Bearer realm=r2"});
  REQUIRE(bare.size() == 2);
  CHECK(param(bare[0], "realm") == "r1");
  CHECK(param(bare[1], "realm") == "r2");

  auto many = parse_challenges({R"(Bearer realm="https://a/token")", R"(Basic realm="b")", ""});
  REQUIRE(many.size() == 2);
  CHECK(many[0].scheme == "bearer");
  CHECK(many[1].scheme == "basic");
  CHECK(param(many[1], "realm") == "b");

  // A scheme without parameters.
  auto naked = parse_challenges({"Negotiate", "Basic"});
  REQUIRE(naked.size() == 2);
  CHECK(naked[0].scheme == "negotiate");
  CHECK(naked[0].params.empty());
  CHECK(naked[1].scheme == "basic");
}

TEST_CASE("parse_challenges skips malformed parts without crashing", "[registry][auth]") {
  CHECK(parse_challenges({}).empty());
  CHECK(parse_challenges({""}).empty());
  CHECK(parse_challenges({"   ", ",,, ,", "\t"}).empty());

  // Whatever garbage surrounds it, a well-formed bearer challenge survives
  // and nothing is mistaken for basic.
  const std::string garbage[] = {
      "=",
      "==,==",
      "=realm=\"x\"",
      "Bearer realm",
      "Bearer =x",
      "Bearer realm=\"unterminated",
      "Bearer realm=\"ends in a backslash\\",
      "Bearer realm=\"",
      "Bearer realm=\"a\"junk",
      "Bearer realm=\"a\" \"junk\"",
      "Bearer abc==",
      "\"",
      "\\",
      std::string("Bearer realm=\"a\0b\"", 18),
      std::string(10000, ','),
      std::string(10000, '='),
      std::string(10000, '"'),
  };
  for (const auto& g : garbage) {
    INFO(g);
    std::vector<Challenge> cs;
    REQUIRE_NOTHROW(cs = parse_challenges({g, R"(Bearer realm="https://a/token",service="s")"}));
    const Challenge* bearer = nullptr;
    for (const auto& c : cs) {
      if (c.scheme == "bearer" && param(c, "realm") == "https://a/token") {
        bearer = &c;
      }
    }
    REQUIRE(bearer != nullptr);
    CHECK(param(*bearer, "service") == "s");
    CHECK(find_scheme(cs, "basic") == nullptr);
  }

  // An unterminated quoted string takes the rest of the value.
  auto cs = parse_challenges({"Bearer realm=\"https://a/token,service=s"});
  REQUIRE(cs.size() == 1);
  CHECK(param(cs[0], "realm") == "https://a/token,service=s");
  CHECK(cs[0].params.size() == 1);
}

TEST_CASE("parse_challenges survives random input", "[registry][auth]") {
  // A cheap stand-in for a fuzzer: the characters the grammar cares about.
  std::mt19937 rng(7235);
  const std::string alphabet = "Bb rRealm=\"\\,\t x";
  for (int n = 0; n < 20000; ++n) {
    std::string s(rng() % 40, ' ');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    INFO(s);
    std::vector<Challenge> cs;
    REQUIRE_NOTHROW(cs = parse_challenges({s, s}));
    CHECK(cs.size() % 2 == 0);
    for (const auto& c : cs) {
      CHECK_FALSE(c.scheme.empty());
      CHECK(c.scheme == dind::base::ascii_lower(c.scheme));
      for (const auto& [k, v] : c.params) {
        CHECK_FALSE(k.empty());
        CHECK(k == dind::base::ascii_lower(k));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// decode_registry_auth, parse_auth_body

TEST_CASE("decode_registry_auth reads standard and URL-safe base64, padded or not",
          "[registry][auth]") {
  const std::string json =
      R"({"username":"alice","password":"?>?>?>","serveraddress":"https://index.docker.io/v1/"})";
  const std::string standard = dind::base::base64_encode(json);
  // The test only means something if the encodings differ.
  REQUIRE(standard.find('+') != std::string::npos);
  REQUIRE(standard.find('/') != std::string::npos);
  REQUIRE(standard.back() == '=');

  const std::string encodings[] = {standard, base64url(json, true), base64url(json, false),
                                   "  " + standard + "\r\n"};
  for (const auto& e : encodings) {
    INFO(e);
    auto a = decode_registry_auth(e);
    CHECK(a.username == "alice");
    CHECK(a.password == "?>?>?>");
    CHECK(a.server_address == "https://index.docker.io/v1/");
    CHECK(a.identity_token.empty());
    CHECK(a.registry_token.empty());
    CHECK_FALSE(a.empty());
  }
}

TEST_CASE("decode_registry_auth: tokens and the legacy auth field", "[registry][auth]") {
  auto tokens = decode_registry_auth(
      base64url(R"({"identitytoken":"refresh-me","registrytoken":"bearer-me"})", false));
  CHECK(tokens.identity_token == "refresh-me");
  CHECK(tokens.registry_token == "bearer-me");
  CHECK(tokens.username.empty());
  CHECK_FALSE(tokens.empty());

  // Older clients: "auth": base64("user:password"); the password may hold ':'.
  const std::string legacy =
      R"({"auth":")" + dind::base::base64_encode("bob:pa:ss") + R"(","serveraddress":"r.example"})";
  auto a = decode_registry_auth(base64url(legacy, true));
  CHECK(a.username == "bob");
  CHECK(a.password == "pa:ss");
  CHECK(a.server_address == "r.example");

  // Explicit fields win over "auth".
  const std::string both = R"({"username":"carol","password":"pw","auth":")" +
                           dind::base::base64_encode("bob:other") + R"("})";
  auto b = decode_registry_auth(base64url(both, true));
  CHECK(b.username == "carol");
  CHECK(b.password == "pw");

  // An "auth" that is not base64, or has no ':', gives nothing.
  for (const std::string& bad_auth :
       {std::string("!!!"), dind::base::base64_encode("nocolon"), std::string("")}) {
    INFO(bad_auth);
    auto c = decode_registry_auth(base64url(R"({"auth":")" + bad_auth + R"("})", true));
    CHECK(c.empty());
  }

  // Members of the wrong type are ignored.
  auto d = decode_registry_auth(base64url(R"({"username":42,"password":["x"],"auth":7})", true));
  CHECK(d.empty());
}

TEST_CASE("decode_registry_auth: empty and undecodable headers are no credentials",
          "[registry][auth]") {
  const std::string none[] = {
      "",
      "   ",
      "e30=",  // {}
      "e30",
      "null",
      "!!!!",
      "e30=e30=",
      "e",  // length % 4 == 1
      "{}",
      R"({"username":"alice"})",  // raw JSON, not base64
      dind::base::base64_encode("not json"),
      dind::base::base64_encode("[\"alice\",\"pw\"]"),
      dind::base::base64_encode("\"alice\""),
      dind::base::base64_encode("42"),
      dind::base::base64_encode(R"({"username":"alice")"),  // truncated
      dind::base::base64_encode(std::string("\xff\xfe\x00\x01", 4)),
  };
  for (const auto& h : none) {
    INFO(h);
    auto a = decode_registry_auth(h);
    CHECK(a.empty());
    CHECK(a.server_address.empty());
  }
}

TEST_CASE("parse_auth_body takes a JSON object and refuses anything else", "[registry][auth]") {
  auto a = parse_auth_body(
      R"({"username":"alice","password":"pw","serveraddress":"localhost:5000","email":"x"})");
  REQUIRE(a.ok());
  CHECK(a->username == "alice");
  CHECK(a->password == "pw");
  CHECK(a->server_address == "localhost:5000");

  auto empty = parse_auth_body("{}");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  auto legacy = parse_auth_body(R"({"auth":")" + dind::base::base64_encode("u:p") + R"("})");
  REQUIRE(legacy.ok());
  CHECK(legacy->username == "u");
  CHECK(legacy->password == "p");

  for (const std::string bad :
       {"", "   ", "[]", "null", "\"s\"", "42", "{", "{\"username\":}", "{} {}"}) {
    INFO(bad);
    auto r = parse_auth_body(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------
// parse_token_response

TEST_CASE("parse_token_response reads token or access_token", "[registry][auth]") {
  auto t = parse_token_response(R"({"token":"abc","expires_in":300,"issued_at":"x"})", kNow);
  REQUIRE(t.ok());
  CHECK(t->token == "abc");
  CHECK(t->refresh_token.empty());
  CHECK(t->expires == kNow + std::chrono::seconds(300));

  auto oauth = parse_token_response(
      R"({"access_token":"def","refresh_token":"ref","expires_in":3600})", kNow);
  REQUIRE(oauth.ok());
  CHECK(oauth->token == "def");
  CHECK(oauth->refresh_token == "ref");
  CHECK(oauth->expires == kNow + std::chrono::hours(1));

  // "token" wins; an empty or non-string "token" falls back to access_token.
  CHECK(parse_token_response(R"({"token":"a","access_token":"b"})", kNow)->token == "a");
  CHECK(parse_token_response(R"({"token":"","access_token":"b"})", kNow)->token == "b");
  CHECK(parse_token_response(R"({"token":5,"access_token":"b"})", kNow)->token == "b");
}

TEST_CASE("parse_token_response: expires_in defaults to 60 s and is capped at 24 h",
          "[registry][auth]") {
  struct Row {
    std::string expires_in;
    std::chrono::seconds want;
  };
  const Row rows[] = {
      {"", std::chrono::seconds(60)},
      {R"(,"expires_in":0)", std::chrono::seconds(60)},
      {R"(,"expires_in":-5)", std::chrono::seconds(60)},
      {R"(,"expires_in":"300")", std::chrono::seconds(60)},
      {R"(,"expires_in":300.5)", std::chrono::seconds(60)},
      {R"(,"expires_in":null)", std::chrono::seconds(60)},
      {R"(,"expires_in":18446744073709551615)", std::chrono::seconds(60)},
      {R"(,"expires_in":1)", std::chrono::seconds(1)},
      {R"(,"expires_in":86400)", std::chrono::seconds(86400)},
      {R"(,"expires_in":86401)", std::chrono::seconds(86400)},
      {R"(,"expires_in":9223372036854775807)", std::chrono::seconds(86400)},
  };
  for (const auto& r : rows) {
    INFO(r.expires_in);
    auto t = parse_token_response(R"({"token":"t")" + r.expires_in + "}", kNow);
    REQUIRE(t.ok());
    CHECK(t->expires == kNow + r.want);
  }
}

TEST_CASE("parse_token_response refuses answers without a token", "[registry][auth]") {
  const std::string bad[] = {
      "",
      "not json",
      "<html>502 Bad Gateway</html>",
      "[]",
      "null",
      R"("token")",
      "{}",
      R"({"token":""})",
      R"({"token":null,"access_token":""})",
      R"({"token":["a"]})",
      R"({"refresh_token":"r","expires_in":60})",
      R"({"token":"a")",
  };
  for (const auto& b : bad) {
    INFO(b);
    auto t = parse_token_response(b, kNow);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().kind == ErrorKind::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------
// registry_error_text, repository_scope

TEST_CASE("registry_error_text renders error bodies as dockerd does", "[registry][auth]") {
  CHECK(registry_error_text(
            R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})") ==
        "manifest unknown: manifest unknown");
  CHECK(
      registry_error_text(
          R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository"}]},)"
          R"({"code":"DENIED","message":"requested access to the resource is denied"}]})") ==
      "unauthorized: authentication required; denied: requested access to the resource is denied");
  CHECK(registry_error_text(R"({"errors":[{"code":"DENIED"}]})") == "denied");
  CHECK(registry_error_text(R"({"errors":[{"message":"just a message"}]})") == "just a message");
  // Entries that are not objects, or say nothing, add nothing.
  CHECK(registry_error_text(R"({"errors":[42,"x",{"code":"NAME_UNKNOWN","message":"m"}]})") ==
        "name unknown: m");
  CHECK(registry_error_text(R"({"errors":[{},{"code":"DENIED"}]})") == "denied");
  CHECK(registry_error_text(R"({"errors":[{"code":"DENIED"},{}]})") == "denied");
  CHECK(registry_error_text(R"({"errors":[{"code":5,"message":null}]})").empty());

  const std::string empty[] = {
      "",
      "not json",
      "<html><body>404</body></html>",
      "[]",
      "null",
      "{}",
      R"({"errors":{}})",
      R"({"errors":"x"})",
      R"({"errors":[]})",
      R"({"errors":[)",
  };
  for (const auto& e : empty) {
    INFO(e);
    CHECK(registry_error_text(e).empty());
  }
}

TEST_CASE("repository_scope names pull or pull,push", "[registry][auth]") {
  CHECK(repository_scope("library/busybox", false) == "repository:library/busybox:pull");
  CHECK(repository_scope("team/app", true) == "repository:team/app:pull,push");
  CHECK(repository_scope("a/b/c", false) == "repository:a/b/c:pull");
}
