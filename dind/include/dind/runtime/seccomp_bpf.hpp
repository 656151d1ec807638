#pragma once
// An OCI linux.seccomp object compiled to the classic BPF program the kernel
// loads (struct sock_filter array, as seccomp_export_bpf writes it), with
// libseccomp: the filter the shim installs in processes it execs natively
// (runc compiles the same object for the container's own process).

#include <nlohmann/json.hpp>
#include <string>

#include "dind/base/result.hpp"

namespace dind::runtime {

// kInvalidArgument for an action or operator it does not know; syscall names
// this libseccomp does not know are skipped (as runc does).
base::Result<std::string> compile_seccomp(const nlohmann::json& oci_seccomp);

}  // namespace dind::runtime
