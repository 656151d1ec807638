// The API server: its listeners (unix socket, TCP, TCP with mutual TLS), the
// accept loops, run() and the graceful stop. A connection is in
// server_session.hpp, the scheduler side in server_scheduler.cpp, the state
// they share in server_internal.hpp.

#include "dind/api/server.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "server_internal.hpp"

namespace dind::api {
namespace ssl = asio::ssl;
using base::ErrorKind;
using base::make_error;

// ---------------------------------------------------------------------------
// Accept loops.

template <class Acceptor, class MakeSession>
void accept_loop(Server::Impl& impl, Acceptor& acceptor, MakeSession make) {
  acceptor.async_accept(
      asio::make_strand(impl.ioc),
      [&impl, &acceptor, make](boost::system::error_code ec, auto socket) {
        if (ec == asio::error::operation_aborted || impl.stopping) {
          return;
        }
        if (ec) {
          // EMFILE and friends: back off briefly instead of spinning.
          DIND_LOG(kWarn) << "accept failed: " << ec.message();
          auto timer =
              std::make_shared<asio::steady_timer>(impl.ioc, std::chrono::milliseconds(100));
          timer->async_wait([&impl, &acceptor, make, timer](boost::system::error_code) {
            accept_loop(impl, acceptor, make);
          });
          return;
        }
        make(std::move(socket));
        accept_loop(impl, acceptor, make);
      });
}

void Server::Impl::begin_stop() {
  if (stopping.exchange(true)) {
    return;
  }
  DIND_LOG(kInfo) << "stopping: no new connections; draining in-flight requests";
  asio::post(ioc, [this] {
    boost::system::error_code ec;
    for (auto& a : tcp_acceptors) {
      a->close(ec);
    }
    for (auto& a : unix_acceptors) {
      a->close(ec);
    }
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard lock(mu);
      for (auto& w : sessions) {
        if (auto s = w.lock()) {
          live.push_back(std::move(s));
        }
      }
    }
    for (auto& s : live) {
      s->shutdown();
    }
    const auto deadline = std::chrono::steady_clock::now() + limits.shutdown_grace;
    auto timer = std::make_shared<asio::steady_timer>(ioc);
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, timer, deadline, poll] {
      if (live_sessions.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
        if (live_sessions.load() != 0) {
          DIND_LOG(kWarn) << "grace period over: closing " << live_sessions.load()
                          << " connection(s)";
        }
        ioc.stop();
        *poll = nullptr;  // break the self-reference
        return;
      }
      timer->expires_after(std::chrono::milliseconds(20));
      timer->async_wait([poll](boost::system::error_code) {
        if (*poll) {
          (*poll)();
        }
      });
    };
    (*poll)();
  });
}

void Server::Impl::remove_socket_files() {
  for (const auto& f : socket_files) {
    struct stat st {};
    // Only remove the socket we created; another daemon may have replaced it.
    if (::lstat(f.path.c_str(), &st) == 0 && st.st_ino == f.inode && S_ISSOCK(st.st_mode)) {
      ::unlink(f.path.c_str());
    }
  }
  socket_files.clear();
}

// ---------------------------------------------------------------------------

Server::Server(const Router& router, Headers common_headers, ServerLimits limits)
    : impl_(std::make_unique<Impl>(router, std::move(common_headers), limits)) {}

Server::~Server() {
  impl_->remove_socket_files();
  // Acceptors deregister from the io_context, so they go before it does.
  impl_->tcp_acceptors.clear();
  impl_->unix_acceptors.clear();
}

uint64_t Server::requests_handled() const {
  return impl_->handled.load();
}

namespace {

// A unix socket path may hold a stale socket from a crashed daemon (replace
// it) or a live daemon's socket (refuse).
base::Status prepare_unix_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return {};
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(ErrorKind::kAlreadyExists, path + " exists and is not a socket");
  }
  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    return make_error(ErrorKind::kAlreadyExists, "another daemon is already listening on " + path);
  }
  DIND_LOG(kInfo) << "removing stale socket " << path;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return base::sys_error(errno, "remove stale socket " + path);
  }
  return {};
}

std::shared_ptr<ssl::context> make_tls_context(const TlsFiles& files) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->use_certificate_chain_file(files.cert.string());
  ctx->use_private_key_file(files.key.string(), ssl::context::pem);
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error(files.key.string() + " does not match " + files.cert.string());
  }
  ctx->load_verify_file(files.ca.string());
  // Tell clients which CA we accept, and demand a certificate that chains to
  // it with the clientAuth purpose (OpenSSL's default for a server).
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  static const unsigned char kSessionContext[] = "dind";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  return ctx;
}

}  // namespace

