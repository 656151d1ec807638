#include <catch2/catch.hpp>
#include <thread>

#include "certgen/bundle.hpp"
#include "certgen/inspect.hpp"
#include "certgen/layout.hpp"
#include "dind/base/fs.hpp"
#include "tree_snapshot.hpp"

using namespace certgen;
using namespace testsupport;
using dind::base::ErrorKind;
using dind::base::TempDir;
namespace fs = std::filesystem;

namespace {

BundleOptions options_for(const fs::path& dir, Clock::time_point now = Clock::now()) {
  BundleOptions o;
  o.dir = dir;
  o.host.etc_hostname = "abc123";
  o.host.hostname = "abc123";
  o.host.addresses = {"127.0.0.1", "172.18.0.3", "::1"};
  o.now = now;
  return o;
}

std::string fingerprint_of(const fs::path& pem_file) {
  return sha256_fingerprint(cert_from_pem(read_text(pem_file))->get());
}

bool has_san(const fs::path& cert_file, const std::string& san) {
  for (const auto& s : cert_sans(cert_from_pem(read_text(cert_file))->get())) {
    if (s.to_string() == san) {
      return true;
    }
  }
  return false;
}

// Runs ensure_bundle expecting failure, and checks nothing changed on disk.
dind::base::Error expect_failure_without_change(const BundleOptions& o) {
  auto before = snapshot(o.dir.parent_path());
  auto r = ensure_bundle(o);
  REQUIRE_FALSE(r.ok());
  auto after = snapshot(o.dir.parent_path());
  INFO(describe_difference(before, after));
  CHECK(after == before);
  return r.error();
}

}  // namespace

TEST_CASE("a fresh bundle has the docker:dind layout, modes and profiles", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  auto r = ensure_bundle(options_for(dir));
  REQUIRE(r.ok());
  CHECK(r->mode == BundleMode::kCreated);
  CHECK(r->ca_created);
  CHECK(r->warnings.empty());

  auto snap = snapshot(dir);
  std::vector<std::string> files;
  for (auto& [path, e] : snap) {
    if (e.type == 'f') {
      files.push_back(path);
    }
  }
  const std::vector<std::string> want = {"ca/cert.pem",     "ca/key.pem",     "client/ca.pem",
                                         "client/cert.pem", "client/key.pem", "server/ca.pem",
                                         "server/cert.pem", "server/key.pem"};
  CHECK(files == want);
  CHECK(mode_of(dir / "ca/key.pem") == 0600);
  CHECK(mode_of(dir / "server/key.pem") == 0600);
  CHECK(mode_of(dir / "client/key.pem") == 0644);
  CHECK(mode_of(dir / "client/cert.pem") == 0644);
  CHECK(mode_of(dir / "ca") == 0755);
  REQUIRE_FALSE(r->written.empty());
  CHECK(r->written.back() == dir / "client/ca.pem");
  CHECK(read_text(dir / "client/ca.pem") == read_text(dir / "ca/cert.pem"));
  CHECK(read_text(dir / "server/ca.pem") == read_text(dir / "ca/cert.pem"));
  CHECK(verify_bundle(dir, Clock::now()).ok());

  CHECK(has_san(dir / "server/cert.pem", "DNS:docker"));
  CHECK(has_san(dir / "server/cert.pem", "DNS:localhost"));
  CHECK(has_san(dir / "server/cert.pem", "DNS:abc123"));
  CHECK(has_san(dir / "server/cert.pem", "IP:172.18.0.3"));
  CHECK(has_san(dir / "server/cert.pem", "IP:::1"));
  auto client = cert_from_pem(read_text(dir / "client/cert.pem"));
  CHECK(cert_sans(client->get()).empty());
  auto ca = cert_from_pem(read_text(dir / "ca/cert.pem"));
  CHECK(is_ca_cert(ca->get()));
  CHECK(fingerprint_of(dir / "ca/cert.pem") == r->ca_fingerprint);
}

