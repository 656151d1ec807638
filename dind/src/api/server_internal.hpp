#pragma once
// The API server's shared state (internal to api/): Server::Impl, which the
// listeners, the connections and the scheduler side of Server all use, and
// the hand-off from an accept loop (server.cpp) to a connection
// (server_session.cpp). Beast-free: Boost.Beast stays in the connection files.

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dind/api/server.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace dind::api {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void shutdown() = 0;  // posts onto the session's strand
};

struct Server::Impl {
  const Router& router;
  Headers common_headers;
  ServerLimits limits;
  std::atomic<uint64_t> handled{0};
  std::atomic<int> live_sessions{0};
  std::atomic<bool> stopping{false};

  std::mutex mu;  // guards sessions, acceptors' lifetime during stop
  std::vector<std::weak_ptr<SessionBase>> sessions;
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<std::unique_ptr<unix_proto::acceptor>> unix_acceptors;
  struct SocketFile {
    std::string path;
    ino_t inode;
  };
  std::vector<SocketFile> socket_files;
  // Declared last so it is destroyed first: the handlers still queued in it
  // own sessions whose destructors touch the members above.
  asio::io_context ioc;

  Impl(const Router& r, Headers h, ServerLimits l)
      : router(r), common_headers(std::move(h)), limits(l) {}

  void track(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(mu);
    if (sessions.size() > 64 && sessions.size() % 64 == 0) {
      std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    }
    sessions.push_back(s);
  }

  void begin_stop();
  std::function<void(std::function<void()>)> shutdown_hook;
  void remove_socket_files();
};

// A connection on an accepted socket (server_session.cpp): tracked by `impl`
// for the graceful stop, and started (a TLS one with its handshake). `peer`
// names the client in the log.
void start_unix_session(Server::Impl& impl, unix_proto::socket socket);
void start_tcp_session(Server::Impl& impl, tcp::socket socket, std::string peer);
void start_tls_session(Server::Impl& impl, tcp::socket socket, asio::ssl::context& tls,
                       std::string peer);

}  // namespace dind::api
