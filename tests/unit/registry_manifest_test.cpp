#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>

#include "dind/registry/manifest.hpp"

using namespace dind::registry;
using dind::base::ErrorKind;
using nlohmann::json;

namespace {

std::string digest_of(char c) {
  return "sha256:" + std::string(64, c);
}

json descriptor_json(const std::string& media_type, char digest_char, int64_t size) {
  return {{"mediaType", media_type}, {"digest", digest_of(digest_char)}, {"size", size}};
}

json docker_manifest() {
  return {{"schemaVersion", 2},
          {"mediaType", kDockerManifest},
          {"config", descriptor_json(kDockerConfig, 'c', 1469)},
          {"layers", json::array({descriptor_json(kDockerLayerGzip, '1', 2479),
                                  descriptor_json(kDockerLayerGzip, '2', 100)})}};
}

json oci_manifest(bool with_media_type) {
  json m = {
      {"schemaVersion", 2},
      {"config", descriptor_json(kOciConfig, 'c', 581)},
      {"layers",
       json::array({descriptor_json("application/vnd.oci.image.layer.v1.tar+gzip", '1', 3000)})}};
  if (with_media_type) {
    m["mediaType"] = kOciManifest;
  }
  return m;
}

json index_entry(char digest_char, const std::string& arch, const std::string& variant = "",
                 const std::string& os = "linux", const std::string& media_type = kOciManifest) {
  json p = {{"architecture", arch}, {"os", os}};
  if (!variant.empty()) {
    p["variant"] = variant;
  }
  json e = descriptor_json(media_type, digest_char, 500);
  e["platform"] = p;
  return e;
}

json index_of(const json& entries, const char* media_type = kOciIndex) {
  json i = {{"schemaVersion", 2}, {"manifests", entries}};
  if (media_type) {
    i["mediaType"] = media_type;
  }
  return i;
}

Manifest must_parse(const json& j, std::string_view content_type = "") {
  auto m = parse_manifest(j.dump(), content_type);
  if (!m.ok()) {
    FAIL(m.error().message);
  }
  return *m;
}

Manifest index_with(const json& entries) {
  Manifest m = must_parse(index_of(entries));
  REQUIRE(m.kind == Manifest::Kind::kIndex);
  return m;
}

}  // namespace

// ---------------------------------------------------------------------------
// parse_manifest

