#include "dind/runtime/json_log.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "dind/base/time.hpp"

namespace dind::runtime {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string go_json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  char buf[8];
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            if (c == 0x7f) {
              out += static_cast<char>(c);
            } else {
              std::snprintf(buf, sizeof(buf), "\\u%04x", c);
              out += buf;
            }
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
  return out;
}

std::string json_log_line(std::string_view text, std::string_view stream,
                          std::chrono::system_clock::time_point t) {
  std::string line = "{\"log\":";
  line += go_json_string(text);
  line += ",\"stream\":\"";
  line += stream;
  line += "\",\"time\":\"";
  line += base::rfc3339_nano(t);
  line += "\"}\n";
  return line;
}

std::optional<LogEntry> parse_json_log_line(std::string_view line) {
  auto doc = nlohmann::json::parse(line, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("log") || !doc["log"].is_string()) {
    return std::nullopt;
  }
  LogEntry e;
  e.text = doc["log"].get<std::string>();
  e.stream = doc.value("stream", "stdout");
  e.time = doc.value("time", "");
  // "YYYY-MM-DDTHH:MM:SS[.fraction]Z"
  std::tm tm{};
  if (e.time.size() >= 20 && strptime(e.time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) {
    int64_t nanos = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
    if (e.time.size() > 20 && e.time[19] == '.') {
      int64_t frac = 0;
      int digits = 0;
      for (size_t i = 20;
           i < e.time.size() && std::isdigit(static_cast<unsigned char>(e.time[i])) && digits < 9;
           ++i, ++digits) {
        frac = frac * 10 + (e.time[i] - '0');
      }
      for (; digits < 9; ++digits) {
        frac *= 10;
      }
      nanos += frac;
    }
    e.unix_nanos = nanos;
  }
  return e;
}

}  // namespace dind::runtime
