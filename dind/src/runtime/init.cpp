#include "dind/runtime/init.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dind::runtime {

namespace {

// Forwards the signals it gets to `child`, reaps every process that ends
// (orphans come to PID 1), returns the child's status once it ends. All
// signals are blocked (sigwaitinfo takes them).
int supervise(pid_t child, const sigset_t& all) {
  for (;;) {
    siginfo_t si{};
    if (::sigwaitinfo(&all, &si) < 0) {
      continue;
    }
    if (si.si_signo != SIGCHLD) {
      // The terminal's job-control signals stay ours; the rest go on.
      if (si.si_signo != SIGTTIN && si.si_signo != SIGTTOU && si.si_signo != SIGTSTP) {
        ::kill(child, si.si_signo);
      }
      continue;
    }
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        break;
      }
      if (pid == child) {
        return WIFEXITED(status) ? WEXITSTATUS(status)
                                 : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1);
      }
    }
  }
}

}  // namespace

int init_main(int argc, char** argv) {
  int first = 1;
  if (first < argc && std::strcmp(argv[first], "--") == 0) {
    ++first;
  }
  if (first >= argc) {
    std::fprintf(stderr, "docker-init: no command given\n");
    return 1;
  }
  return run_supervised([&]() -> int {
    ::execvp(argv[first], argv + first);
    std::fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], std::strerror(errno));
    return errno == ENOENT ? 127 : 126;
  });
}

int run_supervised(const std::function<int()>& body) {
  sigset_t all;
  sigfillset(&all);
  sigset_t old;
  ::sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "init: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::_exit(body());
  }
  return supervise(child, all);
}

}  // namespace dind::runtime
