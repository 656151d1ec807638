#include "dind/runtime/init.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dind::runtime {

int init_main(int argc, char** argv) {
  int first = 1;
  if (first < argc && std::strcmp(argv[first], "--") == 0) {
    ++first;
  }
  if (first >= argc) {
    std::fprintf(stderr, "docker-init: no command given\n");
    return 1;
  }
  sigset_t all;
  sigfillset(&all);
  sigset_t old;
  ::sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "docker-init: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::execvp(argv[first], argv + first);
    std::fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], std::strerror(errno));
    ::_exit(errno == ENOENT ? 127 : 126);
  }
  // Not a subreaper's job here: as PID 1 every orphan of the container comes
  // to us anyway.
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

}  // namespace dind::runtime