TEST_CASE("a second run keeps the CA and keys and re-issues the leaves", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  const auto ca_fp = fingerprint_of(dir / "ca/cert.pem");
  const auto ca_key = read_text(dir / "ca/key.pem");
  const auto server_key = read_text(dir / "server/key.pem");
  const auto client_key = read_text(dir / "client/key.pem");
  const auto server_fp = fingerprint_of(dir / "server/cert.pem");
  const auto old_client = read_text(dir / "client/cert.pem");

  auto o = options_for(dir);
  o.host.addresses.push_back("10.20.30.40");  // the host gained an address
  o.plan.extra_sans = "DNS:dind";
  auto r = ensure_bundle(o);
  REQUIRE(r.ok());
  CHECK(r->mode == BundleMode::kRefreshed);
  CHECK_FALSE(r->ca_created);
  CHECK_FALSE(r->ca_renewed);
  CHECK(fingerprint_of(dir / "ca/cert.pem") == ca_fp);
  CHECK(read_text(dir / "ca/key.pem") == ca_key);
  CHECK(read_text(dir / "server/key.pem") == server_key);
  CHECK(read_text(dir / "client/key.pem") == client_key);
  CHECK(fingerprint_of(dir / "server/cert.pem") != server_fp);
  CHECK(has_san(dir / "server/cert.pem", "IP:10.20.30.40"));
  CHECK(has_san(dir / "server/cert.pem", "DNS:dind"));
  // The first run's client certificate still verifies against the CA.
  CHECK(verify_certificate(cert_from_pem(old_client)->get(),
                           cert_from_pem(read_text(dir / "client/ca.pem"))->get(), "sslclient",
                           Clock::now())
            .ok());
  CHECK(verify_bundle(dir, Clock::now()).ok());
}

TEST_CASE("a CA near or past expiry is renewed from the same key, loudly", "[certgen][bundle]") {
  for (int age_days : {800, 900}) {  // 25 days left; expired
    INFO(age_days);
    TempDir tmp;
    auto dir = tmp.path() / "certs";
    const auto then = Clock::now() - std::chrono::days(age_days);
    REQUIRE(ensure_bundle(options_for(dir, then)).ok());
    const auto ca_fp = fingerprint_of(dir / "ca/cert.pem");
    const auto ca_key = read_text(dir / "ca/key.pem");
    auto r = ensure_bundle(options_for(dir));
    REQUIRE(r.ok());
    CHECK(r->ca_renewed);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].find("CA certificate") != std::string::npos);
    CHECK(fingerprint_of(dir / "ca/cert.pem") != ca_fp);
    CHECK(read_text(dir / "ca/key.pem") == ca_key);
    CHECK(verify_bundle(dir, Clock::now()).ok());
  }
}

TEST_CASE("bring-your-own server certificates are verified and never touched",
          "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  fs::remove_all(dir / "ca");
  fs::remove_all(dir / "client");
  auto before = snapshot(dir);
  auto r = ensure_bundle(options_for(dir));
  REQUIRE(r.ok());
  CHECK(r->mode == BundleMode::kUserManaged);
  CHECK(snapshot(dir) == before);
  CHECK(verify_bundle(dir, Clock::now()).ok());

  SECTION("a server certificate from another CA is refused") {
    TempDir other;
    REQUIRE(ensure_bundle(options_for(other.path() / "c")).ok());
    fs::copy_file(other.path() / "c/ca/cert.pem", dir / "server/ca.pem",
                  fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("does not verify") != std::string::npos);
  }
  SECTION("a server key that is not the certificate's is refused") {
    TempDir other;
    REQUIRE(ensure_bundle(options_for(other.path() / "c")).ok());
    fs::copy_file(other.path() / "c/server/key.pem", dir / "server/key.pem",
                  fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.kind == ErrorKind::kDataLoss);
    CHECK(e.message.find("does not match") != std::string::npos);
  }
}

TEST_CASE("bad input fails clearly and leaves the directory byte-identical", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  TempDir other;
  REQUIRE(ensure_bundle(options_for(other.path() / "c")).ok());
  const fs::path o = other.path() / "c";

  SECTION("malformed DOCKER_TLS_SAN") {
    auto opts = options_for(dir);
    opts.plan.extra_sans = "DNS:ok,IP:1.2.3";
    auto e = expect_failure_without_change(opts);
    CHECK(e.kind == ErrorKind::kInvalidArgument);
    CHECK(e.message.find("IP:1.2.3") != std::string::npos);
  }
  for (BundleFile f : kAllBundleFiles) {
    DYNAMIC_SECTION("corrupt " << relative_path(f)) {
      write_text(path_of(dir, f), "-----BEGIN GARBAGE-----\nnope\n-----END GARBAGE-----\n");
      auto e = expect_failure_without_change(options_for(dir));
      CHECK(e.kind == ErrorKind::kDataLoss);
      CHECK(e.message.find(path_of(dir, f).string()) != std::string::npos);
    }
    DYNAMIC_SECTION("empty " << relative_path(f)) {
      write_text(path_of(dir, f), "");
      auto e = expect_failure_without_change(options_for(dir));
      CHECK(e.message.find("is empty") != std::string::npos);
    }
    DYNAMIC_SECTION("truncated " << relative_path(f)) {
      auto text = read_text(path_of(dir, f));
      write_text(path_of(dir, f), text.substr(0, text.size() / 2));
      CHECK(expect_failure_without_change(options_for(dir)).kind == ErrorKind::kDataLoss);
    }
  }
  SECTION("CA key that does not match the CA certificate") {
    fs::copy_file(o / "ca/key.pem", dir / "ca/key.pem", fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("ca/key.pem does not match") != std::string::npos);
  }
  SECTION("server key that does not match the server certificate") {
    fs::copy_file(o / "server/key.pem", dir / "server/key.pem",
                  fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("server/key.pem does not match") != std::string::npos);
  }
  SECTION("client key that does not match the client certificate") {
    fs::copy_file(o / "client/key.pem", dir / "client/key.pem",
                  fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("client/key.pem does not match") != std::string::npos);
  }
  SECTION("a leaf posing as the CA") {
    fs::copy_file(dir / "server/cert.pem", dir / "ca/cert.pem",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(dir / "server/key.pem", dir / "ca/key.pem", fs::copy_options::overwrite_existing);
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("not a CA certificate") != std::string::npos);
  }
  SECTION("a CA certificate without its key and no server set") {
    fs::remove(dir / "ca/key.pem");
    fs::remove(dir / "server/key.pem");
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.kind == ErrorKind::kFailedPrecondition);
  }
  SECTION("a regular file where a directory must be (unwritable layout)") {
    fs::remove_all(dir / "client");
    write_text(dir / "client", "in the way");
    auto e = expect_failure_without_change(options_for(dir));
    CHECK(e.message.find("not a directory") != std::string::npos);
  }
}

