#pragma once
// Small helpers the route files share: JSON bodies, status-only replies,
// stream content types, terminal sizes from the query.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <memory>
#include <string_view>
#include <utility>

#include "dind/api/http.hpp"
#include "dind/base/result.hpp"

namespace dind::api {

// Docker's JSON replies end with a newline; invalid UTF-8 is replaced.
std::string dump(const nlohmann::json& j);

// ok_status on success; an empty kFailedPrecondition means "nothing to do"
// (304 Not Modified); other errors through error_response.
Response status_response(const base::Status& st, int ok_status = 204);

// The attach/exec/logs stream type: multiplexed without a TTY from API 1.42.
const char* stream_content_type(const Request& req, bool tty);

// ?h=&w= as numbers from 0 to 65535, or nullopt.
std::optional<std::pair<int, int>> terminal_size(const Request& req);

// Streamed archives (docker save, cp, export): chunks gathered up to
// `batch` bytes, each batch written and waited for until it is on the wire
// (backpressure for the worker producing it); fails once the client went.
class ArchiveStream {
 public:
  // Takes the writer's close callback: a client that leaves wakes a flush
  // whose write will never complete.
  explicit ArchiveStream(std::shared_ptr<BodyWriter> w, size_t batch = 256 * 1024);
  base::Status write(std::string_view chunk);
  base::Status flush();
  // The body complete (after a final flush), or cut when `st` failed: the
  // head is out, so an incomplete body is the only way to say "failed".
  void finish(const base::Status& st);

 private:
  struct Wait;
  std::shared_ptr<BodyWriter> w_;
  size_t batch_;
  std::string pending_;
  std::shared_ptr<Wait> wait_;
};

}  // namespace dind::api
