#pragma once
// capability(7) names by number: shared by the spec planner (validation,
// the bounding set) and the shim's native exec (masks for capset).

#include <cstdint>
#include <string>
#include <vector>

namespace dind::runtime {

// "CAP_X" of capability number n, or nullptr past the last one known.
const char* capability_name(int n);
// The capability's number, or -1.
int capability_number(const std::string& name);

// "CAP_X" names of the capabilities in a mask (bit N = capability N), as
// /proc/<pid>/status shows them (CapBnd); unknown bits are left out.
std::vector<std::string> capability_names(uint64_t mask);

}  // namespace dind::runtime
