#include "dind/api/route_util.hpp"

#include <cstdlib>
#include <future>

#include "dind/api/errors.hpp"
#include "dind/base/log.hpp"
#include "dind/base/stdcopy.hpp"

namespace dind::api {
using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Response status_response(const base::Status& st, int ok_status) {
  if (st) {
    return Response::empty(ok_status);
  }
  return error_response(st.error());
}

const char* stream_content_type(const Request& req, bool tty) {
  if (!tty && req.version >= ApiVersion{1, 42}) {
    return base::kMultiplexedContentType;
  }
  return base::kRawStreamContentType;
}

std::optional<std::pair<int, int>> terminal_size(const Request& req) {
  auto number = [&req](const char* key) -> std::optional<int> {
    const std::string v = req.query_value(key).value_or("");
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > 65535) {
      return std::nullopt;
    }
    return static_cast<int>(n);
  };
  auto h = number("h");
  auto w = number("w");
  if (!h || !w) {
    return std::nullopt;
  }
  return std::make_pair(*h, *w);
}

base::Status ArchiveStream::write(std::string_view chunk) {
  pending_.append(chunk);
  return pending_.size() >= batch_ ? flush() : base::Status{};
}

base::Status ArchiveStream::flush() {
  if (pending_.empty()) {
    return {};
  }
  auto done = std::make_shared<std::promise<bool>>();
  auto fut = done->get_future();
  w_->write(std::exchange(pending_, {}), [done](bool ok) { done->set_value(ok); });
  if (!fut.get()) {
    return base::make_error(base::ErrorKind::kUnavailable, "the client went away");
  }
  return {};
}

void ArchiveStream::finish(const base::Status& st) {
  auto flushed = st ? flush() : st;
  if (!flushed) {
    DIND_LOG(kInfo) << "archive stream cut: " << flushed.error().message;
    return;  // the writer dropped without finish(): the body ends incomplete
  }
  w_->finish();
}

}  // namespace dind::api
