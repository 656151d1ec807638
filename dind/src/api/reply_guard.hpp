#pragma once
// The reply a handler gets (internal to api/): every request gets exactly
// one answer — the handler's, or, when every copy of the reply is dropped
// unsent (a worker job threw, a path forgot to answer), a JSON error instead
// of a closed connection.

#include <atomic>
#include <functional>
#include <string_view>

#include "dind/api/http.hpp"

namespace dind::api {

// The answer for a handler that threw: a body of the wrong shape met by a
// JSON accessor is the client's error (400), anything else ours (500).
Response failure_response(std::string_view what);

class ReplyGuard {
 public:
  explicit ReplyGuard(std::function<void(Response)> send) : send_(std::move(send)) {}
  ~ReplyGuard();
  ReplyGuard(const ReplyGuard&) = delete;
  ReplyGuard& operator=(const ReplyGuard&) = delete;
  void answer(Response res) {
    if (!answered_.exchange(true)) {
      send_(std::move(res));
    }
  }

 private:
  std::function<void(Response)> send_;
  std::atomic<bool> answered_{false};
};

}  // namespace dind::api
