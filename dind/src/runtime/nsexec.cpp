#include "dind/runtime/nsexec.hpp"

#include "dind/runtime/capabilities.hpp"
#include "dind/runtime/shim_os.hpp"

#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

extern char** environ;

namespace dind::runtime {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

const std::map<std::string, int>& rlimit_numbers() {
  static const std::map<std::string, int> k = {
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME}};
  return k;
}

uint64_t cap_mask(const json& list) {
  uint64_t m = 0;
  for (const auto& c : list.is_array() ? list : json::array()) {
    const int n = c.is_string() ? capability_number(c.get<std::string>()) : -1;
    if (n >= 0) {
      m |= 1ull << n;
    }
  }
  return m;
}

// Everything the forked side needs, prepared before the fork (no allocation
// after it beyond what exec needs).
struct Plan {
  std::vector<std::string> args, env;
  std::string cwd;
  uint32_t uid = 0, gid = 0;
  std::vector<gid_t> groups;
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  std::vector<std::pair<int, rlimit>> rlimits;
  std::optional<int> oom_score_adj;
  bool no_new_privs = false;
  bool terminal = false;
  unsigned short rows = 0, cols = 0;
  std::string bpf;
};

struct ContainerPlan {
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join
  std::vector<std::pair<int, base::UniqueFd>> namespaces;  // (CLONE_NEW*, fd), mnt last
  std::string bpf;
};