TEST_CASE("parse_manifest reads a Docker schema 2 manifest", "[registry][manifest]") {
  json j = docker_manifest();
  j["layers"].push_back({{"mediaType", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
                         {"digest", digest_of('3')},
                         {"size", 0},
                         {"urls", json::array({"https://foreign.example/layer", 5})}});
  Manifest m = must_parse(j, "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(m.kind == Manifest::Kind::kImage);
  CHECK(m.media_type == kDockerManifest);
  CHECK(m.config.media_type == kDockerConfig);
  CHECK(m.config.digest == digest_of('c'));
  CHECK(m.config.size == 1469);
  REQUIRE(m.layers.size() == 3);
  CHECK(m.layers[0].media_type == kDockerLayerGzip);
  CHECK(m.layers[0].digest == digest_of('1'));
  CHECK(m.layers[0].size == 2479);
  CHECK(m.layers[1].digest == digest_of('2'));
  CHECK(m.layers[2].size == 0);
  CHECK(m.layers[2].urls == std::vector<std::string>{"https://foreign.example/layer"});
  CHECK(m.manifests.empty());
}

TEST_CASE("parse_manifest reads OCI manifests with and without mediaType", "[registry][manifest]") {
  for (bool with_media_type : {true, false}) {
    for (const char* ct :
         {kOciManifest, "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
          "application/json", "text/plain", ""}) {
      INFO(with_media_type << " " << ct);
      Manifest m = must_parse(oci_manifest(with_media_type), ct);
      CHECK(m.kind == Manifest::Kind::kImage);
      CHECK(m.media_type == kOciManifest);
      CHECK(m.config.media_type == kOciConfig);
      REQUIRE(m.layers.size() == 1);
      CHECK(m.layers[0].size == 3000);
    }
  }
  // Every layer type we unpack is accepted.
  for (const char* t :
       {"application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"}) {
    INFO(t);
    json j = oci_manifest(true);
    j["layers"][0]["mediaType"] = t;
    CHECK(must_parse(j).layers.at(0).media_type == t);
  }
}

TEST_CASE("parse_manifest: the body's mediaType wins over Content-Type", "[registry][manifest]") {
  Manifest m = must_parse(docker_manifest(), kOciIndex);
  CHECK(m.kind == Manifest::Kind::kImage);
  CHECK(m.media_type == kDockerManifest);

  Manifest idx = must_parse(index_of(json::array({index_entry('a', "amd64")}), kDockerManifestList),
                            kDockerManifest);
  CHECK(idx.kind == Manifest::Kind::kIndex);
  CHECK(idx.media_type == kDockerManifestList);
}

TEST_CASE("parse_manifest reads manifest lists and OCI indexes with their platforms",
          "[registry][manifest]") {
  const json entries = json::array({
      index_entry('a', "amd64", "", "linux", kDockerManifest),
      index_entry('b', "arm", "v7", "linux", kDockerManifest),
      index_entry('c', "aarch64", "", "linux", kDockerManifest),
      index_entry('d', "x86_64", "", "windows", kDockerManifest),
      index_entry('e', "arm64", "8", "linux", kDockerManifest),
      index_entry('f', "armhf", "", "linux", kDockerManifest),
  });
  for (const char* media_type : {kDockerManifestList, kOciIndex}) {
    INFO(media_type);
    json j = index_of(entries, media_type);
    // Attestation-style entry without a platform.
    j["manifests"].push_back(descriptor_json(kOciManifest, '9', 840));
    Manifest m = must_parse(j);
    CHECK(m.kind == Manifest::Kind::kIndex);
    CHECK(m.media_type == media_type);
    CHECK(m.layers.empty());
    REQUIRE(m.manifests.size() == 7);
    const std::string want[] = {"linux/amd64",   "linux/arm/v7",   "linux/arm64/v8",
                                "windows/amd64", "linux/arm64/v8", "linux/arm/v7"};
    for (size_t i = 0; i < 6; ++i) {
      INFO(i);
      REQUIRE(m.manifests[i].platform.has_value());
      CHECK(m.manifests[i].platform->to_string() == want[i]);
      CHECK(m.manifests[i].media_type == kDockerManifest);
      CHECK(m.manifests[i].size == 500);
    }
    CHECK(m.manifests[0].digest == digest_of('a'));
    CHECK_FALSE(m.manifests[6].platform.has_value());
  }
  // An OCI index without mediaType is told from a manifest by "manifests".
  for (const char* ct : {"", "application/json"}) {
    Manifest m = must_parse(index_of(entries, nullptr), ct);
    CHECK(m.kind == Manifest::Kind::kIndex);
    CHECK(m.media_type == kOciIndex);
  }
  // An empty index parses (and selects nothing).
  CHECK(must_parse(index_of(json::array())).manifests.empty());
}

TEST_CASE("parse_manifest refuses schema 1", "[registry][manifest]") {
  const json v1 = {{"schemaVersion", 1},
                   {"name", "library/busybox"},
                   {"tag", "latest"},
                   {"fsLayers", json::array({{{"blobSum", digest_of('1')}}})}};
  for (const char* ct :
       {"application/vnd.docker.distribution.manifest.v1+prettyjws", "application/json", ""}) {
    INFO(ct);
    auto m = parse_manifest(v1.dump(), ct);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(m.error().message, Catch::Contains("schema 1 has been removed"));
  }
  // The media type alone is enough.
  for (const char* ct : {"application/vnd.docker.distribution.manifest.v1+prettyjws",
                         "application/vnd.docker.distribution.manifest.v1+json"}) {
    INFO(ct);
    json j = docker_manifest();
    j.erase("mediaType");
    auto m = parse_manifest(j.dump(), ct);
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.error().message, Catch::Contains("schema 1 has been removed"));

    j["mediaType"] = ct;
    auto body = parse_manifest(j.dump(), kDockerManifest);
    REQUIRE_FALSE(body.ok());
    CHECK_THAT(body.error().message, Catch::Contains("schema 1 has been removed"));
  }
}

TEST_CASE("parse_manifest: 4 MiB is the limit", "[registry][manifest]") {
  const std::string body = docker_manifest().dump();
  std::string at_limit = body + std::string(kMaxManifestBytes - body.size(), ' ');
  REQUIRE(at_limit.size() == kMaxManifestBytes);
  CHECK(parse_manifest(at_limit, kDockerManifest).ok());

  at_limit += ' ';
  auto m = parse_manifest(at_limit, kDockerManifest);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().kind == ErrorKind::kInvalidArgument);
  CHECK_THAT(m.error().message, Catch::Contains("larger than 4 MiB"));
}

