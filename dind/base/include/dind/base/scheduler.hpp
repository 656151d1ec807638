#pragma once
// The event loop for handlers without exposing Asio: timers, and file
// descriptors of our own (a shim's attach socket, a process's pidfd) driven
// by the server's I/O threads. Callbacks must not block.

#include <chrono>
#include <functional>
#include <memory>

#include "dind/base/stream.hpp"
#include "dind/base/fs.hpp"

namespace dind::base {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // A connected stream socket (or pipe) as an asynchronous RawStream.
  virtual std::shared_ptr<RawStream> adopt(base::UniqueFd fd) = 0;
  // Calls fn once, when fd turns readable (a pidfd: the process ended) or
  // fails. The caller keeps fd open until then.
  virtual void when_readable(std::shared_ptr<base::UniqueFd> fd, std::function<void()> fn) = 0;
};

}  // namespace dind::base
