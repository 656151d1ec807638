// A connection, the request side: the TLS handshake, reading the request
// header and body under their deadlines and limits, and handing the request
// to its route's handler. The Session class is in server_session.hpp.

#include "server_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <exception>
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

template <class Stream>
void Session<Stream>::fail(int status, std::string message) {
  DIND_LOG(kDebug) << "refusing request from " << peer_ << ": " << status << " " << message;
  abandon_upload();
  keep_alive_ = false;
  head_only_ = false;
  send(error_response(status, message));
}

// Every member defined above and in the class, for the three stream kinds.
template class Session<UnixStream>;
template class Session<TcpStream>;
template class Session<TlsStream>;

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
