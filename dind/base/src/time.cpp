#include "dind/base/time.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace dind::base {
using base::ErrorKind;
using base::make_error;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string rfc3339_nano(std::chrono::system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::string s = rfc3339(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ns / 1'000'000'000))));
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%09lldZ", static_cast<long long>(ns % 1'000'000'000));
  s.pop_back();  // the 'Z'
  return s + frac;
}

// Docker's units.HumanDuration.
std::string human_duration(int64_t secs) {
  if (secs < 1) {
    return "Less than a second";
  }
  if (secs == 1) {
    return "1 second";
  }
  if (secs < 60) {
    return std::to_string(secs) + " seconds";
  }
  const int64_t mins = secs / 60;
  if (mins == 1) {
    return "About a minute";
  }
  if (mins < 60) {
    return std::to_string(mins) + " minutes";
  }
  const int64_t hours = secs / 3600;
  if (hours == 1) {
    return "About an hour";
  }
  if (hours < 48) {
    return std::to_string(hours) + " hours";
  }
  if (hours < 24 * 7 * 2) {
    return std::to_string(hours / 24) + " days";
  }
  if (hours < 24 * 30 * 2) {
    return std::to_string(hours / 24 / 7) + " weeks";
  }
  if (hours < 24 * 365 * 2) {
    return std::to_string(hours / 24 / 30) + " months";
  }
  return std::to_string(hours / 24 / 365) + " years";
}

int64_t parse_time_secs(const std::string& t) {
  std::tm tm{};
  if (t.size() < 19 || strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return 0;
  }
  return static_cast<int64_t>(timegm(&tm));
}


int64_t now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::string frac(uint64_t v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    const uint64_t d = v % 10;
    print = print || d != 0;
    if (print) {
      digits.insert(digits.begin(), static_cast<char>('0' + d));
    }
    v /= 10;
  }
  return std::to_string(v) + (digits.empty() ? "" : "." + digits);
}

}  // namespace

std::string go_duration(int64_t nanos) {
  if (nanos == 0) {
    return "0s";
  }
  const bool neg = nanos < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-nanos) : static_cast<uint64_t>(nanos);
  std::string out;
  if (u < 1000000000ULL) {
    if (u < 1000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000) {
      out = frac(u, 3) + "µs";
    } else {
      out = frac(u, 6) + "ms";
    }
  } else {
    const std::string secs = frac(u % 60000000000ULL, 9) + "s";
    u /= 60000000000ULL;
    if (u > 0) {
      const std::string mins = std::to_string(u % 60) + "m";
      u /= 60;
      out = (u > 0 ? std::to_string(u) + "h" : "") + mins + secs;
    } else {
      out = secs;
    }
  }
  return neg ? "-" + out : out;
}

Result<int64_t> parse_go_duration(const std::string& text) {
  auto invalid = [&] {
    return make_error(ErrorKind::kInvalidArgument, "time: invalid duration \"" + text + "\"");
  };
  if (text == "0") {
    return int64_t{0};
  }
  if (text.empty()) {
    return invalid();
  }
  size_t i = 0;
  double total = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) {
      ++j;
    }
    if (j == i) {
      return invalid();
    }
    const double value = std::strtod(text.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < text.size() && !std::isdigit(static_cast<unsigned char>(text[k])) && text[k] != '.') {
      ++k;
    }
    const std::string unit = text.substr(j, k - j);
    double scale = unit == "ns"                  ? 1
                   : unit == "us" || unit == "µs" ? 1e3
                   : unit == "ms"                 ? 1e6
                   : unit == "s"                  ? 1e9
                   : unit == "m"                  ? 60e9
                   : unit == "h"                  ? 3600e9
                                                  : -1;
    if (scale < 0) {
      return unit.empty() ? make_error(ErrorKind::kInvalidArgument,
                                       "time: missing unit in duration \"" + text + "\"")
                          : invalid();
    }
    total += value * scale;
    i = k;
  }
  return static_cast<int64_t>(std::llround(total));
}

}  // namespace dind::base
