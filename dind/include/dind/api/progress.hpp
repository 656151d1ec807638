#pragma once
// Docker's JSON progress messages (pkg/jsonmessage): the lines `docker load`,
// `docker pull` and `docker import` print while bytes move.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "dind/api/errors.hpp"
#include "dind/api/http.hpp"
#include "dind/base/error.hpp"

namespace dind::api {

// Docker's go-units HumanSize: decimal units, four significant digits
// ("32.77kB", "1.996MB", "512B").
std::string human_size(uint64_t bytes);

// The bar text dockerd sends in "progress": a 50-wide bar then current/total.
std::string progress_bar(uint64_t current, uint64_t total);

// One JSON message line (no trailing newline) such as
// {"status":"Loading layer","progressDetail":{"current":..,"total":..},
//  "progress":"[==>  ]  1MB/2MB","id":"3f43d6934766"}
std::string progress_message(const std::string& status, const std::string& id, uint64_t current,
                             uint64_t total);

// {"errorDetail":{"code":N,"message":...},"error":...}: a stream's last
// line when the operation failed (code only when non-zero).
std::string error_line(const std::string& message, int code = 0);

// The bridge between a blocking pull/push and the streamed answer: the head
// goes out with the first line (so an early failure can still be an HTTP
// error), lines written before the writer arrives are kept, and a client
// that leaves makes emit() answer false.
class ProgressStream : public std::enable_shared_from_this<ProgressStream> {
 public:
  ProgressStream(Reply reply, std::function<Response(const base::Error&)> early)
      : reply_(std::move(reply)), early_(std::move(early)) {}
  explicit ProgressStream(Reply reply) : ProgressStream(std::move(reply), nullptr) {}

  bool emit(const std::string& line) {
    std::unique_lock lock(mu_);
    if (closed_) {
      return false;
    }
    if (!started_) {
      started_ = true;
      pending_ += line + "\n";
      lock.unlock();
      Response r;
      r.headers["Content-Type"] = "application/json";
      auto self = shared_from_this();
      r.stream = [self](std::shared_ptr<BodyWriter> w) { self->attach(std::move(w)); };
      reply_(std::move(r));
      return true;
    }
    if (!writer_) {
      pending_ += line + "\n";
      return true;
    }
    writer_->write(line + "\n");
    return true;
  }

  // Ends the answer: an HTTP error when nothing was sent yet (through
  // `early`, else error_response), else an errorDetail line (with `code`
  // when non-zero, as a build's failed RUN).
  void fail(const base::Error& e, int code = 0) {
    std::unique_lock lock(mu_);
    if (!started_) {
      started_ = true;
      finished_ = true;
      lock.unlock();
      reply_(early_ ? early_(e) : error_response(e));
      return;
    }
    lock.unlock();
    emit(error_line(e.message, code));
    finish();
  }

  void finish() {
    std::lock_guard lock(mu_);
    finished_ = true;
    if (writer_) {
      writer_->finish();
    }
  }

 private:
  void attach(std::shared_ptr<BodyWriter> w) {
    std::lock_guard lock(mu_);
    writer_ = w;
    auto weak = weak_from_this();
    w->on_close([weak] {
      if (auto self = weak.lock()) {
        std::lock_guard l(self->mu_);
        self->closed_ = true;
      }
    });
    if (!pending_.empty()) {
      w->write(std::move(pending_));
      pending_.clear();
    }
    if (finished_) {
      w->finish();
    }
  }

  std::mutex mu_;
  Reply reply_;
  std::function<Response(const base::Error&)> early_;
  std::shared_ptr<BodyWriter> writer_;
  std::string pending_;
  bool started_ = false;
  bool finished_ = false;
  bool closed_ = false;
};

}  // namespace dind::api
