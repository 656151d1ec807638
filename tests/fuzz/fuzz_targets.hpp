#pragma once
// The fuzz targets (tests/fuzz): one function per parser of untrusted bytes,
// all in one binary. Built with clang's libFuzzer (scripts/fuzz) the target
// is chosen by $DIND_FUZZ_TARGET; in the ordinary build the same functions
// replay the seed corpora under tests/fuzz/corpus/<target> as unit tests
// (fuzz_replay.cpp). A target returns 0; it aborts (a crash libFuzzer and
// the replay report) when an invariant it checks breaks.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dind::fuzz {

struct Target {
  const char* name;
  void (*run)(std::string_view data);
};

// Every target, ended by {nullptr, nullptr}.
extern const Target kTargets[];

const Target* find_target(std::string_view name);

// Aborts with `what` when `ok` is false (an invariant of a target).
void require(bool ok, const char* what);

}  // namespace dind::fuzz
