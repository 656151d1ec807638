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
#include <memory>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

namespace dind::runtime {

struct NativeExec {
  pid_t pid = 0;
  base::UniqueFd master;  // the pty master with a terminal
};

// A process the shim keeps in the container's cgroups and namespaces; each
// exec is a fork of it. (Moving a process into cgroup v1 hierarchies costs
// an RCU grace period, ~15 ms here, per exec; a fork inherits them.) It
// counts as one process of the container's cgroups (pids.max), is invisible
// inside (not in the pid namespace), and goes with the container.
// Whether this exec path applies every field of an OCI process:
// kUnimplemented names the first it does not (the caller uses runc).
base::Status natively_supported(const nlohmann::json& process);

class ExecZygote {
 public:
  // kUnimplemented for what this path does not cover (a user namespace, a
  // seccomp profile without its compiled filter).
  static base::Result<std::unique_ptr<ExecZygote>> start(pid_t init_pid,
                                                        const nlohmann::json& runc_state,
                                                        const std::string& seccomp_bpf);
  ~ExecZygote();  // kills and reaps it

  // Starts the OCI process with the given stdio (-1: /dev/null) or, when the
  // process asks for a terminal, a new pty whose master comes back. Errors
  // carry runc's wording ("exec failed: unable to start container process:
  // exec: \"x\": executable file not found in $PATH"); kUnavailable: the
  // zygote is gone (start another); kUnimplemented: use runc (labels).
  base::Result<NativeExec> exec(const nlohmann::json& process, int in, int out, int err);
  pid_t pid() const { return pid_; }

 private:
  ExecZygote() = default;
  static constexpr int kAnswerTimeoutMs = 10000;
  pid_t pid_ = 0;
  base::UniqueFd sock_;
};

}  // namespace dind::runtime
