#include <catch2/catch.hpp>

#include "dind/api/router.hpp"

using namespace dind::api;

namespace {

struct Fixture {
  Router router;
  std::string hit;
  Fixture() {
    auto mark = [this](std::string name) {
      return [this, name](Request req, Reply) {
        hit = name;
        for (auto& [k, v] : req.params) {
          hit += " " + k + "=" + v;
        }
      };
    };
    router.add("GET", "/_ping", mark("ping"));
    router.add("GET", "/containers/json", mark("ps"));
    router.add("GET", "/containers/{id}/json", mark("inspect"));
    router.add("POST", "/containers/{id}/start", mark("start"));
    router.add("DELETE", "/images/{name*}", mark("rmi"));
    router.add("GET", "/images/{name*}/json", mark("image-inspect"));
    router.add("POST", "/images/{name*}/tag", mark("tag"));
  }
  // Routes target; returns the handler's mark or "<status> <body>".
  std::string route(const std::string& method, const std::string& target, Request* out = nullptr) {
    Request req;
    req.method = method;
    req.target = target;
    auto m = router.match(req);
    if (out) {
      *out = req;
    }
    if (!m.handler) {
      return std::to_string(m.error.status) + " " + m.error.body;
    }
    hit.clear();
    (*m.handler)(req, [](Response) {});
    return hit;
  }
};

}  // namespace

TEST_CASE("routes versioned and unversioned paths alike", "[api][router]") {
  Fixture f;
  Request req;
  CHECK(f.route("GET", "/_ping") == "ping");
  CHECK(f.route("HEAD", "/_ping") == "ping");
  CHECK(f.route("GET", "/v1.44/_ping", &req) == "ping");
  CHECK(req.version == ApiVersion{1, 44});
  CHECK(f.route("GET", "/v1.24/containers/json?all=1", &req) == "ps");
  CHECK(req.version == ApiVersion{1, 24});
  CHECK(req.query_value("all") == "1");
  CHECK(f.route("GET", "/containers/json", &req) == "ps");
  CHECK(req.version == kMaxApiVersion);
  CHECK(f.route("GET", "/v1.41/containers/abc123/json") == "inspect id=abc123");
  CHECK(f.route("POST", "/containers/my%20name/start") == "start id=my name");
  CHECK(f.route("DELETE", "/images/registry:5000/team/app:1.0") ==
        "rmi name=registry:5000/team/app:1.0");
  CHECK(f.route("DELETE", "/images/a%2Fb") == "rmi name=a/b");
  CHECK(f.route("GET", "/images/localhost:5000/team/app:1/json") ==
        "image-inspect name=localhost:5000/team/app:1");
  CHECK(f.route("GET", "/images/busybox/json") == "image-inspect name=busybox");
  CHECK(f.route("POST", "/v1.44/images/sha256:abc/tag?repo=x") == "tag name=sha256:abc");
  CHECK(f.route("GET", "/images/json").rfind("404", 0) == 0);  // no name before /json
  CHECK(f.route("GET", "//containers//json") == "ps");         // empty segments collapse
}

TEST_CASE("version prefixes outside the supported range are refused like dockerd",
          "[api][router]") {
  Fixture f;
  CHECK(f.route("GET", "/v1.45/version") ==
        "400 {\"message\":\"client version 1.45 is too new. Maximum supported API version is "
        "1.44\"}\n");
  CHECK(f.route("GET", "/v1.23/_ping")
            .rfind("400 client version 1.23 is too old. Minimum supported API version is 1.24",
                   0) == 0);
  CHECK(f.route("GET", "/v2.0/_ping").rfind("400 ", 0) == 0);
}

TEST_CASE("unknown routes and wrong methods are 404 page not found", "[api][router]") {
  Fixture f;
  const std::string nf = "404 {\"message\":\"page not found\"}\n";
  CHECK(f.route("GET", "/nosuchendpoint") == nf);
  CHECK(f.route("PUT", "/containers/json") == nf);
  CHECK(f.route("POST", "/_ping") == nf);
  CHECK(f.route("GET", "/containers/abc/json/extra") == nf);
  CHECK(f.route("GET", "/") == nf);
  CHECK(f.route("GET", "/vx.y/_ping") == nf);  // not a version: an unknown path
}

TEST_CASE("malformed targets are 400", "[api][router]") {
  Fixture f;
  CHECK(f.route("GET", "_ping").rfind("400 ", 0) == 0);
  CHECK(f.route("GET", "").rfind("400 ", 0) == 0);
  CHECK(f.route("GET", "/containers/%zz/json").rfind("400 ", 0) == 0);
  CHECK(f.route("GET", "/containers/a%00b/json").rfind("400 ", 0) == 0);
  CHECK(f.route("GET", "/containers/json?all=%").rfind("400 ", 0) == 0);
  CHECK(f.route("GET", "http://example/_ping").rfind("400 ", 0) == 0);  // absolute-form
}