base::Result<std::string> Server::listen(const Listener& l) {
  Impl& impl = *impl_;
  try {
    if (l.kind == Listener::Kind::kUnix) {
      DIND_TRY(prepare_unix_path(l.path));
      std::error_code fec;
      std::filesystem::create_directories(std::filesystem::path(l.path).parent_path(), fec);
      auto acceptor = std::make_unique<unix_proto::acceptor>(impl.ioc);
      acceptor->open();
      acceptor->bind(unix_proto::endpoint(l.path));
      if (::chmod(l.path.c_str(), 0660) != 0) {
        return base::sys_error(errno, "chmod " + l.path);
      }
      acceptor->listen(asio::socket_base::max_listen_connections);
      struct stat st {};
      ::lstat(l.path.c_str(), &st);
      impl.socket_files.push_back({l.path, st.st_ino});
      auto& a = *acceptor;
      impl.unix_acceptors.push_back(std::move(acceptor));
      accept_loop(impl, a, [&impl](unix_proto::socket socket) {
        start_unix_session(impl, std::move(socket));
      });
      return "unix://" + l.path;
    }

    if (!l.tls && !l.insecure) {
      return make_error(ErrorKind::kInvalidArgument, "refusing to listen on tcp://" + l.host + ":" +
                                                         std::to_string(l.port) + " without TLS");
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(l.host, ec);
    if (ec) {
      return make_error(ErrorKind::kInvalidArgument, "invalid listen address \"" + l.host + "\"");
    }
    std::shared_ptr<ssl::context> tls;
    if (l.tls) {
      try {
        tls = make_tls_context(*l.tls);
      } catch (const std::exception& e) {
        return make_error(ErrorKind::kInvalidArgument,
                          std::string("loading the TLS certificates failed: ") + e.what());
      }
    }
    auto acceptor = std::make_unique<tcp::acceptor>(impl.ioc);
    tcp::endpoint ep(address, l.port);
    acceptor->open(ep.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    if (address.is_v6()) {
      acceptor->set_option(asio::ip::v6_only(false), ec);
    }
    acceptor->bind(ep);
    acceptor->listen(asio::socket_base::max_listen_connections);
    const auto bound = acceptor->local_endpoint();
    auto& a = *acceptor;
    impl.tcp_acceptors.push_back(std::move(acceptor));
    accept_loop(impl, a, [&impl, tls](tcp::socket socket) {
      boost::system::error_code e;
      auto remote = socket.remote_endpoint(e);
      std::string peer =
          e ? "tcp" : remote.address().to_string() + ":" + std::to_string(remote.port());
      socket.set_option(tcp::no_delay(true), e);
      if (tls) {
        start_tls_session(impl, std::move(socket), *tls, peer);
      } else {
        start_tcp_session(impl, std::move(socket), peer);
      }
    });
    std::string host = bound.address().to_string();
    if (bound.address().is_v6()) {
      host = "[" + host + "]";
    }
    return "tcp://" + host + ":" + std::to_string(bound.port());
  } catch (const boost::system::system_error& e) {
    std::string where = l.kind == Listener::Kind::kUnix
                            ? "unix://" + l.path
                            : "tcp://" + l.host + ":" + std::to_string(l.port);
    return make_error(base::kind_from_errno(e.code().value()),
                      "listen on " + where + ": " + e.code().message());
  }
}

void Server::on_shutdown(std::function<void(std::function<void()>)> hook) {
  impl_->shutdown_hook = std::move(hook);
}

void Server::run(int threads, bool handle_signals) {
  Impl& impl = *impl_;
  std::unique_ptr<asio::signal_set> signals;
  if (handle_signals) {
    signals = std::make_unique<asio::signal_set>(impl.ioc, SIGTERM, SIGINT);
    signals->async_wait([&impl](boost::system::error_code ec, int sig) {
      if (ec) {
        return;
      }
      DIND_LOG(kInfo) << "received signal " << sig;
      if (!impl.shutdown_hook) {
        impl.begin_stop();
        return;
      }
      impl.shutdown_hook([&impl] { asio::post(impl.ioc, [&impl] { impl.begin_stop(); }); });
    });
  }
  // Keeps run() alive until begin_stop() ends the drain with ioc.stop().
  auto guard = asio::make_work_guard(impl.ioc);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&impl] { impl.ioc.run(); });
  }
  impl.ioc.run();
  for (auto& t : pool) {
    t.join();
  }
  if (signals) {
    boost::system::error_code ec;
    signals->cancel(ec);
  }
  impl.remove_socket_files();
}

void Server::stop() {
  impl_->begin_stop();
}

}  // namespace dind::api
