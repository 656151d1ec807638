// Volumes of the local driver: typed create/inspect/list/remove/prune on a
// temporary directory, the in-use refusal under the volumes' own lock, and
// Docker's messages for bad names.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "dind/base/text.hpp"
#include "dind/engine/volumes.hpp"

namespace fs = std::filesystem;
using namespace dind::engine;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("dind-vol-test-" + dind::base::random_hex(8));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("volumes: create, inspect, list, remove", "[engine][volumes]") {
  TempDir tmp;
  Volumes v(tmp.path);
  auto a = v.create("data", {{"team", "ci"}});
  REQUIRE(a);
  CHECK(a->name == "data");
  CHECK(a->labels == std::map<std::string, std::string>{{"team", "ci"}});
  CHECK(a->mountpoint == tmp.path / "data" / "_data");
  CHECK(fs::is_directory(a->mountpoint));
  CHECK_FALSE(a->created_at.empty());
  // Creating an existing name returns it unchanged (labels kept).
  std::ofstream(a->mountpoint / "file") << "kept";
  auto again = v.create("data", {});
  REQUIRE(again);
  CHECK(again->labels.at("team") == "ci");
  CHECK(fs::exists(a->mountpoint / "file"));

  auto anon = v.create("", {});
  REQUIRE(anon);
  CHECK(Volumes::anonymous(anon->name));
  REQUIRE(v.list().size() == 2);
  CHECK(v.list()[0].name < v.list()[1].name);

  auto missing = v.inspect("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == dind::base::ErrorKind::kNotFound);
  CHECK(missing.error().message == "get nope: no such volume");
  for (const char* bad : {"../data", "a/b", "..", "", "x"}) {
    INFO(bad);
    CHECK_FALSE(v.inspect(bad));
  }
  CHECK(v.remove("nope", true));
  CHECK_FALSE(v.remove("nope", false));
  REQUIRE(v.remove("data", false));
  CHECK_FALSE(fs::exists(tmp.path / "data"));
}

TEST_CASE("volumes: bad names get Docker's message", "[engine][volumes]") {
  TempDir tmp;
  Volumes v(tmp.path);
  // A leading '/' is fine for container names: as a volume name it once
  // joined to an absolute path and created the volume outside the data root.
  const std::string escape = (fs::temp_directory_path() / ("dind-vol-escape-" + dind::base::random_hex(8))).string();
  for (const std::string bad : {std::string("has space"), std::string("../up"), escape, std::string("-lead"),
                                std::string("a")}) {
    INFO(bad);
    auto r = v.create(bad, {});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == dind::base::ErrorKind::kInvalidArgument);
    CHECK(r.error().message.find("includes invalid characters for a local volume name") != std::string::npos);
  }
  CHECK(v.list().empty());
  CHECK_FALSE(fs::exists(escape));
}

TEST_CASE("volumes: in use is refused, prune keeps used and named ones", "[engine][volumes]") {
  TempDir tmp;
  Volumes v(tmp.path);
  REQUIRE(v.create("named", {}));
  auto used = v.create("", {});
  auto unused = v.create("", {});
  REQUIRE(used);
  REQUIRE(unused);
  v.set_users([&](const std::string& name) {
    return name == used->name ? std::vector<std::string>{"c1", "c2"} : std::vector<std::string>{};
  });
  auto refused = v.remove(used->name, true);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == dind::base::ErrorKind::kConflict);
  CHECK(refused.error().message == "remove " + used->name + ": volume is in use - [c1 c2]");
  CHECK(v.prune(false) == std::vector<std::string>{unused->name});
  CHECK(v.prune(true) == std::vector<std::string>{"named"});
  REQUIRE(v.list().size() == 1);
  CHECK(v.list()[0].name == used->name);
}
