#pragma once
// Timers for handlers without exposing Asio: run a callback after a delay on
// the server's I/O threads. The callback must not block.

#include <chrono>
#include <functional>

namespace dind::api {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

}  // namespace dind::api
