#pragma once
// The HTTP exchange as handlers see it, free of Boost.Beast so that only the
// server's translation unit pays for Beast. A handler receives a Request and
// calls its reply callback exactly once with a Response, from any thread.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dind/api/version.hpp"
#include "dind/base/stream.hpp"
#include "dind/base/fs.hpp"

namespace dind::api {

// Case-insensitive header map (HTTP field names are case-insensitive).
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// The progress of an upload that a handler reads while it still arrives
// (RouteOptions::stream_body): the server appends to the spool file and
// advances; the handler's reader waits for bytes, the end, or a failure.
class BodyProgress {
 public:
  void advance(uint64_t n);
  void finish(bool ok);
  // Blocks until more than `offset` bytes exist or the body ended; returns
  // the bytes available now, and through `state` whether the body is
  // complete (1), still arriving (0) or failed (-1).
  uint64_t wait_beyond(uint64_t offset, int& state);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_ = 0;
  int state_ = 0;
};

// Reads an upload from `fd` (positioned reads) as it arrives; -1 on a failed
// upload, 0 at its end.
std::function<ssize_t(void*, size_t)> progress_reader(std::shared_ptr<base::UniqueFd> fd,
                                                      std::shared_ptr<BodyProgress> progress);

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // raw request target, "/v1.44/containers/json?all=1"
  std::string path;    // decoded path without the version prefix, "/containers/json"
  ApiVersion version = kMaxApiVersion;
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> params;  // route captures, "{id}" -> value
  Headers headers;
  std::string body;
  // For spool_body routes: the body in an unlinked file, positioned at 0.
  std::shared_ptr<base::UniqueFd> body_file;
  // For stream_body routes: set while the body still arrives (body_file then
  // grows behind the handler's reads; use progress_reader).
  std::shared_ptr<BodyProgress> body_progress;
  bool wants_upgrade = false;  // Connection: Upgrade + Upgrade: tcp

  // Last value of a query parameter.
  std::optional<std::string> query_value(const std::string& key) const;
  // Docker's boolean query convention: "1", "true", "True" are true; absent,
  // "", "0", "false", "False" are false; anything else -> nullopt.
  std::optional<bool> query_bool(const std::string& key) const;
};

using base::BodyWriter;  // dind/base/stream.hpp: shared with the engine
using base::RawStream;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Streamed body: headers go out at once with chunked encoding, then the
  // producer writes through the BodyWriter and finishes it.
  std::function<void(std::shared_ptr<BodyWriter>)> stream;
  // Hijack: after the head (101 UPGRADED when the client asked for Upgrade:
  // tcp, else 200 with the body running until close) the connection belongs
  // to this callback.
  std::function<void(std::shared_ptr<RawStream>)> hijack;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  static Response empty(int status);
};

using Reply = std::function<void(Response)>;
using Handler = std::function<void(Request, Reply)>;

// Incremental decoder of a chunked request body (RFC 9112 §7.1) for upload
// routes, where Beast's parser would hand over 64 KiB at a time. Chunk
// extensions are skipped, trailers read and dropped.
class ChunkedDecoder {
 public:
  enum class State { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kDone, kError };
  // Consumes bytes, passing body data to `out` (which may refuse by
  // returning false). Returns how many bytes were consumed: fewer than given
  // only when the body ended (the rest belongs to the next request) or on
  // error (state() == kError, error() says why).
  size_t feed(const char* data, size_t size, const std::function<bool(const char*, size_t)>& out);
  State state() const { return state_; }
  bool done() const { return state_ == State::kDone; }
  const std::string& error() const { return error_; }
  uint64_t body_size() const { return total_; }
  void set_limit(uint64_t limit) { limit_ = limit; }
  bool over_limit() const { return over_limit_; }

 private:
  bool fail(std::string why);
  State state_ = State::kSize;
  uint64_t chunk_left_ = 0;
  uint64_t total_ = 0;
  uint64_t limit_ = UINT64_MAX;
  int digits_ = 0;
  size_t line_ = 0;  // bytes of the current size/trailer line
  bool over_limit_ = false;
  std::string error_;
};

// Percent-decoding; nullopt on a malformed escape or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);
// Splits "a=1&b=two" into decoded pairs; nullopt on a malformed escape.
std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query);
std::string_view reason_phrase(int status);

}  // namespace dind::api
