// The one translation unit that includes Boost.Beast and Asio SSL (compile
// time: keep it that way). Model: Beast's advanced_server_flex, minus its
// plaintext auto-detection on the TLS port and its small body limits.

#include "dind/api/server.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "dind/api/errors.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"

namespace dind::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;
using base::ErrorKind;
using base::make_error;

using TcpStream = beast::tcp_stream;
using UnixStream =
    beast::basic_stream<unix_proto, asio::any_io_executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

std::string format_head(int status, const Headers& headers) {
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  for (const auto& [k, v] : headers) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  return head;
}

bool is_plaintext_on_tls(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

}  // namespace

// ---------------------------------------------------------------------------
// Shared server state.

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

  void start() {
    if constexpr (kIsTls<Stream>) {
      lowest(stream_).expires_after(server_.limits.handshake_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                self->on_handshake(ec);
                              });
    } else {
      read_header();
    }
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->closing_ = true;
      if ((self->state_ == State::kReading && self->buffer_.size() == 0) ||
          self->state_ == State::kStreaming || self->state_ == State::kHijacked) {
        self->close();
      }
    });
  }

  // --- used by the BodyWriter / RawStream adapters (any thread) ---
  void enqueue(std::string data, std::function<void(bool)> done, bool then_shutdown = false,
               bool then_end = false) {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), data = std::move(data),
                                        done = std::move(done), then_shutdown, then_end]() mutable {
      self->queue_.push_back(Pending{std::move(data), std::move(done), then_shutdown, then_end});
      if (!self->writing_) {
        self->write_next();
      }
    });
  }
  void raw_read(std::function<void(std::string_view, bool)> cb) {
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), cb = std::move(cb)]() mutable {
                 if (self->closed_) {
                   cb({}, false);
                   return;
                 }
                 if (self->buffer_.size() > 0) {  // bytes that arrived with the request
                   std::string data = beast::buffers_to_string(self->buffer_.data());
                   self->buffer_.consume(self->buffer_.size());
                   cb(data, true);
                   return;
                 }
                 self->stream_.async_read_some(
                     self->buffer_.prepare(16 * 1024),
                     [self, cb = std::move(cb)](boost::system::error_code ec, size_t n) mutable {
                       if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
                         cb({}, true);
                         return;
                       }
                       if (ec) {
                         cb({}, false);
                         return;
                       }
                       self->buffer_.commit(n);
                       std::string data = beast::buffers_to_string(self->buffer_.data());
                       self->buffer_.consume(n);
                       cb(data, true);
                     });
               });
  }
  void raw_close() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }
  void set_close_callback(std::function<void()> cb) {
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), cb = std::move(cb)]() mutable {
                 if (self->closed_) {
                   cb();
                 } else {
                   self->on_close_ = std::move(cb);
                 }
               });
  }

 private:
  enum class State { kHandshake, kReading, kHandling, kWriting, kStreaming, kHijacked, kClosed };
  struct Pending {
    std::string data;
    std::function<void(bool)> done;
    bool then_shutdown = false;
    bool then_end = false;  // a streamed body finished: close the connection
  };

  void on_handshake(boost::system::error_code ec) {
    if (!ec) {
      read_header();
      return;
    }
    if (is_plaintext_on_tls(ec)) {
      // Go's TLS server answers the same way; the docker CLI shows this text.
      static const std::string kReply =
          "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: "
          "close\r\n\r\n"
          "Client sent an HTTP request to an HTTPS server.\n";
      DIND_LOG(kDebug) << "plaintext HTTP on the TLS port from " << peer_;
      lowest(stream_).expires_after(std::chrono::seconds(5));
      asio::async_write(
          lowest(stream_), asio::buffer(kReply),
          [self = this->shared_from_this()](boost::system::error_code, size_t) { self->close(); });
      return;
    }
    DIND_LOG(kDebug) << "TLS handshake with " << peer_ << " failed: " << ec.message();
    close();
  }

  void read_header() {
    if (closing_) {
      close();
      return;
    }
    state_ = State::kReading;
    parser_.reset();
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<uint32_t>(server_.limits.header_limit));
    // Checked per route once the header is in (Beast checks Content-Length
    // against this limit while parsing the header).
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest(stream_).expires_after(server_.limits.header_timeout);
    http::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == ssl::error::stream_truncated || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset) {
      close();
      return;
    }
    if (ec == beast::error::timeout) {
      DIND_LOG(kDebug) << "closing " << peer_ << ": request header not received in time";
      close();
      return;
    }
    if (ec == http::error::header_limit) {
      fail(431, "request header too large");
      return;
    }
    if (ec) {
      fail(400, "malformed HTTP request: " + ec.message());
      return;
    }
    auto& h = header_parser_->get();
    if (h.version() != 11 && h.version() != 10) {
      fail(505, "unsupported HTTP version");
      return;
    }
    req_ = Request{};
    req_.method = std::string(h.method_string());
    req_.target = std::string(h.target());
    for (const auto& field : h) {
      req_.headers[std::string(field.name_string())] = std::string(field.value());
    }
    keep_alive_ = h.keep_alive();
    head_only_ = req_.method == "HEAD";
    auto upgrade = req_.headers.find("Upgrade");
    req_.wants_upgrade = h[http::field::connection].find("pgrade") != beast::string_view::npos &&
                         upgrade != req_.headers.end() && beast::iequals(upgrade->second, "tcp");
    if (req_.method.empty() || req_.target.empty()) {
      fail(400, "malformed HTTP request");
      return;
    }
    match_ = server_.router.match(req_);
    const uint64_t declared = header_parser_->content_length().value_or(0);
    const bool has_body = declared > 0 || header_parser_->chunked();
    if (match_.handler == nullptr) {
      if (has_body) {
        keep_alive_ = false;  // the unread body would be taken for the next request
      }
      send(std::move(match_.error));
      return;
    }
    if (declared > match_.options.max_body) {
      fail(413, "request body larger than " + std::to_string(match_.options.max_body) + " bytes");
      return;
    }
    if (auto expect = req_.headers.find("Expect"); expect != req_.headers.end()) {
      if (!beast::iequals(expect->second, "100-continue")) {
        keep_alive_ = false;
        send(error_response(417, "unsupported Expect header"));
        return;
      }
      if (has_body) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(stream_, asio::buffer(kContinue),
                          [self = this->shared_from_this()](boost::system::error_code e, size_t) {
                            if (e) {
                              self->close();
                            } else {
                              self->read_body();
                            }
                          });
        return;
      }
    }
    read_body();
  }

  void read_body() {
    if (header_parser_->is_done()) {
      dispatch();
      return;
    }
    if (match_.options.spool_body) {
      start_spool();
      return;
    }
    parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    parser_->body_limit(match_.options.max_body);
    lowest(stream_).expires_after(server_.limits.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec == http::error::body_limit) {
                         self->fail(413, "request body larger than " +
                                             std::to_string(self->match_.options.max_body) +
                                             " bytes");
                       } else if (ec == beast::error::timeout) {
                         self->close();
                       } else if (ec) {
                         self->fail(400, "malformed HTTP request body: " + ec.message());
                       } else {
                         self->dispatch();
                       }
                     });
  }

  // Streams the body into an unlinked file in the spool directory, a buffer
  // at a time, so an upload of any size costs constant memory.
  void start_spool() {
    spool_fd_ = std::make_shared<base::UniqueFd>(
        ::open(server_.limits.spool_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!spool_fd_->valid()) {
      DIND_LOG(kError) << "cannot spool an upload in " << server_.limits.spool_dir << ": "
                       << std::strerror(errno);
      keep_alive_ = false;
      send(error_response(500, "cannot store the upload: " + std::string(std::strerror(errno))));
      return;
    }
    spool_started_ = std::chrono::steady_clock::now();
    spool_buf_.resize(1024 * 1024);
    spool_target_ = req_.target;
    if (match_.options.stream_body) {
      // The handler starts now, reading behind the writes.
      progress_ = std::make_shared<BodyProgress>();
      req_.body_file =
          std::make_shared<base::UniqueFd>(::fcntl(spool_fd_->get(), F_DUPFD_CLOEXEC, 0));
      req_.body_progress = progress_;
      early_ = true;
      body_done_ = false;
      dispatch();
    }
    if (!header_parser_->chunked()) {
      // Content-Length: copy the raw bytes with large reads; Beast's parser
      // would read 64 KiB at a time with a completion hop for each.
      spool_remaining_ = *header_parser_->content_length();
      header_parser_.reset();
      const size_t have = std::min<uint64_t>(buffer_.size(), spool_remaining_);
      if (!spool_write(static_cast<const char*>(buffer_.data().data()), have)) {
        return;
      }
      buffer_.consume(have);
      spool_remaining_ -= have;
      spool_raw_next();
      return;
    }
    // Chunked: our own decoder over raw reads, for the same reason.
    header_parser_.reset();
    chunks_ = ChunkedDecoder{};
    chunks_.set_limit(match_.options.max_body);
    if (!spool_chunks(static_cast<const char*>(buffer_.data().data()), buffer_.size())) {
      return;
    }
    spool_chunked_next();
  }

  // Writes to the spool file; on failure refuses the request.
  bool spool_write(const char* p, size_t left) {
    if (!spool_write_quiet(p, left)) {
      fail(500, "cannot store the upload: " + std::string(std::strerror(errno)));
      return false;
    }
    return true;
  }

  void spool_done() {
    ::lseek(spool_fd_->get(), 0, SEEK_SET);
    DIND_LOG(kDebug) << "spooled the upload of " << spool_target_ << " in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - spool_started_)
                            .count()
                     << " ms";
    if (early_) {
      early_ = false;
      body_done_ = true;
      spool_fd_.reset();
      progress_->finish(true);
      progress_.reset();
      if (early_reply_) {
        auto res = std::move(*early_reply_);
        early_reply_.reset();
        send(std::move(res));
      }
      return;
    }
    req_.body_file = std::move(spool_fd_);
    dispatch();
  }

  // One raw read of the upload; then `on_bytes(session, n)` takes over.
  template <class OnBytes>
  void spool_read(size_t want, OnBytes on_bytes) {
    lowest(stream_).expires_after(server_.limits.body_timeout);
    stream_.async_read_some(
        asio::buffer(spool_buf_.data(), want),
        [self = this->shared_from_this(), on_bytes](boost::system::error_code ec, size_t n) {
          if (ec == beast::error::timeout) {
            self->close();
          } else if (ec) {
            self->fail(400, "malformed HTTP request body: " + ec.message());
          } else {
            on_bytes(self.get(), n);
          }
        });
  }

  void spool_raw_next() {
    if (spool_remaining_ == 0) {
      spool_done();
      return;
    }
    spool_read(static_cast<size_t>(std::min<uint64_t>(spool_buf_.size(), spool_remaining_)),
               [](Session* s, size_t n) {
                 if (s->spool_write(s->spool_buf_.data(), n)) {
                   s->spool_remaining_ -= n;
                   s->spool_raw_next();
                 }
               });
  }

  // Feeds raw bytes to the chunk decoder; leftover bytes after the body stay
  // in buffer_ for the next request. False when the request was refused.
  bool spool_chunks(const char* data, size_t size) {
    const size_t used = chunks_.feed(
        data, size, [this](const char* p, size_t n) { return spool_write_quiet(p, n); });
    if (chunks_.state() == ChunkedDecoder::State::kError) {
      if (chunks_.over_limit()) {
        fail(413, "request body larger than " + std::to_string(match_.options.max_body) + " bytes");
      } else {
        fail(400, "malformed HTTP request body: " + chunks_.error());
      }
      return false;
    }
    if (data == static_cast<const char*>(buffer_.data().data())) {
      buffer_.consume(used);
    } else if (used < size) {
      // Bytes of a pipelined next request: keep them.
      auto dst = buffer_.prepare(size - used);
      std::memcpy(dst.data(), data + used, size - used);
      buffer_.commit(size - used);
    }
    return true;
  }

  bool spool_write_quiet(const char* p, size_t left) {
    while (left > 0) {
      ssize_t n = ::write(spool_fd_->get(), p, left);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      p += n;
      left -= static_cast<size_t>(n);
      if (progress_) {
        progress_->advance(static_cast<uint64_t>(n));
      }
    }
    return true;
  }

  void spool_chunked_next() {
    if (chunks_.done()) {
      spool_done();
      return;
    }
    spool_read(spool_buf_.size(), [](Session* s, size_t n) {
      if (s->spool_chunks(s->spool_buf_.data(), n)) {
        s->spool_chunked_next();
      }
    });
  }

  void dispatch() {
    state_ = State::kHandling;
    if (parser_) {
      req_.body = std::move(parser_->get().body());
    }
    ++server_.handled;
    DIND_LOG(kDebug) << "handler " << req_.method << " " << req_.target << " from " << peer_;
    lowest(stream_).expires_never();
    auto reply = [self = this->shared_from_this()](Response res) {
      asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        if (!self->body_done_) {
          self->early_reply_ = std::move(res);  // sent once the upload is in
          return;
        }
        self->send(std::move(res));
      });
    };
    try {
      (*match_.handler)(std::move(req_), std::move(reply));
    } catch (const std::exception& e) {
      // Handlers report expected failures as values; this is a bug.
      DIND_LOG(kError) << "handler threw: " << e.what();
      send(error_response(500, std::string("internal error: ") + e.what()));
    }
  }

  // Refuses a request that never reaches a handler; the connection closes.
  void fail(int status, std::string message) {
    DIND_LOG(kDebug) << "refusing request from " << peer_ << ": " << status << " " << message;
    abandon_upload();
    keep_alive_ = false;
    head_only_ = false;
    send(error_response(status, message));
  }

  void send(Response res) {
    if (closed_) {
      return;
    }
    Headers headers = server_.common_headers;
    for (auto& [k, v] : res.headers) {
      headers[k] = v;
    }
    if (closing_) {
      keep_alive_ = false;
    }
    if (res.hijack) {
      if (req_.wants_upgrade) {
        res.status = 101;
        headers["Connection"] = "Upgrade";
        headers["Upgrade"] = "tcp";
      } else {
        headers.erase("Content-Length");
      }
      state_ = State::kHijacked;
      auto raw = make_raw_stream();
      auto hijack = std::move(res.hijack);
      enqueue(format_head(res.status, headers) + "\r\n", {});
      hijack(std::move(raw));
      return;
    }
    if (res.stream) {
      headers["Transfer-Encoding"] = "chunked";
      if (!keep_alive_) {
        headers["Connection"] = "close";
      }
      state_ = State::kStreaming;
      auto writer = make_body_writer();
      auto producer = std::move(res.stream);
      enqueue(format_head(res.status, headers) + "\r\n", {});
      watch_for_disconnect();
      producer(std::move(writer));
      return;
    }
    const bool bodyless = res.status == 204 || res.status == 304 || res.status < 200;
    if (!bodyless && !headers.count("Content-Length")) {
      headers["Content-Length"] = std::to_string(res.body.size());
    }
    if (!keep_alive_) {
      headers["Connection"] = "close";
    }
    std::string out = format_head(res.status, headers) + "\r\n";
    if (!head_only_ && !bodyless) {
      out += res.body;
    }
    state_ = State::kWriting;
    write_buf_ = std::move(out);
    lowest(stream_).expires_after(server_.limits.write_timeout);
    asio::async_write(stream_, asio::buffer(write_buf_),
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) {
                          self->close();
                        } else {
                          self->read_header();
                        }
                      });
  }

  // While a body streams, a read tells us when the client goes away.
  void watch_for_disconnect() {
    stream_.async_read_some(asio::buffer(probe_), [self = this->shared_from_this()](
                                                      boost::system::error_code ec, size_t) {
      if (ec && self->state_ == State::kStreaming) {
        self->close();
      }
      // Bytes from the client during a stream are ignored.
      if (!ec && self->state_ == State::kStreaming) {
        self->watch_for_disconnect();
      }
    });
  }

  void write_next() {
    if (queue_.empty() || closed_) {
      writing_ = false;
      if (closed_) {
        std::deque<Pending> failed = std::move(queue_);
        queue_.clear();
        for (auto& p : failed) {
          if (p.done) {
            p.done(false);
          }
        }
      }
      return;
    }
    writing_ = true;
    lowest(stream_).expires_after(server_.limits.write_timeout);
    asio::async_write(stream_, asio::buffer(queue_.front().data),
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                        lowest(self->stream_).expires_never();
                        Pending p = std::move(self->queue_.front());
                        self->queue_.pop_front();
                        if (p.done) {
                          p.done(!ec);
                        }
                        if (ec) {
                          self->close();
                          return;
                        }
                        if (p.then_shutdown) {
                          self->shutdown_send();
                        }
                        if (p.then_end) {
                          // A streamed body ends its connection: the
                          // disconnect probe still owns the read side.
                          self->close();
                          return;
                        }
                        self->write_next();
                      });
  }

  void shutdown_send() {
    if constexpr (kIsTls<Stream>) {
      close();  // TLS has no half-close a client would understand
    } else {
      boost::system::error_code ec;
      lowest(stream_).socket().shutdown(asio::socket_base::shutdown_send, ec);
    }
  }

  // A streaming handler still reading an upload that will not complete: let
  // its reader fail, and let its reply be dropped.
  void abandon_upload() {
    if (progress_) {
      progress_->finish(false);
      progress_.reset();
    }
    early_ = false;
    body_done_ = true;
    early_reply_.reset();
  }

  void close() {
    if (closed_) {
      return;
    }
    abandon_upload();
    closed_ = true;
    state_ = State::kClosed;
    close_stream(stream_);
    if (on_close_) {
      auto cb = std::move(on_close_);
      cb();
    }
    // The front element may be in an async_write right now: its completion
    // handler owns it (and its buffer). Fail the others.
    auto first = queue_.begin();
    if (writing_ && first != queue_.end()) {
      ++first;
    }
    std::deque<Pending> failed(std::make_move_iterator(first),
                               std::make_move_iterator(queue_.end()));
    queue_.erase(first, queue_.end());
    for (auto& p : failed) {
      if (p.done) {
        p.done(false);
      }
    }
  }

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
  bool closed_ = false;
  bool writing_ = false;
};

