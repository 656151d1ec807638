#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/process.hpp"
#include "dind/runtime/shim_os.hpp"
#include "tree_snapshot.hpp"

using namespace dind::base;
using namespace testsupport;
namespace fs = std::filesystem;

TEST_CASE("write_file_atomic writes the exact mode whatever the umask", "[base][fs]") {
  TempDir tmp;
  auto p = tmp.path() / "state.json";
  REQUIRE(write_file_atomic(p, "{}", 0644).ok());
  CHECK(read_text(p) == "{}");
  CHECK(mode_of(p) == 0644);
  REQUIRE(write_file_atomic(p, "{\"v\":2}", 0600).ok());
  CHECK(read_text(p) == "{\"v\":2}");
  CHECK(mode_of(p) == 0600);
  // No temp files remain.
  CHECK(snapshot(tmp.path()).size() == 2);
}

TEST_CASE("write_file_atomic into a missing directory fails and creates nothing", "[base][fs]") {
  TempDir tmp;
  auto before = snapshot(tmp.path());
  auto st = write_file_atomic(tmp.path() / "nope" / "f", "x", 0644);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().kind == ErrorKind::kNotFound);
  CHECK(snapshot(tmp.path()) == before);
}

TEST_CASE("read_file refuses oversized and non-regular files", "[base][fs]") {
  TempDir tmp;
  write_text(tmp.path() / "big", std::string(100, 'x'));
  auto r = read_file(tmp.path() / "big", 10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kInvalidArgument);
  auto d = read_file(tmp.path());
  REQUIRE_FALSE(d.ok());
  auto missing = read_file(tmp.path() / "missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("an uncommitted FileTransaction leaves the tree as it was", "[base][fs]") {
  TempDir tmp;
  write_text(tmp.path() / "keep", "old");
  auto before = snapshot(tmp.path());
  {
    FileTransaction tx;
    REQUIRE(tx.ensure_dir(tmp.path() / "a" / "b", 0755).ok());
    REQUIRE(tx.stage(tmp.path() / "a" / "b" / "f", "new", 0600).ok());
    REQUIRE(tx.stage(tmp.path() / "keep", "overwritten", 0600).ok());
    CHECK(read_text(tmp.path() / "keep") == "old");  // not before commit
  }
  CHECK(snapshot(tmp.path()) == before);
}

TEST_CASE("the writes a crash cut are removed and nothing else", "[base][fs]") {
  TempDir tmp;
  // The temp file a transaction stages: what stays when the process dies
  // before commit() or the rollback.
  const auto dir = tmp.path();
  std::string temp_name;
  {
    FileTransaction tx;
    REQUIRE(tx.stage(dir / "state.json", "{}", 0600).ok());
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      temp_name = e.path().filename().string();
    }
  }
  CHECK(is_interrupted_write(temp_name));
  write_text(dir / temp_name, "{\"half");
  write_text(dir / "state.json", "{}");
  write_text(dir / ".state.json.tmp-short", "not ours: the suffix is no random one");
  write_text(dir / "notes.tmp-abcdefghij", "not ours: no leading dot");
  write_text(dir / ".x.tmp-ABCDEFGHIJ", "not ours: capitals");
  std::filesystem::create_directory(dir / ".d.tmp-abcdefghij");  // a directory: left alone
  std::filesystem::create_directory(dir / "sub");
  write_text(dir / "sub" / ".f.tmp-abcdefghij", "below: left alone");
  CHECK(remove_interrupted_writes(dir) == 1);
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    left.insert(e.path().filename().string());
  }
  CHECK(left == std::set<std::string>{"state.json", ".state.json.tmp-short", "notes.tmp-abcdefghij",
                                      ".x.tmp-ABCDEFGHIJ", ".d.tmp-abcdefghij", "sub"});
  CHECK(std::filesystem::exists(dir / "sub" / ".f.tmp-abcdefghij"));
  CHECK(remove_interrupted_writes(dir / "missing") == 0);
}

TEST_CASE("a committed FileTransaction lands every file in order", "[base][fs]") {
  TempDir tmp;
  FileTransaction tx;
  REQUIRE(tx.ensure_dir(tmp.path() / "d", 0700).ok());
  REQUIRE(tx.stage(tmp.path() / "d" / "one", "1", 0600).ok());
  REQUIRE(tx.stage(tmp.path() / "d" / "two", "2", 0644).ok());
  REQUIRE(tx.commit().ok());
  CHECK(mode_of(tmp.path() / "d") == 0700);
  CHECK(read_text(tmp.path() / "d" / "one") == "1");
  CHECK(mode_of(tmp.path() / "d" / "two") == 0644);
  CHECK(snapshot(tmp.path()).size() == 4);
}

TEST_CASE("ensure_dir refuses a file in the way", "[base][fs]") {
  TempDir tmp;
  write_text(tmp.path() / "f", "x");
  FileTransaction tx;
  auto st = tx.ensure_dir(tmp.path() / "f" / "sub", 0755);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().kind == ErrorKind::kFailedPrecondition);
}

