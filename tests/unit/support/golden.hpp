#pragma once
// Golden files under tests/unit/golden; DIND_UPDATE_GOLDEN=1 rewrites them.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tree_snapshot.hpp"

namespace testsupport {

inline void check_golden(const std::string& name, const std::string& got) {
  const std::filesystem::path file = std::filesystem::path(DIND_GOLDEN_DIR) / name;
  if (std::getenv("DIND_UPDATE_GOLDEN")) {
    std::filesystem::create_directories(file.parent_path());
    write_text(file, got);
  }
  const std::string want = read_text(file);
  INFO("golden file " << file << "\n--- got ---\n" << got);
  CHECK(got == want);
}

}  // namespace testsupport