template <class Stream>
class RawStreamImpl : public RawStream {
 public:
  explicit RawStreamImpl(std::shared_ptr<Session<Stream>> s) : s_(std::move(s)) {}
  void read(std::function<void(std::string_view, bool)> cb) override {
    s_->raw_read(std::move(cb));
  }
  void write(std::string data, std::function<void(bool)> done) override {
    s_->enqueue(std::move(data), std::move(done));
  }
  void shutdown_write() override { s_->enqueue({}, {}, /*then_shutdown=*/true); }
  void close() override { s_->raw_close(); }

 private:
  std::shared_ptr<Session<Stream>> s_;
};

template <class Stream>
class BodyWriterImpl : public BodyWriter {
 public:
  explicit BodyWriterImpl(std::shared_ptr<Session<Stream>> s) : s_(std::move(s)) {}
  void write(std::string chunk, std::function<void(bool)> done) override {
    if (chunk.empty()) {  // an empty chunk would end the body
      if (done) {
        done(true);
      }
      return;
    }
    char size[20];
    int n = std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    std::string framed(size, static_cast<size_t>(n));
    framed += chunk;
    framed += "\r\n";
    s_->enqueue(std::move(framed), std::move(done));
  }
  void finish() override { s_->enqueue("0\r\n\r\n", {}, false, /*then_end=*/true); }
  void on_close(std::function<void()> cb) override { s_->set_close_callback(std::move(cb)); }