base::Result<ContainerPlan> container_plan(pid_t init_pid, const json& runc_state,
                                           const std::string& seccomp_bpf) {
  ContainerPlan out;
  const json config = runc_state.value("config", json::object());
  const bool wants_seccomp = config.contains("seccomp") && !config["seccomp"].is_null();
  if (wants_seccomp && seccomp_bpf.empty()) {
    return make_error(ErrorKind::kUnimplemented, "no compiled seccomp filter");
  }
  if (wants_seccomp) {
    out.bpf = seccomp_bpf;
  }
  const json cgroup_paths = runc_state.value("cgroup_paths", json::object());
  for (const auto& [controller, path] : cgroup_paths.items()) {
    (void)controller;
    if (path.is_string() && !path.get<std::string>().empty()) {
      out.cgroup_procs.push_back(path.get<std::string>() + "/cgroup.procs");
    }
  }
  const std::string base = "/proc/" + std::to_string(init_pid) + "/ns/";
  for (const auto& [name, flag] : std::initializer_list<std::pair<const char*, int>>{
           {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
           {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
           {"mnt", CLONE_NEWNS}}) {
    struct stat theirs {};
    struct stat ours {};
    if (::stat((base + name).c_str(), &theirs) != 0) {
      return base::sys_error(errno, "the container's " + std::string(name) + " namespace");
    }
    if (::stat((std::string("/proc/self/ns/") + name).c_str(), &ours) == 0 &&
        ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev) {
      continue;  // shared with the host
    }
    if (flag == CLONE_NEWUSER) {
      return make_error(ErrorKind::kUnimplemented, "user namespaces");
    }
    base::UniqueFd fd(::open((base + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return base::sys_error(errno, "open " + base + name);
    }
    out.namespaces.emplace_back(flag, std::move(fd));
  }
  return out;
}

base::Result<Plan> process_plan(const json& p) {
  if (!p.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the process is not an object");
  }
  if (!p.value("apparmorProfile", "").empty() || !p.value("selinuxLabel", "").empty()) {
    return make_error(ErrorKind::kUnimplemented, "security labels");
  }
  Plan out;
  for (const auto& a : p.value("args", json::array())) {
    if (!a.is_string()) {
      return make_error(ErrorKind::kInvalidArgument, "args must be strings");
    }
    out.args.push_back(a.get<std::string>());
  }
  if (out.args.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "args must not be empty");
  }
  for (const auto& e : p.value("env", json::array())) {
    if (e.is_string()) {
      out.env.push_back(e.get<std::string>());
    }
  }
  out.cwd = p.value("cwd", "/");
  const json user = p.value("user", json::object());
  out.uid = user.value("uid", 0u);
  out.gid = user.value("gid", 0u);
  for (const auto& g : user.value("additionalGids", json::array())) {
    out.groups.push_back(g.get<gid_t>());
  }
  const json caps = p.value("capabilities", json::object());
  out.bounding = cap_mask(caps.value("bounding", json::array()));
  out.effective = cap_mask(caps.value("effective", json::array()));
  out.permitted = cap_mask(caps.value("permitted", json::array()));
  out.inheritable = cap_mask(caps.value("inheritable", json::array()));
  out.ambient = cap_mask(caps.value("ambient", json::array()));
  for (const auto& r : p.value("rlimits", json::array())) {
    auto it = rlimit_numbers().find(r.value("type", ""));
    if (it == rlimit_numbers().end()) {
      return make_error(ErrorKind::kInvalidArgument, "unknown rlimit " + r.value("type", ""));
    }
    out.rlimits.emplace_back(it->second,
                             rlimit{r.value("soft", uint64_t{0}), r.value("hard", uint64_t{0})});
  }
  if (p.contains("oomScoreAdj") && p["oomScoreAdj"].is_number_integer()) {
    out.oom_score_adj = p["oomScoreAdj"].get<int>();
  }
  out.no_new_privs = p.value("noNewPrivileges", false);
  out.terminal = p.value("terminal", false);
  if (const json cs = p.value("consoleSize", json()); cs.is_object()) {
    out.rows = cs.value("height", 0);
    out.cols = cs.value("width", 0);
  }
  return out;
}

// Everything a pipe carries until its last writer closes it (an exec's error
// pipe is close-on-exec: EOF without a byte means the exec happened).
std::string read_to_eof(int fd) {
  std::string out;
  char b[4096];
  for (ssize_t r; (r = ::read(fd, b, sizeof(b))) != 0;) {
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    out.append(b, static_cast<size_t>(r));
  }
  return out;
}

void report(int fd, const std::string& msg) {
  (void)!::write(fd, msg.data(), msg.size());
}

bool write_file(const std::string& path, const std::string& text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

bool load_seccomp(const std::string& bpf) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

bool set_caps(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = static_cast<uint32_t>(effective);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  data[0].permitted = static_cast<uint32_t>(permitted);
  data[1].permitted = static_cast<uint32_t>(permitted >> 32);
  data[0].inheritable = static_cast<uint32_t>(inheritable);
  data[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

// The process side, in the container's namespaces; never returns.
[[noreturn]] void become(Plan& pl, int err_fd, int console_fd, int in, int out, int err) {
  auto fail = [err_fd](const std::string& what) {
    report(err_fd, what);
    ::_exit(126);
  };
  if (::setsid() < 0) {
    fail(std::string("setsid: ") + std::strerror(errno));
  }
  if (pl.terminal) {
    const int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[64];
    if (master < 0 || ::unlockpt(master) != 0 || ::ptsname_r(master, name, sizeof(name)) != 0) {
      fail(std::string("unable to allocate a terminal: ") + std::strerror(errno));
    }
    const int slave = ::open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) {
      fail(std::string("open ") + name + ": " + std::strerror(errno));
    }
    if (pl.rows > 0 && pl.cols > 0) {
      winsize ws{pl.rows, pl.cols, 0, 0};
      ::ioctl(slave, TIOCSWINSZ, &ws);
    }
    // The master goes to the shim.
    if (!shim_os::send_fd(console_fd, master)) {
      fail(std::string("sending the terminal: ") + std::strerror(errno));
    }
    ::close(master);
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) {
      fail(std::string("setting the controlling terminal: ") + std::strerror(errno));
    }
    in = out = err = slave;
  }
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const int fds[3] = {in >= 0 ? in : devnull, out >= 0 ? out : devnull, err >= 0 ? err : devnull};
  int copies[3];
  for (int i = 0; i < 3; ++i) {
    // Fresh numbers first: the targets 0-2 may be among the sources.
    if ((copies[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
      fail(std::string("stdio: ") + std::strerror(errno));
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(copies[i], i) < 0) {
      fail(std::string("stdio: ") + std::strerror(errno));
    }
    // As runc: the process's user owns its stdio (not /dev/null).
    struct stat st {};
    if (::fstat(i, &st) == 0 && !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) {
      (void)::fchown(i, pl.uid, pl.gid);
    }
  }
  for (const auto& [resource, limit] : pl.rlimits) {
    if (::setrlimit(resource, &limit) != 0) {
      fail(std::string("error setting rlimit type ") + std::to_string(resource) + ": " +
           std::strerror(errno));
    }
  }
  if (pl.oom_score_adj) {
    (void)write_file("/proc/self/oom_score_adj", std::to_string(*pl.oom_score_adj));
  }
  for (int cap = 0; cap <= 63; ++cap) {
    if (((pl.bounding >> cap) & 1u) == 0 && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
        ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      fail(std::string("dropping the bounding set: ") + std::strerror(errno));
    }
  }
  if (pl.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail(std::string("no_new_privs: ") + std::strerror(errno));
  }
  // Without no_new_privs the filter needs CAP_SYS_ADMIN: load it while the
  // process still holds every capability (as runc does).
  if (!pl.bpf.empty() && !pl.no_new_privs && !load_seccomp(pl.bpf)) {
    fail(std::string("error loading seccomp filter: ") + std::strerror(errno));
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 ||
      ::setgroups(pl.groups.size(), pl.groups.data()) != 0 ||
      ::setresgid(pl.gid, pl.gid, pl.gid) != 0 || ::setresuid(pl.uid, pl.uid, pl.uid) != 0) {
    fail(std::string("setting the user: ") + std::strerror(errno));
  }
  (void)::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (!set_caps(pl.effective, pl.permitted, pl.inheritable)) {
    fail(std::string("unable to apply caps: ") + std::strerror(errno));
  }
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; capability_name(cap) != nullptr; ++cap) {
    if ((pl.ambient >> cap) & 1u) {
      (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
  }
  if (::chdir(pl.cwd.c_str()) != 0) {
    std::string why = std::strerror(errno);
    for (auto& ch : why) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    fail("exec failed: unable to start container process: chdir to cwd (\"" + pl.cwd +
         "\") set in config.json failed: " + why);
  }
  if (!pl.bpf.empty() && pl.no_new_privs && !load_seccomp(pl.bpf)) {
    fail(std::string("error loading seccomp filter: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (auto& a : pl.args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : pl.env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  environ = envp.data();  // execvp searches this PATH
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; ++sig) {
    ::signal(sig, SIG_DFL);
  }
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Nothing of the shim's but stdio reaches the process.
  ::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
  ::execvp(argv[0], argv.data());
  const int e = errno;
  std::string why = (e == ENOENT && pl.args[0].find('/') == std::string::npos)
                        ? "executable file not found in $PATH"
                        : std::strerror(e);
  if (e != ENOENT || pl.args[0].find('/') != std::string::npos) {
    for (auto& ch : why) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  report(err_fd, "exec failed: unable to start container process: exec: \"" + pl.args[0] +
                     "\": " + why);
  ::_exit(e == ENOENT ? 127 : 126);
}

}  // namespace

namespace {

constexpr size_t kMaxRequest = 1u << 20;

// The zygote's loop: one request per packet ('T' + process JSON with a
// console socket, or 'P' + process JSON with stdin, stdout, stderr); each
// exec is a clone that the shim parents (CLONE_PARENT) and reaps; the answer
// is "K<pid>" or "E<message>".
[[noreturn]] void serve(int sock, const std::string& bpf) {
  std::vector<char> buf(kMaxRequest);
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))]{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::_exit(0);  // the shim went away
    }
    std::vector<base::UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds.emplace_back(fd);
        }
      }
    }
    const bool terminal = buf[0] == 'T';
    auto answer = [sock](const std::string& a) {
      (void)::send(sock, a.data(), a.size(), MSG_NOSIGNAL);
    };
    if (fds.size() != (terminal ? 1u : 3u)) {
      answer("Ebad exec request");
      continue;
    }
    auto process = json::parse(buf.data() + 1, buf.data() + n, nullptr, false);
    auto pl = process_plan(process);
    if (!pl) {
      answer("E" + pl.error().message);
      continue;
    }
    pl->bpf = bpf;
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
      answer(std::string("Eexec pipe: ") + std::strerror(errno));
      continue;
    }
    base::UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
    const long child = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (child == 0) {
      if (terminal) {
        become(*pl, err_w.get(), fds[0].get(), -1, -1, -1);
      }
      become(*pl, err_w.get(), -1, fds[0].get(), fds[1].get(), fds[2].get());
    }
    err_w.reset();
    fds.clear();  // the process holds its stdio now, not us
    if (child < 0) {
      answer(std::string("Eclone: ") + std::strerror(errno));
      continue;
    }
    const std::string why = read_to_eof(err_r.get());
    answer(why.empty() ? "K" + std::to_string(child) : "E" + why);
  }
}

}  // namespace

base::Result<std::unique_ptr<ExecZygote>> ExecZygote::start(pid_t init_pid,
                                                           const json& runc_state,
                                                           const std::string& seccomp_bpf) {
  DIND_ASSIGN_OR_RETURN(ContainerPlan cp, container_plan(init_pid, runc_state, seccomp_bpf));
  int sv[2];
  int ready[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
      ::pipe2(ready, O_CLOEXEC) != 0) {
    return base::sys_error(errno, "exec zygote sockets");
  }
  base::UniqueFd ours(sv[0]), theirs(sv[1]), ready_r(ready[0]), ready_w(ready[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return base::sys_error(errno, "fork");
  }
  if (pid == 0) {
    // Nothing of the container may look at us through /proc.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // Not a shim to the daemon's stray sweep (the arguments stay the shim's).
    ::prctl(PR_SET_NAME, "dind-zygote", 0, 0, 0);
    const std::string self = std::to_string(::getpid());
    for (const auto& procs : cp.cgroup_procs) {
      if (!write_file(procs, self)) {
        report(ready_w.get(), "joining the cgroup " + procs + ": " + std::strerror(errno));
        ::_exit(126);
      }
    }
    for (auto& [flag, fd] : cp.namespaces) {
      if (::setns(fd.get(), flag) != 0) {
        report(ready_w.get(), "setns: " + std::string(std::strerror(errno)));
        ::_exit(126);
      }
    }
    // Keep only the request socket: every other descriptor of the shim
    // (other execs' pipes above all) must not stay open here.
    // Closing the ready pipe with the rest tells the shim all went well.
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    if (theirs.get() != 3) {
      ::dup3(theirs.get(), 3, O_CLOEXEC);
    }
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    serve(3, cp.bpf);
  }
  theirs.reset();
  ready_w.reset();
  const std::string why = read_to_eof(ready_r.get());
  std::unique_ptr<ExecZygote> z(new ExecZygote());
  z->pid_ = pid;
  z->sock_ = std::move(ours);
  if (!why.empty()) {
    return make_error(ErrorKind::kInternal, why);  // z's destructor reaps it
  }
  return z;
}

ExecZygote::~ExecZygote() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

// The OCI process fields this exec path applies; anything else (umask,
// scheduler, I/O priority, CPU affinity, labels, ...) goes to runc, never
// silently dropped.
base::Status natively_supported(const json& p) {
  static const std::set<std::string> kProcess = {"terminal", "consoleSize", "user", "args", "env", "cwd",
                                                 "capabilities", "rlimits", "noNewPrivileges",
                                                 "oomScoreAdj", "apparmorProfile", "selinuxLabel"};
  static const std::set<std::string> kUser = {"uid", "gid", "additionalGids"};
  if (!p.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the process is not an object");
  }
  for (const auto& [key, value] : p.items()) {
    if (kProcess.count(key) == 0) {
      return make_error(ErrorKind::kUnimplemented, "process." + key);
    }
  }
  if (auto user = p.find("user"); user != p.end() && user->is_object()) {
    for (const auto& [key, value] : user->items()) {
      if (kUser.count(key) == 0) {
        return make_error(ErrorKind::kUnimplemented, "process.user." + key);
      }
    }
  }
  if (!p.value("apparmorProfile", "").empty() || !p.value("selinuxLabel", "").empty()) {
    return make_error(ErrorKind::kUnimplemented, "security labels");
  }
  return {};
}

base::Result<NativeExec> ExecZygote::exec(const json& process, int in, int out, int err) {
  DIND_TRY(natively_supported(process));
  const bool terminal = process.value("terminal", false);
  const std::string request = std::string(terminal ? "T" : "P") + process.dump();
  if (request.size() > kMaxRequest) {
    return make_error(ErrorKind::kUnimplemented, "a process this large goes to runc");
  }
  base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int console[2] = {-1, -1};
  if (terminal && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) != 0) {
    return base::sys_error(errno, "console socket");
  }
  base::UniqueFd console_ours(console[0]), console_theirs(console[1]);
  std::vector<int> fds;
  if (terminal) {
    fds = {console_theirs.get()};
  } else {
    fds = {in >= 0 ? in : devnull.get(), out >= 0 ? out : devnull.get(),
           err >= 0 ? err : devnull.get()};
  }
  iovec iov{const_cast<char*>(request.data()), request.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  if (::sendmsg(sock_.get(), &msg, MSG_NOSIGNAL) < 0) {
    return make_error(ErrorKind::kUnavailable,
                      std::string("the exec zygote is gone: ") + std::strerror(errno));
  }
  console_theirs.reset();
  // Bounded: a zygote frozen with its container (docker pause racing the
  // exec) must not stall the shim's one loop (logs, attach).
  pollfd pfd{sock_.get(), POLLIN, 0};
  int ready;
  while ((ready = ::poll(&pfd, 1, kAnswerTimeoutMs)) < 0 && errno == EINTR) {
  }
  if (ready == 0) {
    ::kill(pid_, SIGKILL);  // the shim's reaper collects it once it thaws
    pid_ = 0;
    sock_.reset();
    return make_error(ErrorKind::kInternal, "exec failed: the exec zygote did not answer within 10 s (is the container paused?)");
  }
  char answer[8192];
  ssize_t n;
  while ((n = ::recv(sock_.get(), answer, sizeof(answer), 0)) < 0 && errno == EINTR) {
  }
  if (n <= 0) {
    return make_error(ErrorKind::kUnavailable, "the exec zygote is gone");
  }
  const std::string a(answer, static_cast<size_t>(n));
  if (a[0] != 'K') {
    return make_error(ErrorKind::kInternal, a.substr(1));
  }
  NativeExec outp;
  outp.pid = static_cast<pid_t>(std::atoi(a.c_str() + 1));
  if (terminal) {
    outp.master = shim_os::receive_fd(console_ours.get());
    if (!outp.master.valid()) {
      return make_error(ErrorKind::kInternal, "the exec's terminal did not arrive");
    }
  }
  return outp;
}

}  // namespace dind::runtime
