#include "dind/base/time.hpp"

#include <cstdio>
#include <ctime>

namespace dind::base {

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

}  // namespace dind::base
