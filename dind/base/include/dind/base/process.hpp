#pragma once
// Child processes run with an argument vector (never through a shell) and
// their output captured. Blocking: call from a worker-pool thread.

#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::base {

struct ProcessOutput {
  int status = 0;      // the exit status; 128+N when killed by signal N
  std::string output;  // stdout and stderr interleaved, at most max_output bytes
};

// Runs argv[0] (looked up on PATH) with stdin from /dev/null and only the
// three standard descriptors inherited. Fails only when it cannot be started.
Result<ProcessOutput> run_capture(const std::vector<std::string>& argv, size_t max_output = 4 << 20);

// Process handles that stay with one process (pid reuse cannot redirect them).
// pidfd_open(2): -1 with errno when the process is gone.
int pidfd_open(int pid);
// Whether the process a pidfd refers to still runs (has not been reaped).
// Open the pidfd first, then inspect /proc/<pid>, then check it is still
// alive: only then did /proc describe the same process.
bool pidfd_alive(int pidfd);
// pidfd_send_signal(2): 0, or the errno (ESRCH once the process is gone).
int pidfd_signal(int pidfd, int sig);
// The parent pid from /proc/<pid>/status, or 0.
int parent_pid(int pid);

}  // namespace dind::base
