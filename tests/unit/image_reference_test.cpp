#include <catch2/catch.hpp>

#include "dind/image/reference.hpp"

using namespace dind::image;

namespace {
const std::string kDigest = "sha256:" + std::string(64, 'a');
}

TEST_CASE("references normalise like Docker's", "[image][reference]") {
  struct Row {
    std::string in;
    std::string full;
    std::string familiar;
  };
  const Row rows[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest"},
      {"foo/bar/baz:v1", "docker.io/foo/bar/baz:v1", "foo/bar/baz:v1"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"localhost:5000/team/app:1.0", "localhost:5000/team/app:1.0", "localhost:5000/team/app:1.0"},
      {"registry.example.com/a_b/c-d.e__f:tag_1.2-x", "registry.example.com/a_b/c-d.e__f:tag_1.2-x",
       "registry.example.com/a_b/c-d.e__f:tag_1.2-x"},
      {"Example.COM/app", "Example.COM/app:latest", "Example.COM/app:latest"},
      {"[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"},
      {"busybox@" + kDigest, "docker.io/library/busybox@" + kDigest, "busybox@" + kDigest},
      {"busybox:1@" + kDigest, "docker.io/library/busybox:1@" + kDigest, "busybox:1@" + kDigest},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto ref = parse_reference(r.in);
    REQUIRE(ref.ok());
    CHECK(ref->to_string() == r.full);
    CHECK(ref->familiar() == r.familiar);
  }
  CHECK_FALSE(parse_reference("busybox", false)->tag.has_value());
}

TEST_CASE("invalid references are refused with Docker's messages", "[image][reference]") {
  const std::string bad[] = {
      "",
      ":",
      "busybox:",
      ":tag",
      "busy box",
      "busybox:bad tag",
      "busybox:-tag",
      "busybox:.tag",
      "busybox:" + std::string(129, 'a'),
      "-busybox",
      "busybox-",
      "bu..sybox",
      "busy/",
      "/busybox",
      "a//b",
      "busybox@sha256:abc",
      "busybox@md5:" + std::string(32, 'a'),
      "busybox@" + kDigest + "x",
      "example.com:port/app",
      "exa_mple.com/app",
      "[::1/app",
      "bus@box",
      "busybox:tag:tag2",
      "sha256:" + std::string(64, 'a') + "/x",
  };
  for (const auto& b : bad) {
    INFO(b);
    auto r = parse_reference(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("invalid reference format", 0) == 0);
  }
  auto upper = parse_reference("Busybox");
  REQUIRE_FALSE(upper.ok());
  CHECK(upper.error().message ==
        "invalid reference format: repository name (library/Busybox) must be lowercase");
  auto longname = parse_reference(std::string(300, 'a'));
  REQUIRE_FALSE(longname.ok());
  CHECK(longname.error().message.find("must not be more than 255 characters") != std::string::npos);
}

TEST_CASE("digests and ID prefixes", "[image][reference]") {
  CHECK(valid_digest(kDigest));
  CHECK_FALSE(valid_digest("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(valid_digest("sha256:" + std::string(63, 'a')));
  CHECK(looks_like_id_prefix("abc123"));
  CHECK(looks_like_id_prefix("sha256:abc"));
  CHECK_FALSE(looks_like_id_prefix("busybox"));
  CHECK_FALSE(looks_like_id_prefix(""));
}
