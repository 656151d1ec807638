#include "dind/runtime/seccomp_bpf.hpp"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "dind/base/fs.hpp"

namespace dind::runtime {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

base::Result<uint32_t> action(const json& rule, const char* key, const char* errno_key,
                              uint32_t default_errno) {
  const std::string a = rule.value(key, "");
  const auto ret = rule.contains(errno_key) && rule[errno_key].is_number_unsigned()
                       ? rule[errno_key].get<uint32_t>()
                       : default_errno;
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (a == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  return make_error(ErrorKind::kInvalidArgument, "unknown seccomp action \"" + a + "\"");
}

base::Result<scmp_compare> op(const std::string& o) {
  if (o == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (o == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (o == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (o == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (o == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (o == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (o == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return make_error(ErrorKind::kInvalidArgument, "unknown seccomp operator \"" + o + "\"");
}

}  // namespace

base::Result<std::string> compile_seccomp(const json& s) {
  if (!s.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the seccomp profile is not an object");
  }
  const uint32_t default_errno = EPERM;
  DIND_ASSIGN_OR_RETURN(const uint32_t def, action(s, "defaultAction", "defaultErrnoRet", default_errno));
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(def), seccomp_release);
  if (!ctx) {
    return make_error(ErrorKind::kInternal, "seccomp_init failed");
  }
  // As runc: a bad architecture or NNP is the runtime's business, not ours.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const auto& a : s.value("architectures", json::array())) {
    if (!a.is_string()) {
      continue;
    }
    std::string name = a.get<std::string>();
    if (name.rfind("SCMP_ARCH_", 0) == 0) {
      name = name.substr(10);
    }
    for (auto& ch : name) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    const uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch != 0 && seccomp_arch_exist(ctx.get(), arch) == -EEXIST) {
      seccomp_arch_add(ctx.get(), arch);
    }
  }
  for (const auto& rule : s.value("syscalls", json::array())) {
    DIND_ASSIGN_OR_RETURN(const uint32_t act, action(rule, "action", "errnoRet", default_errno));
    if (act == def) {
      continue;  // libseccomp refuses rules equal to the default
    }
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.value("args", json::array())) {
      DIND_ASSIGN_OR_RETURN(const scmp_compare o, op(a.value("op", "")));
      args.push_back(scmp_arg_cmp{a.value("index", 0u), o, a.value("value", uint64_t{0}),
                                  a.value("valueTwo", uint64_t{0})});
    }
    for (const auto& n : rule.value("names", json::array())) {
      if (!n.is_string()) {
        continue;
      }
      const int nr = seccomp_syscall_resolve_name(n.get<std::string>().c_str());
      if (nr == __NR_SCMP_ERROR) {
        continue;  // a syscall this libseccomp (or arch) does not know
      }
      // runc adds one rule per argument set; several args on the same index
      // need separate rules, which libseccomp's _array form refuses.
      const int rc = seccomp_rule_add_array(ctx.get(), act, nr, static_cast<unsigned>(args.size()),
                                            args.empty() ? nullptr : args.data());
      if (rc != 0 && rc != -EEXIST) {
        for (const auto& one : args) {
          (void)seccomp_rule_add_array(ctx.get(), act, nr, 1, &one);
        }
      }
    }
  }
  base::UniqueFd mem(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
  if (!mem.valid() || seccomp_export_bpf(ctx.get(), mem.get()) != 0) {
    return make_error(ErrorKind::kInternal, "exporting the seccomp filter failed");
  }
  std::string out;
  char buf[8192];
  ::lseek(mem.get(), 0, SEEK_SET);
  for (ssize_t n; (n = ::read(mem.get(), buf, sizeof(buf))) > 0;) {
    out.append(buf, static_cast<size_t>(n));
  }
  if (out.empty() || out.size() % 8 != 0) {
    return make_error(ErrorKind::kInternal, "the seccomp filter came out empty");
  }
  return out;
}

}  // namespace dind::runtime
