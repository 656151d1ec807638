// libFuzzer's entry (scripts/fuzz builds it with clang -fsanitize=fuzzer):
// the target named by $DIND_FUZZ_TARGET.
#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dind::fuzz::Target* target = [] {
    const char* name = std::getenv("DIND_FUZZ_TARGET");
    const dind::fuzz::Target* t = dind::fuzz::find_target(name ? name : "");
    if (t == nullptr) {
      std::fprintf(stderr, "set DIND_FUZZ_TARGET to a target of tests/fuzz/fuzz_targets.cpp\n");
      std::abort();
    }
    return t;
  }();
  target->run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
