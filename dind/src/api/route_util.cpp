#include "dind/api/route_util.hpp"

#include <cstdlib>
#include <condition_variable>
#include <mutex>

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

struct ArchiveStream::Wait {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  uint64_t completed = 0, failed = 0;
};

ArchiveStream::ArchiveStream(std::shared_ptr<BodyWriter> w, size_t batch)
    : w_(std::move(w)), batch_(batch), wait_(std::make_shared<Wait>()) {
  w_->on_close([wait = wait_] {
    std::lock_guard lock(wait->mu);
    wait->closed = true;
    wait->cv.notify_all();
  });
}

base::Status ArchiveStream::write(std::string_view chunk) {
  pending_.append(chunk);
  return pending_.size() >= batch_ ? flush() : base::Status{};
}

base::Status ArchiveStream::flush() {
  if (pending_.empty()) {
    return {};
  }
  uint64_t target = 0;
  {
    std::lock_guard lock(wait_->mu);
    target = wait_->completed + 1;
  }
  w_->write(std::exchange(pending_, {}), [wait = wait_](bool ok) {
    std::lock_guard lock(wait->mu);
    ++wait->completed;
    wait->failed += ok ? 0 : 1;
    wait->cv.notify_all();
  });
  std::unique_lock lock(wait_->mu);
  wait_->cv.wait(lock, [&] { return wait_->completed >= target || wait_->closed; });
  if (wait_->failed > 0 || wait_->completed < target) {
    return base::make_error(base::ErrorKind::kUnavailable, "the client went away");
  }
  return {};
}

void ArchiveStream::finish(const base::Status& st) {
  auto flushed = st ? flush() : st;
  if (!flushed) {
    DIND_LOG(kInfo) << "archive stream cut: " << flushed.error().message;
    w_->abort();  // the body ends incomplete and the client sees it
    return;
  }
  w_->finish();
}

}  // namespace dind::api
