#pragma once
// A connection (internal to api/): the Session class template, HTTP/1.1 over a
// unix socket, plain TCP or TLS. Model: Beast's advanced_server_flex, minus
// its plaintext auto-detection on the TLS port and its small body limits.
// Its members are defined in server_session.cpp (reading a request, a body
// spooled to a file, the response, the write queue, the end of the
// connection), which instantiates them for the three stream kinds. It is the
// only source file that includes Boost.Beast and Asio SSL (compile time: keep
// it that way).

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/fs.hpp"
#include "server_internal.hpp"

namespace dind::api {
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

using TcpStream = beast::tcp_stream;
using UnixStream =
    beast::basic_stream<unix_proto, asio::any_io_executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// ---------------------------------------------------------------------------
// Stream traits: deadlines and closing for the three stream kinds.

template <class Stream>
auto& lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
void close_stream(Stream& s) {
  boost::system::error_code ec;
  lowest(s).socket().shutdown(asio::socket_base::shutdown_both, ec);
  lowest(s).socket().close(ec);
}

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// ---------------------------------------------------------------------------
// A connection.

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server::Impl& server, Stream stream, std::string peer)
      : server_(server), stream_(std::move(stream)), peer_(std::move(peer)) {
    ++server_.live_sessions;
  }
  ~Session() override { --server_.live_sessions; }

  void start();
  void shutdown() override;

  // --- used by the BodyWriter / RawStream adapters (any thread) ---
  void enqueue(std::string data, std::function<void(bool)> done, bool then_shutdown = false,
               bool then_end = false);
  void raw_read(std::function<void(std::string_view, bool)> cb);
  void raw_close();
  void set_close_callback(std::function<void()> cb);

 private:
  enum class State { kHandshake, kReading, kHandling, kWriting, kStreaming, kHijacked, kClosed };
  struct Pending {
    std::string data;
    std::function<void(bool)> done;
    bool then_shutdown = false;
    bool then_end = false;  // a streamed body finished: close the connection
  };

  // --- server_session.cpp: the request ---
  void on_handshake(boost::system::error_code ec);
  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void dispatch();
  // Refuses a request that never reaches a handler; the connection closes.
  void fail(int status, std::string message);

  // --- a body spooled to a file ---
  // Streams the body into an unlinked file in the spool directory, a buffer
  // at a time, so an upload of any size costs constant memory.
  void start_spool();
  // Writes to the spool file; on failure refuses the request.
  bool spool_write(const char* p, size_t left);
  void spool_done();
  // One raw read of the upload; then `on_bytes(session, n)` takes over.
  template <class OnBytes>
  void spool_read(size_t want, OnBytes on_bytes);
  void spool_raw_next();
  // Feeds raw bytes to the chunk decoder; leftover bytes after the body stay
  // in buffer_ for the next request. False when the request was refused.
  bool spool_chunks(const char* data, size_t size);
  bool spool_write_quiet(const char* p, size_t left);
  void spool_chunked_next();
  // A streaming handler still reading an upload that will not complete: let
  // its reader fail, and let its reply be dropped.
  void abandon_upload();

  // --- the response and the end of the connection ---
  void send(Response res);
  // While a body streams, a read tells us when the client goes away.
  void watch_for_disconnect();
  void write_next();
  void shutdown_send();
  // After refusing an upload the client is still sending: read and drop
  // its bytes for a few seconds before closing, so that the close does not
  // reset the connection and lose the answer in the client's buffer.
  void linger();
  void close();
  std::shared_ptr<RawStream> make_raw_stream();
  std::shared_ptr<BodyWriter> make_body_writer();

  Server::Impl& server_;
  Stream stream_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<base::UniqueFd> spool_fd_;
  std::string spool_target_;
  std::shared_ptr<BodyProgress> progress_;  // stream_body: the handler reads behind us
  std::optional<Response> early_reply_;     // a reply that came before the body's end
  bool early_ = false;
  bool body_done_ = true;
  std::vector<char> spool_buf_;
  std::chrono::steady_clock::time_point spool_started_;
  uint64_t spool_remaining_ = 0;
  ChunkedDecoder chunks_;
  Request req_;
  Router::Match match_;
  std::string write_buf_;
  std::deque<Pending> queue_;
  std::function<void()> on_close_;
  char probe_[1];
  State state_ = State::kHandshake;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool closing_ = false;
  bool lingering_ = false;  // the answer to a refused upload: linger() after it
  bool refused_ = false;    // fail() answered: nothing more is sent
  bool closed_ = false;
  bool writing_ = false;
};

}  // namespace dind::api
