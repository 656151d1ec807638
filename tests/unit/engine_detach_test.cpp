#include <catch2/catch.hpp>

#include "dind/engine/shim_client.hpp"

using dind::engine::DetachScanner;
using dind::engine::parse_detach_keys;

TEST_CASE("detach keys parse as moby/term's ToBytes", "[engine][detach]") {
  CHECK(*parse_detach_keys("ctrl-p,ctrl-q") == std::string("\x10\x11"));
  CHECK(*parse_detach_keys("ctrl-@") == std::string(1, '\0'));
  CHECK(*parse_detach_keys("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == "\x1b\x1c\x1d\x1e\x1f");
  CHECK(*parse_detach_keys("a,b,DEL") == "ab\x7f");
  CHECK_FALSE(parse_detach_keys(",").ok());  // two empty keys
  for (const char* bad : {"ctrl-", "ctrl-A", "ctrl-1", "ctrl-pp", "abc", "ctrl-p,", "del"}) {
    INFO(bad);
    auto r = parse_detach_keys(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("Unknown character: '", 0) == 0);
  }
}

TEST_CASE("the scanner holds a possible start and detaches at the sequence", "[engine][detach]") {
  DetachScanner s("\x10\x11");
  bool detached = false;
  CHECK(s.feed("hello", detached) == "hello");
  CHECK_FALSE(detached);
  CHECK(s.feed("a\x10", detached) == "a");  // held
  CHECK(s.feed("b", detached) == "\x10" "b");  // not the sequence: passed on
  CHECK(s.feed("\x10\x10", detached) == "\x10");  // the second may start it
  CHECK_FALSE(detached);
  CHECK(s.feed("\x11tail", detached).empty());
  CHECK(detached);
}

TEST_CASE("a sequence split across reads, and a one-key sequence", "[engine][detach]") {
  DetachScanner s("abc");
  bool detached = false;
  CHECK(s.feed("xa", detached) == "x");
  CHECK(s.feed("b", detached).empty());
  CHECK(s.feed("a", detached) == "ab");
  CHECK(s.feed("bc", detached).empty());
  CHECK(detached);
  DetachScanner one("q");
  detached = false;
  CHECK(one.feed("xyq", detached) == "xy");
  CHECK(detached);
}
