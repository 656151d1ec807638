// docker cp's resolution (image/rooted_tree.hpp) in plain directories: a
// root with links that try to leave it, and "mounts" that are just other
// directories outside it.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "dind/image/layer_diff.hpp"
#include "dind/image/rooted_tree.hpp"
#include "tree_snapshot.hpp"

using namespace dind::image;
using dind::base::ErrorKind;
using dind::base::TempDir;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

struct Fixture {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path vol = tmp.path() / "vol";
  fs::path outside = tmp.path() / "outside";
  fs::path hosts = tmp.path() / "hosts";
  Fixture() {
    write(root / "etc" / "passwd", "root:x:0:0::/:/bin/sh\n");
    write(root / "var" / "lib" / "f", "f\n");
    write(vol / "in-volume", "v\n");
    write(outside / "secret", "secret\n");
    write(hosts, "127.0.0.1 localhost\n");
    fs::create_directories(root / "data");
    fs::create_directories(root / "run" / "x");  // the runtime made the mount point
    fs::create_symlink("/var/lib", root / "abs");
    fs::create_symlink("../../../../..", root / "up");
    fs::create_symlink(outside, root / "host-path");  // absolute: means root/<outside>
    fs::create_symlink("loop2", root / "loop1");
    fs::create_symlink("loop1", root / "loop2");
    fs::create_symlink("/data", root / "to-data");
    fs::create_symlink("/run", root / "var" / "run");
  }
  RootedTree tree(bool ro = false) {
    auto t = RootedTree::open(root,
                              {{"/data", vol, false}, {"/etc/hosts", hosts, true}, {"/var/run/x", vol, false}},
                              ro);
    REQUIRE(t);
    return std::move(*t);
  }
};

}  // namespace

TEST_CASE("paths resolve inside the root whatever links and .. say", "[image][cp]") {
  Fixture f;
  auto t = f.tree();
  auto r = t.resolve("/abs/f", false);
  REQUIRE(r);
  CHECK(r->path == "/var/lib/f");
  CHECK(r->exists);
  for (const std::string& p : std::vector<std::string>{"/../../../outside/secret", "/up/outside/secret", "../../secret",
                              "/host-path/secret", "/up" + f.outside.string() + "/secret"}) {
    auto x = t.resolve(p, true);
    INFO(p);
    // Never the host's file: missing inside the root (or a missing parent).
    CHECK((!x || !x->exists));
  }
  auto loop = t.resolve("/loop1/x", true);
  REQUIRE_FALSE(loop);
  CHECK(loop.error().message.find("too many levels of symbolic links") != std::string::npos);
  // The last link is followed only when asked.
  auto asis = t.resolve("/abs", false);
  REQUIRE(asis);
  CHECK(S_ISLNK(asis->st.st_mode));
  CHECK(t.resolve("/abs", true)->path == "/var/lib");
  CHECK(t.resolve("/abs/", false)->path == "/var/lib");  // a trailing slash follows
  CHECK(t.resolve("/var/lib/..", false)->path == "/var");
  CHECK(t.resolve("/", false)->leaf.empty());
}

TEST_CASE("mount points continue in their sources, through links too", "[image][cp]") {
  Fixture f;
  auto t = f.tree();
  auto in = t.resolve("/data/in-volume", false);
  REQUIRE(in);
  CHECK(in->exists);
  CHECK(in->mount == 0);
  auto linked = t.resolve("/to-data/in-volume", false);
  REQUIRE(linked);
  CHECK(linked->exists);
  CHECK(linked->path == "/data/in-volume");
  // The mount's destination was reached through a link (/var/run -> /run).
  auto run = t.resolve("/run/x/in-volume", false);
  REQUIRE(run);
  CHECK(run->exists);
  // A file mount and its read-only flag.
  auto h = t.resolve("/etc/hosts", false);
  REQUIRE(h);
  CHECK(h->leaf == "hosts");
  CHECK(t.read_only(*h));
  CHECK(read_tree_file(t, "/etc/hosts") == "127.0.0.1 localhost\n");
  CHECK(read_tree_file(t, "/etc/passwd") == "root:x:0:0::/:/bin/sh\n");
  CHECK_FALSE(t.read_only(*t.resolve("/etc/passwd", false)));
}

TEST_CASE("stat answers dockerd's fields and Go's mode bits", "[image][cp]") {
  Fixture f;
  auto t = f.tree();
  auto s = stat_path(t, "/abs");
  REQUIRE(s);
  CHECK(s->name == "abs");
  CHECK(s->link_target == "/var/lib");
  CHECK((s->mode & (1u << 27)) != 0);
  auto d = stat_path(t, "/var/");
  REQUIRE(d);
  CHECK(d->name == "var");
  CHECK(d->mode == ((1u << 31) | 0755u));
  CHECK(stat_path(t, "/nope").error().kind == ErrorKind::kNotFound);
  CHECK(stat_path(t, "/nope/deeper").error().kind == ErrorKind::kNotFound);
  CHECK(go_file_mode(S_IFCHR | 0620) == ((1u << 26) | (1u << 21) | 0620u));
  CHECK(go_file_mode(S_IFREG | S_ISUID | 0755) == ((1u << 23) | 0755u));
  CHECK(request_base("/") == "/");
  CHECK(request_base("/a/b/") == "b");
  CHECK(request_base("/a/.") == ".");
}

TEST_CASE("creating through resolve stays inside the root", "[image][cp]") {
  Fixture f;
  auto t = f.tree();
  const auto before = testsupport::snapshot(f.outside);
  auto made = t.resolve("/host-path/new/dir", true, true);
  REQUIRE(made);
  CHECK(fs::is_directory(f.root / f.outside.relative_path() / "new" / "dir"));
  CHECK(testsupport::snapshot(f.outside) == before);
  auto ro = f.tree(true);
  CHECK(ro.read_only(*ro.resolve("/var", false)));
  CHECK_FALSE(ro.read_only(*ro.resolve("/data/x", false)));
}

TEST_CASE("a tar whose sink fails stops calling it and reports the sink's error") {
  // docker save/cp/export whose client left: the writer is destroyed with
  // the archive unfinished (its trailer would go to the sink again).
  TempDir tmp;
  for (int i = 0; i < 8; ++i) {
    write(tmp.path() / "d" / ("f" + std::to_string(i)), std::string(100000, 'x'));
  }
  int calls = 0;
  const DiffSink sink = [&calls](std::string_view) -> dind::base::Status {
    if (++calls == 2) {
      return dind::base::make_error(ErrorKind::kUnavailable, "the client went away");
    }
    return {};
  };
  dind::base::UniqueFd dir(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TreeTarOptions options;
  options.whiteouts = false;
  auto st = write_tree_tar(dir.get(), "d", "d", options, sink);
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "the client went away");
  CHECK(calls == 2);
}
