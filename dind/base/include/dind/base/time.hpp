#pragma once
// RFC 3339 timestamps as the Docker API spells them.

#include <chrono>
#include <string>

namespace dind::base {

// "2026-11-29T01:32:06.123456789Z"
std::string rfc3339_nano(std::chrono::system_clock::time_point t);
// "2026-11-29T01:32:06Z"
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace dind::base
