#include "reply_guard.hpp"

#include "dind/api/errors.hpp"
#include "dind/base/log.hpp"
#include "dind/base/worker_pool.hpp"

namespace dind::api {

Response failure_response(std::string_view what) {
  constexpr std::string_view kJson = "[json.exception.";
  if (what.substr(0, kJson.size()) == kJson) {
    const auto close = what.find("] ");
    return error_response(400, "invalid JSON in the request body: " +
                                   std::string(close == std::string_view::npos ? what
                                                                              : what.substr(close + 2)));
  }
  return error_response(500, "internal error: " + std::string(what));
}

ReplyGuard::~ReplyGuard() {
  if (!answered_.exchange(true)) {
    const std::string_view why = base::WorkerPool::failure();
    DIND_LOG(kError) << "a request ended without an answer"
                     << (why.empty() ? std::string() : ": " + std::string(why));
    send_(why.empty() ? error_response(500, "internal error: the request ended without an answer")
                      : failure_response(why));
  }
}

}  // namespace dind::api
