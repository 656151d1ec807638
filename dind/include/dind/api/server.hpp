#pragma once
// The API server: listeners (unix socket, TCP with mutual TLS, TCP plain only
// when the caller opted in), HTTP/1.1 with keep-alive, deadlines on every
// step, per-route body limits, streamed responses and hijacked connections.
// Boost.Beast lives only in the server's connection files; this header is Beast-free.
//
// Threading: one io_context run by N threads; each connection runs on its own
// strand; handlers are invoked on that strand and may reply from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "dind/api/http.hpp"
#include "dind/api/router.hpp"
#include "dind/base/scheduler.hpp"
#include "dind/base/result.hpp"

namespace dind::api {

struct TlsFiles {
  std::filesystem::path ca;    // client certificates must chain to this
  std::filesystem::path cert;  // server certificate (chain)
  std::filesystem::path key;
};

struct Listener {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;             // unix
  std::string host;             // tcp: "0.0.0.0", "127.0.0.1", "::"
  uint16_t port = 0;            // tcp; 0 picks a free port (tests)
  std::optional<TlsFiles> tls;  // tcp: required unless insecure is set
  bool insecure = false;        // explicit opt-in to plain TCP
};

struct ServerLimits {
  size_t header_limit = 64 * 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds header_timeout{60'000};  // idle keep-alive + slow headers
  std::chrono::milliseconds body_timeout{120'000};
  std::chrono::milliseconds write_timeout{120'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  std::filesystem::path spool_dir = "/tmp";  // where spooled upload bodies live (unlinked)
};

class Server : public base::Scheduler {
 public:
  // common_headers go on every response (Api-Version, Server, Ostype...).
  Server(const Router& router, Headers common_headers, ServerLimits limits = {});
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds now so that start-up errors surface before run(): an address in use,
  // a live daemon on the unix socket, unreadable TLS files. Returns the
  // address actually bound ("unix:///run/x.sock", "tcp://127.0.0.1:2376").
  base::Result<std::string> listen(const Listener& listener);

  // Runs the io_context on `threads` threads until stop() (or SIGTERM/SIGINT
  // when handle_signals) and the graceful drain are over.
  void run(int threads, bool handle_signals);
  // Runs at SIGTERM/SIGINT before the drain begins; the drain waits until
  // the hook calls `proceed` (from any thread). Set before run().
  void on_shutdown(std::function<void(std::function<void()> proceed)> hook);
  // Thread-safe: stop accepting, let in-flight requests finish within the
  // grace period, then close everything.
  void stop();

  uint64_t requests_handled() const;  // requests that reached a handler
  void after(std::chrono::milliseconds delay, std::function<void()> fn) override;
  std::shared_ptr<RawStream> adopt(base::UniqueFd fd) override;
  void when_readable(std::shared_ptr<base::UniqueFd> fd, std::function<void()> fn) override;

  struct Impl;  // opaque: defined in src/api/server_internal.hpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dind::api
