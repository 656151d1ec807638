#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

#include "dind/base/log.hpp"

int main(int argc, char** argv) {
  // DIND_TEST_LOG=debug shows the library's logs while debugging a test.
  if (const char* level = std::getenv("DIND_TEST_LOG")) {
    if (auto l = dind::base::parse_log_level(level)) {
      dind::base::set_log_level(*l);
    }
  } else {
    dind::base::set_log_level(dind::base::LogLevel::kError);
  }
  return Catch::Session().run(argc, argv);
}