TEST_CASE("parse_manifest refuses malformed manifests", "[registry][manifest]") {
  struct Row {
    std::string name;
    std::string bytes;
    std::string content_type;
    std::string message;  // a part of the error message
  };
  auto with = [](json j, const std::function<void(json&)>& edit) {
    edit(j);
    return j.dump();
  };
  const std::string ct = kDockerManifest;
  const Row rows[] = {
      {"empty", "", ct, "not a JSON object"},
      {"not JSON", "<html>not found</html>", ct, "not a JSON object"},
      {"truncated", docker_manifest().dump().substr(0, 40), ct, "not a JSON object"},
      {"array", "[]", ct, "not a JSON object"},
      {"string", "\"manifest\"", ct, "not a JSON object"},
      {"null", "null", ct, "not a JSON object"},
      {"number", "2", ct, "not a JSON object"},
      {"no schemaVersion", with(docker_manifest(), [](json& j) { j.erase("schemaVersion"); }), ct,
       "schemaVersion is not 2"},
      {"schemaVersion 3", with(docker_manifest(), [](json& j) { j["schemaVersion"] = 3; }), ct,
       "schemaVersion is not 2"},
      {"schemaVersion string", with(docker_manifest(), [](json& j) { j["schemaVersion"] = "2"; }),
       ct, "schemaVersion is not 2"},
      {"schemaVersion float", with(docker_manifest(), [](json& j) { j["schemaVersion"] = 2.5; }),
       ct, "schemaVersion is not 2"},
      {"unknown media type",
       with(docker_manifest(), [](json& j) { j["mediaType"] = "application/vnd.example+json"; }),
       ct, "unsupported manifest media type application/vnd.example+json"},
      {"unknown content type", with(docker_manifest(), [](json& j) { j.erase("mediaType"); }),
       "application/octet-stream", "unsupported manifest media type application/octet-stream"},
      {"no config", with(docker_manifest(), [](json& j) { j.erase("config"); }), ct, "no config"},
      {"config not an object", with(docker_manifest(), [](json& j) { j["config"] = "x"; }), ct,
       "the config is not an object"},
      {"config not JSON",
       with(docker_manifest(),
            [](json& j) { j["config"]["mediaType"] = "application/vnd.cncf.helm.chart.content"; }),
       ct, "this is not a container image: its config is of type application/vnd.cncf.helm"},
      {"config without type",
       with(docker_manifest(), [](json& j) { j["config"].erase("mediaType"); }), ct,
       "this is not a container image"},
      {"config bad digest",
       with(docker_manifest(), [](json& j) { j["config"]["digest"] = "sha256:abc"; }), ct,
       "the config has an invalid digest \"sha256:abc\""},
      {"config no digest", with(docker_manifest(), [](json& j) { j["config"].erase("digest"); }),
       ct, "the config has an invalid digest"},
      {"config no size", with(docker_manifest(), [](json& j) { j["config"].erase("size"); }), ct,
       "the config has no valid size"},
      {"missing layers", with(docker_manifest(), [](json& j) { j.erase("layers"); }), ct,
       "no layers"},
      {"layers not an array",
       with(docker_manifest(), [](json& j) { j["layers"] = json::object(); }), ct, "no layers"},
      {"layer not an object", with(docker_manifest(), [](json& j) { j["layers"][1] = 5; }), ct,
       "a layer is not an object"},
      {"layer bad digest",
       with(docker_manifest(),
            [](json& j) { j["layers"][1]["digest"] = "md5:" + std::string(32, 'a'); }),
       ct, "a layer has an invalid digest"},
      {"layer uppercase digest",
       with(docker_manifest(),
            [](json& j) { j["layers"][0]["digest"] = "sha256:" + std::string(64, 'A'); }),
       ct, "a layer has an invalid digest"},
      {"layer digest too long",
       with(docker_manifest(), [](json& j) { j["layers"][0]["digest"] = digest_of('a') + "0"; }),
       ct, "a layer has an invalid digest"},
      {"layer digest not a string",
       with(docker_manifest(), [](json& j) { j["layers"][0]["digest"] = 12; }), ct,
       "a layer has an invalid digest"},
      {"negative size", with(docker_manifest(), [](json& j) { j["layers"][0]["size"] = -1; }), ct,
       "a layer has no valid size"},
      {"huge unsigned size",
       with(docker_manifest(), [](json& j) { j["layers"][0]["size"] = UINT64_MAX; }), ct,
       "a layer has no valid size"},
      {"size float", with(docker_manifest(), [](json& j) { j["layers"][0]["size"] = 1.5; }), ct,
       "a layer has no valid size"},
      {"size string", with(docker_manifest(), [](json& j) { j["layers"][0]["size"] = "100"; }), ct,
       "a layer has no valid size"},
      {"missing size", with(docker_manifest(), [](json& j) { j["layers"][0].erase("size"); }), ct,
       "a layer has no valid size"},
      {"unknown layer type",
       with(docker_manifest(),
            [](json& j) { j["layers"][1]["mediaType"] = "application/vnd.example.layer.v1+foo"; }),
       ct, "unsupported layer media type application/vnd.example.layer.v1+foo"},
      {"layer without type",
       with(docker_manifest(), [](json& j) { j["layers"][0].erase("mediaType"); }), ct,
       "unsupported layer media type"},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    auto m = parse_manifest(r.bytes, r.content_type);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(m.error().message, Catch::Contains(r.message));
  }
}

