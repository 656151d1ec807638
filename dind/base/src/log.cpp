#include "dind/base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace dind::base {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};  // process-wide by nature

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug")
    return LogLevel::kDebug;
  if (text == "info")
    return LogLevel::kInfo;
  if (text == "warn" || text == "warning")
    return LogLevel::kWarn;
  if (text == "error" || text == "fatal")
    return LogLevel::kError;
  return make_error(ErrorKind::kInvalidArgument,
                    "unable to parse logging level: " + std::string(text));
}

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load();
}

void log_line(LogLevel level, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(message.size() + 64);
  line += stamp;
  line += '.';
  line += std::to_string(1000 + ms).substr(1);
  line += "Z level=";
  line += level_name(level);
  line += ' ';
  line += message;
  line += '\n';
  // One write(2) per line keeps lines whole across threads.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace dind::base
