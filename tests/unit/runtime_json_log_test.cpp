// Docker's json-file log lines: Go's escaping, field order, line splitting.

#include <catch2/catch.hpp>
#include <chrono>

#include "dind/runtime/json_log.hpp"

using namespace dind::runtime;

TEST_CASE("log lines are escaped as Go's encoding/json does", "[runtime][log]") {
  CHECK(go_json_string("hi\n") == R"("hi\n")");
  CHECK(go_json_string("a\"b\\c\r\t") == R"("a\"b\\c\r\t")");
  CHECK(go_json_string("<a&b>") == R"("\u003ca\u0026b\u003e")");
  CHECK(go_json_string(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
  CHECK(go_json_string(std::string("nul\0x", 5)) == R"("nul\u0000x")");
  CHECK(go_json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");       // valid UTF-8 kept
  CHECK(go_json_string("bad\xff\xfe") == R"("bad\ufffd\ufffd")");  // invalid bytes replaced
  CHECK(go_json_string("\xc3") == R"("\ufffd")");                  // truncated sequence
  CHECK(go_json_string("\xe2\x80\xa8|\xe2\x80\xa9") == R"("\u2028|\u2029")");
  CHECK(go_json_string("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");  // a surrogate is invalid
}

TEST_CASE("a log line has Docker's field order and parses back", "[runtime][log]") {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1764380000)) +
                 std::chrono::nanoseconds(123456789);
  const std::string line = json_log_line("hello\n", "stderr", t);
  CHECK(
      line ==
      "{\"log\":\"hello\\n\",\"stream\":\"stderr\",\"time\":\"2025-11-29T01:33:20.123456789Z\"}\n");
  auto e = parse_json_log_line(line);
  REQUIRE(e);
  CHECK(e->text == "hello\n");
  CHECK(e->stream == "stderr");
  CHECK(e->unix_nanos == 1764380000123456789LL);
  // Go drops trailing zeros in the fraction; readers must accept any length.
  e = parse_json_log_line(R"({"log":"x","stream":"stdout","time":"2025-11-29T01:33:20.5Z"})");
  REQUIRE(e);
  CHECK(e->unix_nanos == 1764380000500000000LL);
  for (const char* bad : {"", "{", "[]", R"({"stream":"stdout"})", R"({"log":5})", "null"}) {
    INFO(bad);
    CHECK_FALSE(parse_json_log_line(bad));
  }
}

TEST_CASE("output splits at newlines and every 16 KiB", "[runtime][log]") {
  LineSplitter s;
  std::vector<std::string> got;
  auto emit = [&](std::string_view v) { got.emplace_back(v); };
  s.feed("a\nb", emit);
  s.feed("c\n\n", emit);
  CHECK(got == std::vector<std::string>{"a\n", "bc\n", "\n"});
  got.clear();
  s.feed(std::string(40000, 'x') + "\n", emit);
  REQUIRE(got.size() == 3);
  CHECK(got[0].size() == LineSplitter::kMaxLine);
  CHECK(got[0].back() == 'x');  // a partial entry carries no newline
  CHECK(got[2] == std::string(40000 - 2 * LineSplitter::kMaxLine, 'x') + "\n");
  got.clear();
  s.feed("tail without newline", emit);
  CHECK(got.empty());
  s.flush(emit);
  CHECK(got == std::vector<std::string>{"tail without newline"});
}