TEST_CASE("parse_manifest refuses malformed indexes", "[registry][manifest]") {
  const json good = json::array({index_entry('a', "amd64")});
  struct Row {
    std::string name;
    json body;
    std::string message;
  };
  auto edited = [&](const std::function<void(json&)>& edit) {
    json j = index_of(good);
    edit(j);
    return j;
  };
  const Row rows[] = {
      {"no manifests", edited([](json& j) { j.erase("manifests"); }), "no manifests"},
      {"manifests not an array", edited([](json& j) { j["manifests"] = json::object(); }),
       "no manifests"},
      {"entry not an object", edited([](json& j) { j["manifests"].push_back("x"); }),
       "a manifest list entry is not an object"},
      {"entry bad digest", edited([](json& j) { j["manifests"][0]["digest"] = "sha256:xyz"; }),
       "a manifest list entry has an invalid digest"},
      {"entry negative size", edited([](json& j) { j["manifests"][0]["size"] = -10; }),
       "a manifest list entry has no valid size"},
      {"schemaVersion 1", edited([](json& j) { j["schemaVersion"] = 1; }),
       "schema 1 has been removed"},
      {"no schemaVersion", edited([](json& j) { j.erase("schemaVersion"); }),
       "schemaVersion is not 2"},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    auto m = parse_manifest(r.body.dump(), kOciIndex);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(m.error().message, Catch::Contains(r.message));
  }
}

