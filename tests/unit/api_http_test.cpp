#include <catch2/catch.hpp>

#include "dind/api/errors.hpp"
#include "dind/api/http.hpp"
#include "dind/base/stdcopy.hpp"

using namespace dind::api;
using namespace dind::base;
using dind::base::ErrorKind;

TEST_CASE("parse_api_version accepts N.M only", "[api][version]") {
  CHECK(parse_api_version("1.44") == ApiVersion{1, 44});
  CHECK(parse_api_version("1.24") == ApiVersion{1, 24});
  CHECK(parse_api_version("2.0") == ApiVersion{2, 0});
  for (const char* bad : {"", "1", "1.", ".1", "v1.44", "1.44.0", "01.44", "1.044", "a.b", "1.-1",
                          "1.4a", "99999999.1"}) {
    INFO(bad);
    CHECK_FALSE(parse_api_version(bad).has_value());
  }
  CHECK(ApiVersion{1, 9} < ApiVersion{1, 10});
}

TEST_CASE("percent_decode and parse_query", "[api][http]") {
  CHECK(percent_decode("a%2Fb", false) == "a/b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("a+b", false) == "a+b");
  for (const char* bad : {"%", "%2", "%zz", "%00", "a%-1", "%+1"}) {
    INFO(bad);
    CHECK_FALSE(percent_decode(bad, true).has_value());
  }
  auto q = parse_query("all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&&x&all=0");
  REQUIRE(q.has_value());
  CHECK(q->count("all") == 2);
  CHECK(q->find("filters")->second == R"({"label":["a=b"]})");
  CHECK(q->find("x")->second.empty());
  CHECK_FALSE(parse_query("a=%zz").has_value());
}

TEST_CASE("query_bool follows Docker's convention", "[api][http]") {
  Request r;
  r.query = {{"a", "1"}, {"b", "true"}, {"c", "True"}, {"d", "0"}, {"e", "false"},
             {"f", ""},  {"g", "yes"},  {"h", "0"},    {"h", "1"}};
  CHECK(r.query_bool("a") == true);
  CHECK(r.query_bool("b") == true);
  CHECK(r.query_bool("c") == true);
  CHECK(r.query_bool("d") == false);
  CHECK(r.query_bool("e") == false);
  CHECK(r.query_bool("f") == false);
  CHECK(r.query_bool("missing") == false);
  CHECK_FALSE(r.query_bool("g").has_value());
  CHECK(r.query_bool("h") == true);  // the last value wins
}

TEST_CASE("headers are case-insensitive", "[api][http]") {
  Headers h;
  h["Content-Type"] = "application/json";
  CHECK(h.count("content-type") == 1);
  CHECK(h.find("CONTENT-TYPE")->second == "application/json");
}

TEST_CASE("every error kind maps to one status with a JSON message", "[api][errors]") {
  struct Row {
    ErrorKind kind;
    int status;
  };
  const Row rows[] = {
      {ErrorKind::kInvalidArgument, 400},    {ErrorKind::kNotFound, 404},
      {ErrorKind::kAlreadyExists, 409},      {ErrorKind::kConflict, 409},
      {ErrorKind::kFailedPrecondition, 409}, {ErrorKind::kPermissionDenied, 403},
      {ErrorKind::kDataLoss, 500},           {ErrorKind::kUnavailable, 503},
      {ErrorKind::kUnimplemented, 501},      {ErrorKind::kInternal, 500},
  };
  for (const auto& r : rows) {
    Response res = error_response(dind::base::make_error(r.kind, "No such container: x"));
    CHECK(res.status == r.status);
    CHECK(res.headers.at("Content-Type") == "application/json");
    CHECK(res.body == "{\"message\":\"No such container: x\"}\n");
  }
  // Messages quoting client bytes stay valid JSON.
  Response weird = error_response(400, std::string("bad \"\xff\" \n"));
  CHECK(weird.body.find("\\\"") != std::string::npos);
  CHECK(weird.body.find("\\n") != std::string::npos);
}

TEST_CASE("stdcopy frames round-trip through any split", "[api][stdcopy]") {
  std::string wire = stdcopy_frame(StdStream::kStdout, "hi\n") +
                     stdcopy_frame(StdStream::kStderr, "err\n") +
                     stdcopy_frame(StdStream::kStdout, "");
  CHECK(wire.substr(0, 11) == std::string("\x01\x00\x00\x00\x00\x00\x00\x03hi\n", 11));
  for (size_t split = 0; split <= wire.size(); ++split) {
    StdcopyDecoder d;
    std::vector<StdcopyDecoder::Frame> frames;
    REQUIRE(d.feed(wire.substr(0, split), frames));
    REQUIRE(d.feed(wire.substr(split), frames));
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].stream == StdStream::kStdout);
    CHECK(frames[0].payload == "hi\n");
    CHECK(frames[1].stream == StdStream::kStderr);
    CHECK(frames[1].payload == "err\n");
    CHECK(frames[2].payload.empty());
    CHECK(d.idle());
  }
}