TEST_CASE("an atomic write replaces a symlink instead of writing through it", "[base][fs]") {
  TempDir tmp;
  write_text(tmp.path() / "outside", "precious");
  fs::create_symlink(tmp.path() / "outside", tmp.path() / "target");
  REQUIRE(write_file_atomic(tmp.path() / "target", "new", 0600).ok());
  CHECK(read_text(tmp.path() / "outside") == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(tmp.path() / "target")));
  CHECK(read_text(tmp.path() / "target") == "new");
}

TEST_CASE("open_in_root keeps every path inside the root", "[base][fs]") {
  TempDir tmp;
  const auto root = tmp.path() / "root";
  std::filesystem::create_directories(root / "etc");
  write_text(root / "etc" / "passwd", "inside\n");
  write_text(tmp.path() / "outside", "secret\n");
  std::filesystem::create_symlink("/", root / "up");
  std::filesystem::create_symlink("../../outside", root / "etc" / "rel");
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir.valid());
  auto read = [&](const std::string& path) {
    UniqueFd fd(open_in_root(dir.get(), path, O_RDONLY));
    if (!fd.valid()) {
      return std::string("(none)");
    }
    char buf[64];
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  };
  CHECK(read("/etc/passwd") == "inside\n");
  CHECK(read("../../etc/passwd") == "inside\n");   // ".." stops at the root
  CHECK(read("/up/etc/passwd") == "inside\n");     // "/" is the root
  CHECK(read("etc/rel") == "(none)");              // never the file outside
  UniqueFd self(open_in_root(dir.get(), "", O_PATH | O_DIRECTORY));
  CHECK(self.valid());
  // Literally beneath, no symlink followed on the way (the last may be one).
  CHECK(UniqueFd(open_literal_beneath(dir.get(), "etc/passwd")).valid());
  CHECK(UniqueFd(open_literal_beneath(dir.get(), "up")).valid());
  CHECK_FALSE(UniqueFd(open_literal_beneath(dir.get(), "up/etc/passwd")).valid());
  CHECK_FALSE(UniqueFd(open_literal_beneath(dir.get(), "../outside")).valid());
  CHECK_FALSE(UniqueFd(open_literal_beneath(dir.get(), "/etc/passwd")).valid());
}

TEST_CASE("ensure_dir goes through a link to a directory (Debian's /var/run -> /run)", "[base][fs]") {
  dind::base::TempDir tmp;
  std::filesystem::create_directory(tmp.path() / "run");
  std::filesystem::create_directory_symlink("run", tmp.path() / "varrun");
  dind::base::FileTransaction tx;
  REQUIRE(tx.ensure_dir(tmp.path() / "varrun" / "dind" / "s", 0700).ok());
  REQUIRE(tx.commit().ok());
  CHECK(std::filesystem::is_directory(tmp.path() / "run" / "dind" / "s"));
  CHECK(std::filesystem::is_symlink(tmp.path() / "varrun"));
  // A file in the way is still refused.
  std::ofstream(tmp.path() / "file") << "x";
  dind::base::FileTransaction tx2;
  auto st = tx2.ensure_dir(tmp.path() / "file" / "sub", 0700);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("exists and is not a directory") != std::string::npos);
}

TEST_CASE("programs the daemon runs get only stdio, not its other descriptors", "[base][process]") {
  // The daemon's API sockets are not CLOEXEC (Asio opens them plainly): a
  // helper program (ps for docker top, runc update/kill/pause) must not
  // hold them while it runs.
  const int opened = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, like those sockets
  const int leaked = ::fcntl(opened, F_DUPFD, 100);   // above what the children open
  ::close(opened);
  REQUIRE(leaked >= 100);
  auto fds_seen = [](const std::string& listing) {
    std::set<std::string> fds;
    std::istringstream in(listing);
    for (std::string name; in >> name;) {
      fds.insert(name);
    }
    return fds;
  };
  // ls lists its own descriptors: 0-2 and the one it opened to read the directory.
  auto out = dind::base::run_capture({"ls", "/proc/self/fd"});
  REQUIRE(out.ok());
  CHECK(fds_seen(out->output) == std::set<std::string>{"0", "1", "2", "3"});

  dind::base::TempDir tmp;
  const auto script = tmp.path() / "fake-runc";
  const auto listing = tmp.path() / "fds";
  std::ofstream(script) << "#!/bin/sh\nls /proc/self/fd > " << listing.string() << "\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const int st = dind::runtime::shim_os::run_runtime(script.string(), "/r", "/l", {"kill"}, devnull,
                                                     devnull, devnull);
  ::close(devnull);
  CHECK(st == 0);
  std::ifstream in(listing);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // sh's own script descriptor may sit above 2; the leaked one must not.
  CHECK(fds_seen(text).count(std::to_string(leaked)) == 0);
  CHECK(fds_seen(text).count("0") == 1);
  ::close(leaked);
}
