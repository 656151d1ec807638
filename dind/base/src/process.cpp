#include "dind/base/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include "dind/base/fs.hpp"

extern char** environ;

namespace dind::base {

Result<ProcessOutput> run_capture(const std::vector<std::string>& argv, size_t max_output) {
  if (argv.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "no program to run");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return sys_error(errno, "pipe");
  }
  UniqueFd reader(fds[0]);
  UniqueFd writer(fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears O_CLOEXEC on the target: only 0, 1 and 2 reach the child,
  // and nothing above them (Asio opens the API's sockets without CLOEXEC).
  posix_spawn_file_actions_adddup2(&fa, writer.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, writer.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  writer.reset();
  if (rc != 0) {
    return sys_error(rc, "cannot run " + argv[0]);
  }
  ProcessOutput out;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(reader.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    if (out.output.size() < max_output) {
      out.output.append(buf, std::min(static_cast<size_t>(n), max_output - out.output.size()));
    }
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

int pidfd_open(int pid) {
  if (pid <= 0) {
    errno = ESRCH;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool pidfd_alive(int pidfd) {
  return pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
}

int pidfd_signal(int pidfd, int sig) {
  if (pidfd < 0) {
    return ESRCH;
  }
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? 0 : errno;
}

int parent_pid(int pid) {
  auto status = read_file("/proc/" + std::to_string(pid) + "/status", 8192);
  if (!status) {
    return 0;
  }
  const size_t at = status->find("\nPPid:");
  return at == std::string::npos ? 0 : std::atoi(status->c_str() + at + 6);
}

}  // namespace dind::base
