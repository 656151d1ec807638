#pragma once
// Docker's json-file log format: one {"log":..,"stream":..,"time":..} object
// per line, escaped as Go's encoding/json does (<, >, & and control bytes as
// \u00XX, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dind::runtime {

// The JSON string literal (with quotes) of `text`, as Go would write it.
std::string go_json_string(std::string_view text);

// One log line including the trailing '\n'.
std::string json_log_line(std::string_view text, std::string_view stream,
                          std::chrono::system_clock::time_point t);

struct LogEntry {
  std::string text;
  std::string stream;  // "stdout" or "stderr"
  std::string time;    // as stored (RFC 3339 with nanoseconds)
  int64_t unix_nanos = 0;
};
std::optional<LogEntry> parse_json_log_line(std::string_view line);

// Splits pipe output into log entries as Docker's copier does: at '\n', and
// every 16 KiB for longer lines (those entries carry no '\n').
class LineSplitter {
 public:
  static constexpr size_t kMaxLine = 16 * 1024;
  template <class Emit>
  void feed(std::string_view data, Emit&& emit) {
    while (!data.empty()) {
      const size_t nl = data.find('\n');
      const size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
      pending_.append(data.substr(0, take));
      data.remove_prefix(take);
      // pending_ holds at most one '\n', at its end.
      while (pending_.size() > kMaxLine ||
             (pending_.size() == kMaxLine && pending_.back() != '\n')) {
        emit(std::string_view(pending_).substr(0, kMaxLine));
        pending_.erase(0, kMaxLine);
      }
      if (!pending_.empty() && pending_.back() == '\n') {
        emit(std::string_view(pending_));
        pending_.clear();
      }
    }
  }
  template <class Emit>
  void flush(Emit&& emit) {
    if (!pending_.empty()) {
      emit(std::string_view(pending_));
      pending_.clear();
    }
  }

 private:
  std::string pending_;
};

}  // namespace dind::runtime
