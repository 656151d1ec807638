#pragma once
// Engine API versions: "1.44" style, compared numerically. The supported
// range is [kMinApiVersion, kMaxApiVersion]; unversioned paths mean the max.

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace dind::api {

struct ApiVersion {
  int major = 1;
  int minor = 44;
  auto operator<=>(const ApiVersion&) const = default;
  std::string to_string() const;
};

inline constexpr ApiVersion kMinApiVersion{1, 24};
inline constexpr ApiVersion kMaxApiVersion{1, 44};

// Parses "1.44"; nullopt for anything else ("1", "1.", "v1.44", "1.44.0", "01.x").
std::optional<ApiVersion> parse_api_version(std::string_view text);

}  // namespace dind::api
