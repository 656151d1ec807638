#include "dind/appliance/health.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "dind/base/fs.hpp"
#include "dind/engine/config.hpp"

namespace dind::appliance {

namespace {

constexpr int kTimeoutMs = 3000;

std::string check(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return "socket path too long";
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return std::string("cannot connect to ") + path + ": " + std::strerror(errno);
  }
  const std::string req = "GET /_ping HTTP/1.1\r\nHost: dind\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return std::string("send: ") + std::strerror(errno);
  }
  std::string reply;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd.get(), POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
      return "no answer within " + std::to_string(kTimeoutMs) + " ms";
    }
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > 65536) {
      break;
    }
  }
  if (reply.rfind("HTTP/1.1 200", 0) != 0 && reply.rfind("HTTP/1.0 200", 0) != 0) {
    return "unexpected answer: " + reply.substr(0, reply.find('\r'));
  }
  return "";
}

}  // namespace

constexpr const char* kHealthUsage =
    "usage: dind health [-H unix:///path/to/docker.sock]\n"
    "  exit 0 when the daemon answers GET /_ping on the socket (default: a unix://\n"
    "  DOCKER_HOST, else /var/run/docker.sock), 1 otherwise\n";

int health(const std::vector<std::string>& args) {
  std::string host;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-H" || args[i] == "--host") && i + 1 < args.size()) {
      host = args[++i];
    } else if (args[i].rfind("--host=", 0) == 0) {
      host = args[i].substr(7);
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::cout << kHealthUsage;  // asked for: the usage on stdout, success
      return 0;
    } else {
      std::cerr << kHealthUsage;
      return 2;
    }
  }
  if (host.empty()) {
    const char* env = std::getenv("DOCKER_HOST");
    host = env != nullptr && std::string(env).rfind("unix://", 0) == 0
               ? env
               : std::string("unix://") + engine::kDefaultSocket;
  }
  if (host.rfind("unix://", 0) != 0) {
    std::cerr << "dind health: only unix:// sockets (" << host << ")\n";
    return 2;
  }
  const std::string why = check(host.substr(7));
  if (!why.empty()) {
    std::cerr << "dind health: " << why << "\n";
    return 1;
  }
  return 0;
}

}  // namespace dind::appliance
