#include "dind/runtime/shim_os.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dind::runtime::shim_os {

void set_nonblock(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int run_runtime(const std::string& runtime, const std::string& root, const std::string& log,
                const std::vector<std::string>& args, int in, int out, int err) {
  std::vector<std::string> argv = {runtime, "--root", root, "--log", log, "--log-format", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  // What the child logs (as runc would, a JSON error line) when the runtime
  // cannot be run at all: made before the fork, chosen after by errno.
  auto line = [&](const char* why) {
    return nlohmann::json{{"level", "error"}, {"msg", "cannot run the runtime " + runtime + ": " + why}}.dump() + "\n";
  };
  const std::string missing = line("no such file or directory"), denied = line("permission denied"),
                    other = line("exec failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // Only stdio reaches runc (the daemon's API sockets are not CLOEXEC).
    ::syscall(SYS_close_range, 3u, ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(cargv[0], cargv.data());
    const std::string& why = errno == ENOENT ? missing : errno == EACCES ? denied : other;
    const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      (void)!::write(fd, why.data(), why.size());
    }
    ::_exit(127);
  }
  if (pid < 0) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string runtime_error(const std::string& log, const std::string& fallback) {
  auto text = base::read_file(log, 1u << 20);
  std::string msg;
  if (text) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      auto doc = nlohmann::json::parse(line, nullptr, false);
      if (doc.is_object() && doc.value("level", "") == "error" && doc.contains("msg")) {
        msg = doc["msg"].is_string() ? doc["msg"].get<std::string>() : doc["msg"].dump();
      }
    }
  }
  return msg.empty() ? fallback : msg;
}

base::UniqueFd listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return {};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 64) != 0) {
    return {};
  }
  return fd;
}

base::UniqueFd receive_master(int listen_fd) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) {
    return {};
  }
  base::UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  return conn.valid() ? receive_fd(conn.get()) : base::UniqueFd();
}

base::UniqueFd receive_fd(int sock) {
  char data[4096];  // runc sends the terminal's name along
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) {
    return {};
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return base::UniqueFd(fd);
    }
  }
  return {};
}

bool send_fd(int sock, int fd) {
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0;
}

}  // namespace dind::runtime::shim_os
