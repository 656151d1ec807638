#pragma once
// Product and engine version strings. The engine reports a Docker-style
// version for the API level it implements (API 1.44 = Docker Engine 25.0),
// tagged with our own version, because clients gate features on it.

namespace dind {
inline constexpr const char* kDindVersion = "0.1.0";
inline constexpr const char* kEngineVersion = "25.0.0-dind.0.1.0";
inline constexpr const char* kGitCommit = "dind";
}  // namespace dind