TEST_CASE("parse_manifest cuts long untrusted text out of its messages", "[registry][manifest]") {
  json j = docker_manifest();
  j["layers"][0]["digest"] = std::string(10000, 'x');
  auto m = parse_manifest(j.dump(), kDockerManifest);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.size() < 300);

  j = docker_manifest();
  j["mediaType"] = std::string(10000, 'y');
  auto t = parse_manifest(j.dump(), kDockerManifest);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.size() < 300);
}

// ---------------------------------------------------------------------------
// select_platform

TEST_CASE("select_platform picks the exact os/arch/variant", "[registry][manifest]") {
  Manifest m = index_with(json::array({
      index_entry('a', "amd64"),
      index_entry('b', "arm", "v6"),
      index_entry('c', "arm", "v7"),
      index_entry('d', "arm64", "v8"),
      index_entry('e', "ppc64le"),
      index_entry('f', "amd64", "", "windows"),
  }));
  struct Row {
    std::string platform;
    char digest;
  };
  const Row rows[] = {
      {"linux/amd64", 'a'},  {"amd64", 'a'},         {"x86_64", 'a'}, {"linux/arm/v6", 'b'},
      {"linux/arm/v7", 'c'}, {"linux/arm", 'c'},     {"arm64", 'd'},  {"linux/arm64/v8", 'd'},
      {"aarch64", 'd'},      {"linux/ppc64le", 'e'},
  };
  for (const auto& r : rows) {
    INFO(r.platform);
    auto want = parse_platform(r.platform);
    REQUIRE(want.ok());
    auto d = select_platform(m, *want);
    REQUIRE(d.ok());
    CHECK(d->digest == digest_of(r.digest));
    CHECK(d->size == 500);
  }
}

TEST_CASE("select_platform: variants", "[registry][manifest]") {
  // arm64 entries without a variant are arm64/v8.
  Manifest arm64 = index_with(json::array({index_entry('a', "amd64"), index_entry('b', "arm64")}));
  auto d = select_platform(arm64, *parse_platform("linux/arm64/v8"));
  REQUIRE(d.ok());
  CHECK(d->digest == digest_of('b'));
  CHECK(select_platform(arm64, *parse_platform("linux/arm64"))->digest == digest_of('b'));

  // A wanted variant: the exact one wins over an entry without a variant,
  // which wins over nothing; another variant never matches.
  Manifest amd64 = index_with(json::array({
      index_entry('a', "amd64"),
      index_entry('b', "amd64", "v3"),
      index_entry('c', "amd64", "v2"),
  }));
  CHECK(select_platform(amd64, *parse_platform("linux/amd64/v3"))->digest == digest_of('b'));
  CHECK(select_platform(amd64, *parse_platform("linux/amd64/v2"))->digest == digest_of('c'));
  CHECK(select_platform(amd64, *parse_platform("linux/amd64/v4"))->digest == digest_of('a'));
  Manifest v3_only = index_with(json::array({index_entry('b', "amd64", "v3")}));
  auto none = select_platform(v3_only, *parse_platform("linux/amd64/v2"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().kind == ErrorKind::kNotFound);

  // No variant wanted: the host's variant is preferred, else the first.
  Manifest plain_last =
      index_with(json::array({index_entry('b', "amd64", "v3"), index_entry('a', "amd64")}));
  const char expect = host_platform().variant.empty() ? 'a' : 'b';
  Platform want_amd64;
  want_amd64.architecture = "amd64";
  CHECK(select_platform(plain_last, want_amd64)->digest == digest_of(expect));

  // arm entries without a variant are arm/v7, so v6 does not take them.
  Manifest arm = index_with(json::array({index_entry('a', "arm")}));
  CHECK(select_platform(arm, *parse_platform("linux/arm/v7"))->digest == digest_of('a'));
  auto v6 = select_platform(arm, *parse_platform("linux/arm/v6"));
  REQUIRE_FALSE(v6.ok());
  CHECK(v6.error().message == "no matching manifest for linux/arm/v6 in the manifest list entries");
}

TEST_CASE("select_platform: no match is NotFound with dockerd's message", "[registry][manifest]") {
  Manifest m = index_with(json::array({
      index_entry('a', "amd64"),
      index_entry('b', "arm64"),
      index_entry('c', "s390x", "", "windows"),
  }));
  auto want = parse_platform("linux/s390x");
  REQUIRE(want.ok());
  auto d = select_platform(m, *want);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().kind == ErrorKind::kNotFound);
  CHECK(d.error().message == "no matching manifest for linux/s390x in the manifest list entries");

  Manifest empty = index_with(json::array());
  auto e = select_platform(empty, *parse_platform("linux/amd64"));
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message == "no matching manifest for linux/amd64 in the manifest list entries");

  // Entries without a platform never match.
  json j = index_of(json::array());
  j["manifests"].push_back(descriptor_json(kOciManifest, 'a', 10));
  auto p = select_platform(must_parse(j), *parse_platform("linux/amd64"));
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("select_platform skips nested indexes", "[registry][manifest]") {
  Manifest m = index_with(json::array({
      index_entry('a', "amd64", "", "linux", kOciIndex),
      index_entry('b', "amd64", "", "linux", kDockerManifestList),
      index_entry('c', "amd64", "", "linux", kDockerManifest),
  }));
  auto d = select_platform(m, *parse_platform("linux/amd64"));
  REQUIRE(d.ok());
  CHECK(d->digest == digest_of('c'));

  Manifest only_nested =
      index_with(json::array({index_entry('a', "amd64", "", "linux", kOciIndex)}));
  auto n = select_platform(only_nested, *parse_platform("linux/amd64"));
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().kind == ErrorKind::kNotFound);
}

