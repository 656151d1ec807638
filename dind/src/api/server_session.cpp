// One connection (the Session class is in server_session.hpp): the request
// side (the TLS handshake, the header and body under their deadlines and
// limits, the hand-off to the route's handler), the request body spooled to
// a file (server_session_spool.ipp, included below), and the response side
// (whole responses, streamed bodies through a BodyWriter, hijacked
// connections as a RawStream, the write queue behind them, closing). One
// translation unit: Beast is compiled in as few as possible.

#include "server_session.hpp"
#include "reply_guard.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>

#include "dind/api/errors.hpp"
#include "dind/base/log.hpp"

namespace dind::api {

namespace {

bool is_plaintext_on_tls(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

}  // namespace

template <class Stream>
void Session<Stream>::start() {
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

template <class Stream>
void Session<Stream>::shutdown() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->closing_ = true;
    if ((self->state_ == State::kReading && self->buffer_.size() == 0) ||
        self->state_ == State::kStreaming || self->state_ == State::kHijacked) {
      self->close();
    }
  });
}

template <class Stream>
void Session<Stream>::on_handshake(boost::system::error_code ec) {
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

template <class Stream>
void Session<Stream>::read_header() {
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

template <class Stream>
void Session<Stream>::on_header(beast::error_code ec) {
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

template <class Stream>
void Session<Stream>::read_body() {
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
  http::async_read(
      stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (ec == http::error::body_limit) {
          self->fail(413, "request body larger than " +
                              std::to_string(self->match_.options.max_body) + " bytes");
        } else if (ec == beast::error::timeout) {
          self->close();
        } else if (ec) {
          self->fail(400, "malformed HTTP request body: " + ec.message());
        } else {
          self->dispatch();
        }
      });
}

template <class Stream>
void Session<Stream>::dispatch() {
  state_ = State::kHandling;
  if (parser_) {
    req_.body = std::move(parser_->get().body());
  }
  ++server_.handled;
  DIND_LOG(kDebug) << "handler " << req_.method << " " << req_.target << " from " << peer_;
  lowest(stream_).expires_never();
  auto send = [self = this->shared_from_this()](Response res) {
    asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
      if (!self->body_done_) {
        self->early_reply_ = std::move(res);  // sent once the upload is in
        return;
      }
      self->send(std::move(res));
    });
  };
  auto guard = std::make_shared<ReplyGuard>(std::move(send));
  auto reply = [guard](Response res) { guard->answer(std::move(res)); };
  const std::string what = req_.method + " " + req_.path;
  try {
    (*match_.handler)(std::move(req_), std::move(reply));
  } catch (const std::exception& e) {
    // Handlers report expected failures as values; this is a bug.
    DIND_LOG(kError) << "handler for " << what << " threw: " << e.what();
    guard->answer(failure_response(e.what()));
  }
}

template <class Stream>
void Session<Stream>::fail(int status, std::string message) {
  DIND_LOG(kDebug) << "refusing request from " << peer_ << ": " << status << " " << message;
  lingering_ = spool_fd_ != nullptr;  // refused in the middle of its body
  abandon_upload();
  keep_alive_ = false;
  head_only_ = false;
  send(error_response(status, message));
  refused_ = true;  // the connection's last answer: a handler's late reply is dropped
}

void start_unix_session(Server::Impl& impl, unix_proto::socket socket) {
  auto s = std::make_shared<Session<UnixStream>>(impl, UnixStream(std::move(socket)), "unix");
  impl.track(s);
  s->start();
}

void start_tcp_session(Server::Impl& impl, tcp::socket socket, std::string peer) {
  auto s = std::make_shared<Session<TcpStream>>(impl, TcpStream(std::move(socket)), peer);
  impl.track(s);
  s->start();
}

void start_tls_session(Server::Impl& impl, tcp::socket socket, ssl::context& tls,
                       std::string peer) {
  auto s = std::make_shared<Session<TlsStream>>(impl, TlsStream(TcpStream(std::move(socket)), tls),
                                                peer);
  impl.track(s);
  s->start();
}

}  // namespace dind::api

// The request body spooled to a file: server_session_spool.ipp.
#include "server_session_spool.ipp"

// ---------------------------------------------------------------------------
// The response side.