 private:
  std::shared_ptr<Session<Stream>> s_;
};

template <class Stream>
std::shared_ptr<RawStream> Session<Stream>::make_raw_stream() {
  return std::make_shared<RawStreamImpl<Stream>>(this->shared_from_this());
}
template <class Stream>
std::shared_ptr<BodyWriter> Session<Stream>::make_body_writer() {
  return std::make_shared<BodyWriterImpl<Stream>>(this->shared_from_this());
}

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
        auto s = std::make_shared<Session<UnixStream>>(impl, UnixStream(std::move(socket)), "unix");
        impl.track(s);
        s->start();
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
        auto s = std::make_shared<Session<TlsStream>>(
            impl, TlsStream(TcpStream(std::move(socket)), *tls), peer);
        impl.track(s);
        s->start();
      } else {
        auto s = std::make_shared<Session<TcpStream>>(impl, TcpStream(std::move(socket)), peer);
        impl.track(s);
        s->start();
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

namespace {

// A file descriptor of our own (a shim's attach socket) as a RawStream: one
// read outstanding at a time, writes queued in order on a strand.
class FdStream : public RawStream, public std::enable_shared_from_this<FdStream> {
 public:
  FdStream(asio::io_context& ioc, int fd) : strand_(asio::make_strand(ioc)), sd_(strand_, fd) {}

  void read(std::function<void(std::string_view, bool)> cb) override {
    asio::post(strand_, [self = shared_from_this(), cb = std::move(cb)]() mutable {
      if (!self->sd_.is_open()) {
        cb({}, false);
        return;
      }
      self->sd_.async_read_some(asio::buffer(self->buf_),
                                [self, cb = std::move(cb)](boost::system::error_code ec, size_t n) {
                                  if (ec == asio::error::eof) {
                                    cb({}, true);
                                  } else if (ec) {
                                    cb({}, false);
                                  } else {
                                    cb(std::string_view(self->buf_.data(), n), true);
                                  }
                                });
    });
  }
  void write(std::string data, std::function<void(bool)> done) override {
    asio::post(strand_, [self = shared_from_this(), data = std::move(data),
                         done = std::move(done)]() mutable {
      self->queue_.push_back({std::move(data), std::move(done), false});
      self->pump();
    });
  }
  void shutdown_write() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->queue_.push_back({{}, {}, true});
      self->pump();
    });
  }
  void close() override {
    asio::post(strand_, [self = shared_from_this()] {
      boost::system::error_code ec;
      self->sd_.close(ec);
    });
  }

 private:
  struct Item {
    std::string data;
    std::function<void(bool)> done;
    bool shutdown;
  };
  void pump() {
    if (writing_ || queue_.empty()) {
      return;
    }
    if (queue_.front().shutdown) {
      queue_.pop_front();
      ::shutdown(sd_.native_handle(), SHUT_WR);
      pump();
      return;
    }
    writing_ = true;
    asio::async_write(sd_, asio::buffer(queue_.front().data),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        self->writing_ = false;
                        auto item = std::move(self->queue_.front());
                        self->queue_.pop_front();
                        if (item.done) {
                          item.done(!ec);
                        }
                        if (ec) {
                          for (auto& rest : self->queue_) {
                            if (rest.done) {
                              rest.done(false);
                            }
                          }
                          self->queue_.clear();
                          return;
                        }
                        self->pump();
                      });
  }
  asio::strand<asio::io_context::executor_type> strand_;
  asio::posix::stream_descriptor sd_;
  std::array<char, 64 * 1024> buf_{};
  std::deque<Item> queue_;
  bool writing_ = false;
};

}  // namespace

std::shared_ptr<RawStream> Server::adopt(base::UniqueFd fd) {
  return std::make_shared<FdStream>(impl_->ioc, fd.release());
}

void Server::when_readable(std::shared_ptr<base::UniqueFd> fd, std::function<void()> fn) {
  // A dup, so that the descriptor Asio registers (and closes) is its own.
  auto sd = std::make_shared<asio::posix::stream_descriptor>(impl_->ioc, ::dup(fd->get()));
  sd->async_wait(asio::posix::stream_descriptor::wait_read,
                 [sd, fd, fn = std::move(fn)](boost::system::error_code) { fn(); });
}

void Server::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->ioc, delay);
  timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
    if (!ec) {
      fn();
    }
  });
}

}  // namespace dind::api
