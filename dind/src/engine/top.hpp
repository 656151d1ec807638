#pragma once
// docker top: `ps` with the client's arguments as an argument vector (dockerd
// splits ps_args on spaces the same way; no shell ever sees them), and its
// output cut down to the container's processes. The planners are pure.

#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/engine/containers.hpp"

namespace dind::engine {

// {"ps", args...}: ps_args split on ASCII whitespace ("-ef" when empty). A
// `ps` option that selects the output columns by assignment other than
// `pid=...` is refused as dockerd refuses it.
base::Result<std::vector<std::string>> ps_argv(const std::string& ps_args);

// The titles and the rows whose PID column is in `pids`; the last column
// keeps its spaces (the command line).
base::Result<TopResult> parse_ps(const std::string& output, const std::set<int>& pids);

// The container's processes: `init` and its descendants, read from /proc.
// Blocking (a directory walk).
std::set<int> process_tree(int init);

}  // namespace dind::engine