TEST_CASE("a failure during a fresh generation leaves no directory behind", "[certgen][bundle]") {
  TempDir tmp;
  SECTION("the bundle directory is a file") {
    write_text(tmp.path() / "certs", "x");
    expect_failure_without_change(options_for(tmp.path() / "certs"));
  }
  SECTION("bad SANs on an empty machine create nothing") {
    auto o = options_for(tmp.path() / "certs");
    o.plan.extra_sans = "FOO:bar";
    expect_failure_without_change(o);
    CHECK_FALSE(fs::exists(tmp.path() / "certs"));
  }
  SECTION("client/ blocked: ca/ and server/ are rolled back too") {
    fs::create_directory(tmp.path() / "certs");
    write_text(tmp.path() / "certs" / "client", "blocker");
    expect_failure_without_change(options_for(tmp.path() / "certs"));
    CHECK_FALSE(fs::exists(tmp.path() / "certs" / "ca"));
  }
}

TEST_CASE("a refresh restores the required key modes", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  fs::permissions(dir / "client/key.pem", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(dir / "server/key.pem", fs::perms::all);
  CHECK_FALSE(verify_bundle(dir, Clock::now()).ok());
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  CHECK(mode_of(dir / "client/key.pem") == 0644);
  CHECK(mode_of(dir / "server/key.pem") == 0600);
  CHECK(verify_bundle(dir, Clock::now()).ok());
}

TEST_CASE("existing keys of another type are reused with a warning", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  auto first = options_for(dir);
  first.key_type = KeyType::kEd25519;
  REQUIRE(ensure_bundle(first).ok());
  auto r = ensure_bundle(options_for(dir));  // asks for ecdsa-p256
  REQUIRE(r.ok());
  CHECK(r->warnings.size() == 2);  // server and client keys
  auto summary = inspect_bundle(dir);
  REQUIRE(summary.ok());
  for (const auto& c : summary->certs) {
    CHECK(c.key_type == "ed25519");
  }
}

TEST_CASE("concurrent starts on one directory serialise and agree on one CA", "[certgen][bundle]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  fs::create_directory(dir);
  std::vector<std::string> fps(4);
  std::vector<bool> oks(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < fps.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = ensure_bundle(options_for(dir));
      oks[i] = r.ok();
      fps[i] = r.ok() ? r->ca_fingerprint : "";
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < fps.size(); ++i) {
    CHECK(oks[i]);
    CHECK(fps[i] == fps[0]);
  }
  CHECK(verify_bundle(dir, Clock::now()).ok());
}

TEST_CASE("summary describes the bundle", "[certgen][inspect]") {
  TempDir tmp;
  auto dir = tmp.path() / "certs";
  REQUIRE(ensure_bundle(options_for(dir)).ok());
  auto s = inspect_bundle(dir);
  REQUIRE(s.ok());
  REQUIRE(s->certs.size() == 3);
  CHECK(s->certs[0].file == "ca/cert.pem");
  CHECK(s->certs[1].file == "server/cert.pem");
  CHECK(s->certs[2].file == "client/cert.pem");
  const std::string text = format_summary(*s, Clock::now());
  CHECK(text.find("DNS:docker") != std::string::npos);
  CHECK(text.find("ecdsa-p256") != std::string::npos);
  CHECK(text.find(s->certs[0].fingerprint) != std::string::npos);
  CHECK(format_summary_json(*s).find("\"file\": \"server/cert.pem\"") != std::string::npos);
  CHECK_FALSE(inspect_bundle(tmp.path() / "missing").ok());
}
