#pragma once
// RFC 3339 timestamps as the Docker API spells them.

#include <chrono>
#include <cstdint>
#include <string>

#include "dind/base/result.hpp"

namespace dind::base {

// "2026-11-29T01:32:06.123456789Z"
std::string rfc3339_nano(std::chrono::system_clock::time_point t);
// "2026-11-29T01:32:06Z"
std::string rfc3339(std::chrono::system_clock::time_point t);
// Seconds since the epoch of an RFC 3339 time (0 when it does not parse).
int64_t parse_time_secs(const std::string& t);
int64_t now_secs();
// Docker's units.HumanDuration ("Less than a second", "3 minutes", ...).
std::string human_duration(int64_t secs);

// A Go time.Duration's String() ("1m30s", "500ms") and Go's duration
// parser ("30s", "1m30s", "1.5h").
std::string go_duration(int64_t nanos);
Result<int64_t> parse_go_duration(const std::string& text);

}  // namespace dind::base
