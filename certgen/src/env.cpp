#include "certgen/env.hpp"

#include <charconv>
#include <cstdlib>

namespace certgen {
using dind::base::ErrorKind;
using dind::base::make_error;

EnvLookup process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
}

Result<std::chrono::days> parse_validity_days(std::string_view text) {
  int days = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), days);
  if (ec != std::errc() || ptr != text.data() + text.size() || days < 1 || days > 3650) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid validity \"" + std::string(text) + "\": expected 1 to 3650 days");
  }
  return std::chrono::days(days);
}

Result<EnvSettings> settings_from_env(const EnvLookup& env) {
  EnvSettings s;
  auto dir = env("DOCKER_TLS_CERTDIR");
  if (!dir) {
    s.dir = kDefaultCertDir;
  } else if (!dir->empty()) {
    s.dir = *dir;
  }
  if (auto san = env("DOCKER_TLS_SAN")) {
    s.plan.extra_sans = *san;
  }
  if (auto kt = env("DIND_TLS_KEY_TYPE"); kt && !kt->empty()) {
    auto parsed = parse_key_type(*kt);
    if (!parsed) {
      return std::move(parsed).error().with_context("DIND_TLS_KEY_TYPE");
    }
    s.key_type = *parsed;
  }
  if (auto vd = env("DIND_TLS_VALIDITY_DAYS"); vd && !vd->empty()) {
    auto parsed = parse_validity_days(*vd);
    if (!parsed) {
      return std::move(parsed).error().with_context("DIND_TLS_VALIDITY_DAYS");
    }
    s.plan.validity = *parsed;
  }
  return s;
}

}  // namespace certgen
