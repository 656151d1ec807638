#include "dind/base/worker_pool.hpp"

#include "dind/base/log.hpp"

namespace dind::base {
namespace {
thread_local std::string current_failure;
}

std::string_view WorkerPool::failure() {
  return current_failure;
}

WorkerPool::WorkerPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    t.join();
  }
}

void WorkerPool::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return;  // stopping and drained
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      DIND_LOG(kError) << "worker job threw: " << e.what();
      current_failure = e.what();
    } catch (...) {
      DIND_LOG(kError) << "worker job threw something that is not an exception";
      current_failure = "unknown exception";
    }
    job = nullptr;  // its captures go while failure() still tells why
    current_failure.clear();
  }
}

}  // namespace dind::base