// ---------------------------------------------------------------------------
// parse_platform

TEST_CASE("parse_platform normalises like containerd", "[registry][manifest]") {
  struct Row {
    std::string in;
    std::string want;
  };
  const Row rows[] = {
      {"linux/amd64", "linux/amd64"},
      {"amd64", "linux/amd64"},
      {"x86_64", "linux/amd64"},
      {"x86-64", "linux/amd64"},
      {"linux/x86_64", "linux/amd64"},
      {"LINUX/AMD64", "linux/amd64"},
      {"  linux/amd64\n", "linux/amd64"},
      {"linux/arm64/v8", "linux/arm64/v8"},
      {"linux/arm64", "linux/arm64/v8"},
      {"linux/arm64/8", "linux/arm64/v8"},
      {"arm64", "linux/arm64/v8"},
      {"aarch64", "linux/arm64/v8"},
      {"linux/aarch64", "linux/arm64/v8"},
      {"linux/arm/v7", "linux/arm/v7"},
      {"linux/arm/7", "linux/arm/v7"},
      {"linux/arm/V6", "linux/arm/v6"},
      {"linux/arm", "linux/arm/v7"},
      {"arm", "linux/arm/v7"},
      {"armhf", "linux/arm/v7"},
      {"armel", "linux/arm/v6"},
      {"i386", "linux/386"},
      {"linux/386", "linux/386"},
      {"linux/s390x", "linux/s390x"},
      {"ppc64le", "linux/ppc64le"},
      {"linux/riscv64", "linux/riscv64"},
  };
  for (const auto& r : rows) {
    INFO(r.in);
    auto p = parse_platform(r.in);
    REQUIRE(p.ok());
    CHECK(p->to_string() == r.want);
  }
  // "linux" alone is the host's platform.
  auto host = parse_platform("linux");
  REQUIRE(host.ok());
  CHECK(host->to_string() == host_platform().to_string());
  CHECK(host_platform().os == "linux");
  CHECK_FALSE(host_platform().architecture.empty());
}

