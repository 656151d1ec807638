#pragma once
// Native exec: what `runc exec` does for a running container, done by the
// shim itself in a few milliseconds instead of runc's ~50 (two Go process
// starts and a seccomp compile per exec). A helper process joins the
// container's cgroups (runc's own record of them) and namespaces, forks the
// process into its pid namespace and exits; the process takes the OCI
// process object's rlimits, oom_score_adj, groups, user, capabilities,
// no_new_privs, cwd, environment and the container's compiled seccomp filter,
// and execs. The process is re-parented to the shim (subreaper).
//
// Anything this path does not cover (AppArmor or SELinux labels, a user
// namespace, a seccomp profile without its compiled filter) returns
// kUnimplemented and the caller uses runc exec instead.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

namespace dind::runtime {

struct NativeExecInput {
  pid_t init_pid = 0;
  nlohmann::json process;       // the OCI process object (process.json)
  nlohmann::json runc_state;    // runc's state.json for the container
  std::string seccomp_bpf;      // the container's filter (struct sock_filter[])
  int in = -1, out = -1, err = -1;  // the process's stdio without a terminal (-1: /dev/null)
};

struct NativeExec {
  pid_t pid = 0;
  base::UniqueFd master;  // the pty master with a terminal
};

// Errors carry runc's wording ("exec failed: unable to start container
// process: exec: \"x\": executable file not found in $PATH").
base::Result<NativeExec> native_exec(const NativeExecInput& in);

}  // namespace dind::runtime