namespace dind::api {

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

}  // namespace

template <class Stream>
void Session<Stream>::enqueue(std::string data, std::function<void(bool)> done, bool then_shutdown,
                              bool then_end) {
  asio::post(stream_.get_executor(), [self = this->shared_from_this(), data = std::move(data),
                                      done = std::move(done), then_shutdown, then_end]() mutable {
    self->queue_.push_back(Pending{std::move(data), std::move(done), then_shutdown, then_end});
    if (!self->writing_) {
      self->write_next();
    }
  });
}

template <class Stream>
void Session<Stream>::raw_read(std::function<void(std::string_view, bool)> cb) {
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

template <class Stream>
void Session<Stream>::raw_close() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
}

template <class Stream>
void Session<Stream>::set_close_callback(std::function<void()> cb) {
  asio::post(stream_.get_executor(),
             [self = this->shared_from_this(), cb = std::move(cb)]() mutable {
               if (self->closed_) {
                 cb();
               } else {
                 self->on_close_ = std::move(cb);
               }
             });
}

template <class Stream>
void Session<Stream>::send(Response res) {
  if (closed_ || refused_) {
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
    // A streamed body ends its connection (the disconnect probe owns the
    // read side meanwhile): say so, or a client would send its next request
    // on it (docker run's create after its pull) and meet a reset.
    headers["Connection"] = "close";
    keep_alive_ = false;
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
                      if (!ec && self->lingering_) {
                        self->linger();
                      } else if (ec || !self->keep_alive_) {
                        self->close();
                      } else {
                        self->read_header();
                      }
                    });
}

template <class Stream>
void Session<Stream>::watch_for_disconnect() {
  // A Beast deadline binds the operations started after it is set: this read
  // lasts as long as the stream (builds, pulls, followed logs), so it starts
  // with none. Each write sets its own again (write_next).
  lowest(stream_).expires_never();
  stream_.async_read_some(asio::buffer(probe_),
                          [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                            if (ec && self->state_ == State::kStreaming) {
                              self->close();
                            }
                            // Bytes from the client during a stream are ignored.
                            if (!ec && self->state_ == State::kStreaming) {
                              self->watch_for_disconnect();
                            }
                          });
}

template <class Stream>
void Session<Stream>::write_next() {
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
                      if (ec || p.then_end) {
                        // Nothing is in flight now: what is queued fails
                        // (write_next() after a close, which may have come
                        // first). A streamed body ends its connection: the
                        // disconnect probe still owns the read side.
                        self->close();
                        self->write_next();
                        return;
                      }
                      if (p.then_shutdown) {
                        self->shutdown_send();
                      }
                      self->write_next();
                    });
}

template <class Stream>
void Session<Stream>::linger() {
  if (lingering_) {  // the first call: one deadline for the whole drain
    lingering_ = false;
    lowest(stream_).expires_after(std::chrono::seconds(5));
    if (spool_buf_.empty()) {
      spool_buf_.resize(64 * 1024);
    }
  }
  stream_.async_read_some(asio::buffer(spool_buf_.data(), spool_buf_.size()),
                          [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                            if (ec) {
                              self->close();  // the client's end, or the deadline
                            } else {
                              self->linger();
                            }
                          });
}

template <class Stream>
void Session<Stream>::shutdown_send() {
  if constexpr (kIsTls<Stream>) {
    close();  // TLS has no half-close a client would understand
  } else {
    boost::system::error_code ec;
    lowest(stream_).socket().shutdown(asio::socket_base::shutdown_send, ec);
  }
}

template <class Stream>
void Session<Stream>::close() {
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
  std::deque<Pending> failed(std::make_move_iterator(first), std::make_move_iterator(queue_.end()));
  queue_.erase(first, queue_.end());
  for (auto& p : failed) {
    if (p.done) {
      p.done(false);
    }
  }
}

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
  void abort() override { s_->raw_close(); }
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

}  // namespace dind::api

namespace dind::api {

// Every member defined above and in the class, for the three stream kinds
// (after the last definition: an explicit instantiation covers only the
// members defined before it).
template class Session<UnixStream>;
template class Session<TcpStream>;
template class Session<TlsStream>;

}  // namespace dind::api
