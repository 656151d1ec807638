#pragma once
// A small leveled logger: one line per call, to stderr, safe from any thread.
// Format: "2026-11-29T02:13:01.123Z level=info msg" (dockerd-like enough for
// people grepping CI logs).

#include <sstream>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::base {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

Result<LogLevel> parse_log_level(std::string_view text);  // debug|info|warn|error|fatal
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);

}  // namespace dind::base

// Streams into a log line only when the level is enabled:
//   DIND_LOG(kInfo) << "API listen on " << addr;
#define DIND_LOG(level)                                            \
  if (!::dind::base::log_enabled(::dind::base::LogLevel::level)) { \
  } else                                                           \
    ::dind::base::detail::LogStream(::dind::base::LogLevel::level).stream()

namespace dind::base::detail {
class LogStream {
 public:
  explicit LogStream(LogLevel level) : level_(level) {}
  LogStream(const LogStream&) = delete;
  LogStream& operator=(const LogStream&) = delete;
  ~LogStream() { log_line(level_, out_.str()); }
  std::ostringstream& stream() { return out_; }

 private:
  LogLevel level_;
  std::ostringstream out_;
};
}  // namespace dind::base::detail