TEST_CASE("parse_platform refuses what it cannot pull", "[registry][manifest]") {
  const std::string invalid[] = {
      "",
      "   ",
      "/",
      "//",
      "linux/",
      "/amd64",
      "linux//x",
      "linux/amd64/",
      "a/b/c/d",
      "linux/amd64/v8/x",
      "windows",
      "sparc",
      "linux/sparc",
      "linux/ amd64x",
      "amd 64",
  };
  for (const auto& t : invalid) {
    INFO(t);
    auto p = parse_platform(t);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().kind == ErrorKind::kInvalidArgument);
  }
  auto d = parse_platform("a/b/c/d");
  CHECK(d.error().message ==
        "\"a/b/c/d\": unknown operating system or architecture: invalid argument");

  for (const std::string os :
       {"windows/amd64", "darwin/arm64", "Windows/amd64/v2", "freebsd/amd64"}) {
    INFO(os);
    auto p = parse_platform(os);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(p.error().message, Catch::StartsWith("operating system is not supported: "));
  }
  CHECK(parse_platform("windows/amd64").error().message ==
        "operating system is not supported: windows (this daemon runs linux)");
}

// ---------------------------------------------------------------------------
// config_diff_ids

TEST_CASE("config_diff_ids returns the diff IDs of a matching config", "[registry][manifest]") {
  const json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs",
       {{"type", "layers"}, {"diff_ids", json::array({digest_of('1'), digest_of('2')})}}}};
  auto ids = config_diff_ids(config.dump(), 2);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{digest_of('1'), digest_of('2')});

  auto none = config_diff_ids(R"({"rootfs":{"type":"layers","diff_ids":[]}})", 0);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("config_diff_ids refuses configs that do not match", "[registry][manifest]") {
  struct Row {
    std::string config;
    size_t layers;
    std::string message;
  };
  const std::string two = R"({"rootfs":{"type":"layers","diff_ids":[")" + digest_of('1') +
                          R"(",")" + digest_of('2') + R"("]}})";
  const Row rows[] = {
      {two, 3, "invalid image: the manifest has 3 layers but the config names 2"},
      {two, 1, "invalid image: the manifest has 1 layers but the config names 2"},
      {R"({"rootfs":{"diff_ids":["sha256:abc"]}})", 1, "a bad diff ID"},
      {R"({"rootfs":{"diff_ids":[42]}})", 1, "a bad diff ID"},
      {R"({"rootfs":{"diff_ids":[null]}})", 1, "a bad diff ID"},
      {R"({"rootfs":{"diff_ids":[")" + std::string(64, 'a') + R"("]}})", 1, "a bad diff ID"},
      {"{}", 0, "no rootfs.diff_ids"},
      {R"({"rootfs":null})", 0, "no rootfs.diff_ids"},
      {R"({"rootfs":[]})", 0, "no rootfs.diff_ids"},
      {R"({"rootfs":{}})", 0, "no rootfs.diff_ids"},
      {R"({"rootfs":{"diff_ids":{}}})", 0, "no rootfs.diff_ids"},
      {R"({"rootfs":{"diff_ids":"sha256:x"}})", 0, "no rootfs.diff_ids"},
      {"", 0, "not a JSON object"},
      {"not json", 0, "not a JSON object"},
      {"[]", 0, "not a JSON object"},
      {two.substr(0, 30), 2, "not a JSON object"},
  };
  for (const auto& r : rows) {
    INFO(r.config);
    auto ids = config_diff_ids(r.config, r.layers);
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.error().kind == ErrorKind::kInvalidArgument);
    CHECK_THAT(ids.error().message, Catch::Contains(r.message));
  }
}

TEST_CASE("manifest_accept lists every type dockerd asks for", "[registry][manifest]") {
  CHECK(manifest_accept() ==
        std::vector<std::string>{kOciManifest, kDockerManifest, kDockerManifestList, kOciIndex});
}
