#include <catch2/catch.hpp>

#include "dind/base/sha256.hpp"
#include "dind/image/chain_id.hpp"
#include "dind/image/content_store.hpp"
#include "tree_snapshot.hpp"

using namespace dind::image;
using dind::base::ErrorKind;
using dind::base::TempDir;

TEST_CASE("sha256 digests and chain IDs match sha256sum", "[image][chain]") {
  const std::string a = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
  const std::string b = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
  const std::string c = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";
  CHECK(dind::base::sha256_digest("a") == a);
  // Values computed with `printf '%s %s' ... | sha256sum`.
  auto ids = chain_ids({a, b, c});
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == a);
  CHECK(ids[1] == "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
  CHECK(ids[2] == "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
  CHECK(chain_ids({}).empty());
}

TEST_CASE("content store: put, read, verified streaming writes", "[image][content]") {
  TempDir tmp;
  auto store = ContentStore::open(tmp.path());
  REQUIRE(store.ok());
  auto d = store->put("hello");
  REQUIRE(d.ok());
  CHECK(*d == dind::base::sha256_digest("hello"));
  CHECK(store->has(*d));
  CHECK(*store->read(*d) == "hello");
  CHECK(testsupport::mode_of(store->path(*d)) == 0600);

  auto w = store->writer(dind::base::sha256_digest("abcdef"), 6);
  REQUIRE(w.ok());
  REQUIRE(w->write("abc").ok());
  REQUIRE(w->write("def").ok());
  CHECK(*w->commit() == dind::base::sha256_digest("abcdef"));
}

TEST_CASE("content store: bad writes leave nothing behind", "[image][content]") {
  TempDir tmp;
  auto store = ContentStore::open(tmp.path());
  REQUIRE(store.ok());
  auto before = testsupport::snapshot(tmp.path());
  {
    auto w = store->writer(dind::base::sha256_digest("expected"));
    REQUIRE(w->write("something else").ok());
    auto r = w->commit();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("digest mismatch") != std::string::npos);
  }
  {
    auto w = store->writer({}, 3);
    auto r = w->write("four");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("larger than the expected 3 bytes") != std::string::npos);
  }
  {
    auto w = store->writer({}, 10);
    REQUIRE(w->write("short").ok());
    auto r = w->commit();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("size mismatch") != std::string::npos);
  }
  {
    auto w = store->writer();
    REQUIRE(w->write("abandoned").ok());
  }  // dropped without commit
  CHECK(testsupport::snapshot(tmp.path()) == before);
  CHECK_FALSE(store->writer("sha256:nothex").ok());
  CHECK_FALSE(store->has("sha256:../../etc/passwd"));
  CHECK(store->read("sha256:" + std::string(64, '0')).error().kind == ErrorKind::kNotFound);
  CHECK(store->read("../x").error().kind == ErrorKind::kInvalidArgument);
}

TEST_CASE("content store: corruption is detected and gc removes the unreferenced",
          "[image][content]") {
  TempDir tmp;
  auto store = ContentStore::open(tmp.path());
  auto keep = *store->put("keep");
  auto drop = *store->put("drop");
  testsupport::write_text(store->path(keep), "tampered");
  CHECK(store->read(keep).error().kind == ErrorKind::kDataLoss);
  CHECK(*store->gc({keep}) == 1);
  CHECK(store->has(keep));
  CHECK_FALSE(store->has(drop));
  // A crash mid-write leaves an ingest file; reopening clears it.
  testsupport::write_text(tmp.path() / "ingest" / "ingest-stale", "partial");
  REQUIRE(ContentStore::open(tmp.path()).ok());
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "ingest" / "ingest-stale"));
}