TEST_CASE("stdcopy decoder rejects malformed headers", "[api][stdcopy]") {
  for (std::string bad : {std::string("\x04\x00\x00\x00\x00\x00\x00\x01x", 9),
                          std::string("\x01\x01\x00\x00\x00\x00\x00\x01x", 9),
                          std::string("\x01\x00\x00\x07\x00\x00\x00\x01x", 9)}) {
    StdcopyDecoder d;
    std::vector<StdcopyDecoder::Frame> frames;
    CHECK_FALSE(d.feed(bad, frames));
    CHECK_FALSE(d.feed("", frames));  // stays broken
  }
  StdcopyDecoder partial;
  std::vector<StdcopyDecoder::Frame> frames;
  REQUIRE(partial.feed(std::string("\x01\x00\x00\x00\x00\x00\x00\x05", 8) + "ab", frames));
  CHECK(frames.empty());
  CHECK_FALSE(partial.idle());
}

TEST_CASE("chunked decoder: any split, extensions, trailers, pipelined bytes", "[api][chunked]") {
  const std::string wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGET /next";
  for (size_t split = 0; split <= wire.size(); ++split) {
    ChunkedDecoder d;
    std::string body;
    auto sink = [&](const char* p, size_t n) {
      body.append(p, n);
      return true;
    };
    size_t used = d.feed(wire.data(), split, sink);
    if (!d.done()) {
      CHECK(used == split);
      used = split + d.feed(wire.data() + split, wire.size() - split, sink);
    }
    REQUIRE(d.done());
    CHECK(body == "hello world");
    CHECK(wire.substr(used) == "GET /next");
    CHECK(d.body_size() == 11);
  }
}

TEST_CASE("chunked decoder refuses malformed framing and enforces the cap", "[api][chunked]") {
  auto run = [](const std::string& wire, uint64_t limit = UINT64_MAX) {
    ChunkedDecoder d;
    d.set_limit(limit);
    d.feed(wire.data(), wire.size(), [](const char*, size_t) { return true; });
    return d;
  };
  for (const char* bad : {"zz\r\n", "\r\n", "5\nhello", "5\r\nhelloXX", "5\r\nhello\r0\r\n\r\n",
                          "1234567890abcdef0\r\n", "-5\r\n", ";ext\r\n"}) {
    INFO(bad);
    CHECK(run(bad).state() == ChunkedDecoder::State::kError);
  }
  auto capped = run("10\r\n0123456789abcdef\r\n0\r\n\r\n", 15);
  CHECK(capped.state() == ChunkedDecoder::State::kError);
  CHECK(capped.over_limit());
  CHECK(run("10\r\n0123456789abcdef\r\n0\r\n\r\n", 16).done());
  CHECK(run("3\r\nabc\r\n" + std::string(5000, 'x')).state() == ChunkedDecoder::State::kError);
  ChunkedDecoder refusing;
  refusing.feed("3\r\nabc\r\n", 8, [](const char*, size_t) { return false; });
  CHECK(refusing.state() == ChunkedDecoder::State::kError);
}
