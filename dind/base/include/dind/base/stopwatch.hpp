#pragma once
// Named laps since construction, for debug logs of multi-step operations:
// "rootfs=1.2 spec=3.9 created=74.0" (milliseconds).

#include <chrono>
#include <cstdio>
#include <string>

namespace dind::base {

class Stopwatch {
 public:
  void mark(const char* what) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    char buf[64];
    std::snprintf(buf, sizeof(buf), " %s=%.1f", what, ms);
    laps_ += buf;
  }
  const std::string& laps() const { return laps_; }
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::string laps_;
};

}  // namespace dind::base
