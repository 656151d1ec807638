#pragma once
// A bounded pool of threads for blocking work (tar extraction, fsync, runc,
// key generation) so that the I/O threads never block. Jobs run in FIFO order;
// the destructor finishes queued jobs and joins.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace dind::base {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. The job should not throw: an exception is logged and
  // dropped, and while the job's captures are destroyed after it (a reply
  // guard among them), failure() on that thread holds its message.
  void post(std::function<void()> job);
  static std::string_view failure();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dind::base
