// The registry's HTTP client: Beast over plain TCP or OpenSSL, one connection
// per request, each asynchronous step run to completion on the calling
// thread's own io_context under a beast::tcp_stream deadline (the blocking
// calls of Asio cannot time out).

#include "dind/registry/http_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

#include "dind/base/text.hpp"

namespace dind::registry {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using base::ErrorKind;
using base::make_error;
using base::Result;

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = (tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host);
  if (port != (tls ? "443" : "80")) {
    out += ":" + port;
  }
  return out;
}

std::string Url::host_port() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = v6 ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) {
    out += ":" + port;
  }
  return out;
}

Result<Url> parse_url(std::string_view text) {
  Url u;
  std::string_view rest;
  if (text.substr(0, 8) == "https://") {
    rest = text.substr(8);
  } else if (text.substr(0, 7) == "http://") {
    u.tls = false;
    rest = text.substr(7);
  } else {
    return make_error(ErrorKind::kInvalidArgument, "not an http(s) URL: " + std::string(text));
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.target = std::string(rest.substr(slash));
    if (u.target[0] == '?') {
      u.target = "/" + u.target;
    }
  }
  if (authority.find('@') != std::string_view::npos || authority.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid host in URL: " + std::string(text));
  }
  std::string_view port;
  if (authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return make_error(ErrorKind::kInvalidArgument, "invalid host in URL: " + std::string(text));
    }
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return make_error(ErrorKind::kInvalidArgument, "invalid host in URL: " + std::string(text));
      }
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (!port.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
      return make_error(ErrorKind::kInvalidArgument, "invalid port in URL: " + std::string(text));
    }
    u.port = std::string(port);
  } else {
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid host in URL: " + std::string(text));
  }
  return u;
}

std::string url_escape(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<Url> resolve_url(const Url& base, std::string_view location) {
  if (location.substr(0, 7) == "http://" || location.substr(0, 8) == "https://") {
    return parse_url(location);
  }
  Url u = base;
  if (location.substr(0, 2) == "//") {
    return parse_url(std::string(base.tls ? "https:" : "http:") + std::string(location));
  }
  if (!location.empty() && location[0] == '/') {
    u.target = std::string(location);
    return u;
  }
  if (!location.empty() && location[0] == '?') {
    u.target = base.target.substr(0, base.target.find('?')) + std::string(location);
    return u;
  }
  return make_error(ErrorKind::kInvalidArgument,
                    "unsupported relative redirect: " + std::string(location));
}

std::string TlsTrust::cache_key() const {
  std::string key = verify ? "v" : "n";
  key += system_roots ? "s" : "-";
  for (const auto& f : ca_files) {
    key += "|" + f.string();
  }
  key += "|" + (client_cert ? client_cert->string() : "") + "|" +
         (client_key ? client_key->string() : "");
  return key;
}

Result<std::string> HttpResponse::read_all(size_t max_bytes) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = read(buf, sizeof buf);
    if (!n) {
      return std::move(n).error();
    }
    if (*n == 0) {
      return out;
    }
    if (out.size() + *n > max_bytes) {
      return make_error(ErrorKind::kInvalidArgument,
                        "the response is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, *n);
  }
}

namespace {

std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown TLS error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<std::shared_ptr<ssl::context>> make_context(const TlsTrust& trust) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  if (trust.system_roots) {
    SSL_CTX_set_default_verify_paths(raw);
  }
  for (const auto& f : trust.ca_files) {
    if (SSL_CTX_load_verify_locations(raw, f.c_str(), nullptr) != 1) {
      return make_error(ErrorKind::kInvalidArgument,
                        "cannot load the CA certificate " + f.string() + ": " + ssl_error_text());
    }
  }
  if (trust.client_cert && trust.client_key) {
    if (SSL_CTX_use_certificate_chain_file(raw, trust.client_cert->c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(raw, trust.client_key->c_str(), SSL_FILETYPE_PEM) != 1) {
      return make_error(ErrorKind::kInvalidArgument, "cannot load the client certificate " +
                                                         trust.client_cert->string() + ": " +
                                                         ssl_error_text());
    }
  }
  SSL_CTX_set_verify(raw, trust.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return ctx;
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: its io_context, the stream (plain or TLS) and the parser
// of the response being read.
class Connection : public HttpResponse {
 public:
  Connection(const Timeouts& t) : timeouts_(t), tcp_(ioc_) {}

  Result<void> connect(const Url& url, const std::shared_ptr<ssl::context>& tls) {
    asio::ip::tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) {
      return make_error(ErrorKind::kUnavailable,
                        "cannot resolve " + url.host + ": " + ec.message());
    }
    url_ = url.to_string();
    tcp_.expires_after(timeouts_.connect);
    DIND_TRY(run("dial tcp " + url.host_port(), [&](auto&& done) {
      tcp_.async_connect(endpoints, [done](beast::error_code e, const auto&) { done(e, 0); });
    }));
    tcp_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if (tls) {
      tls_ctx_ = tls;
      tls_.emplace(std::move(tcp_), *tls);
      if (!SSL_set_tlsext_host_name(tls_->native_handle(), url.host.c_str())) {
        return make_error(ErrorKind::kInternal, "cannot set the TLS server name");
      }
      SSL_set1_host(tls_->native_handle(), url.host.c_str());
      lowest().expires_after(timeouts_.connect);
      DIND_TRY(run("TLS handshake with " + url.host_port(), [&](auto&& done) {
        tls_->async_handshake(ssl::stream_base::client,
                              [done](beast::error_code e) { done(e, 0); });
      }));
    }
    return {};
  }

  // A body of `bytes` may take longer than the idle timeout to send: allow
  // for 1 MiB/s on top of it.
  template <class Msg>
  Result<void> write(Msg& msg, uint64_t bytes = 0) {
    lowest().expires_after(timeouts_.idle + std::chrono::seconds(bytes >> 20));
    return run("send the request to " + url_, [&](auto&& done) {
      if (tls_) {
        http::async_write(*tls_, msg, done);
      } else {
        http::async_write(tcp_, msg, done);
      }
    });
  }

  Result<void> read_head(bool head_request) {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.skip(head_request);
    lowest().expires_after(timeouts_.idle);
    return run("read the response of " + url_, [&](auto&& done) {
      if (tls_) {
        http::async_read_header(*tls_, buffer_, parser_, done);
      } else {
        http::async_read_header(tcp_, buffer_, parser_, done);
      }
    });
  }

  int status() const override { return static_cast<int>(parser_.get().result_int()); }

  std::optional<std::string> header(std::string_view name) const override {
    auto it = parser_.get().find(beast::string_view(name.data(), name.size()));
    if (it == parser_.get().end()) {
      return std::nullopt;
    }
    return std::string(it->value());
  }

  std::vector<std::string> headers(std::string_view name) const override {
    std::vector<std::string> out;
    auto [lo, hi] = parser_.get().equal_range(beast::string_view(name.data(), name.size()));
    for (; lo != hi; ++lo) {
      out.emplace_back(lo->value());
    }
    return out;
  }

  std::optional<uint64_t> content_length() const override {
    auto n = parser_.content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }

  Result<size_t> read(char* buf, size_t len) override {
    if (len == 0) {
      return size_t{0};
    }
    if (!raw_remaining_ && !tls_ && !parser_.is_done() && !parser_.chunked() &&
        parser_.content_length()) {
      // A plain body of known length (a blob): read the socket directly,
      // one recv per call instead of an asynchronous operation and a timer.
      raw_remaining_ = *parser_.content_length();
    }
    if (raw_remaining_) {
      return read_raw(buf, len);
    }
    if (parser_.is_done()) {
      return size_t{0};
    }
    auto& body = parser_.get().body();
    body.data = buf;
    body.size = len;
    lowest().expires_after(timeouts_.idle);
    beast::error_code result;
    run_raw(result, [&](auto&& done) {
      if (tls_) {
        http::async_read_some(*tls_, buffer_, parser_, done);
      } else {
        http::async_read_some(tcp_, buffer_, parser_, done);
      }
    });
    const size_t got = len - body.size;
    if (result && result != http::error::need_buffer) {
      if (result == beast::error::timeout) {
        return make_error(ErrorKind::kUnavailable, stalled());
      }
      if (got > 0) {
        return got;  // hand over what arrived; the next read reports the error
      }
      return make_error(ErrorKind::kUnavailable, "reading " + url_ + ": " + result.message());
    }
    if (got == 0 && !parser_.is_done()) {
      return read(buf, len);  // chunk framing only: read on
    }
    return got;
  }

 private:
  std::string stalled() const {
    return "reading " + url_ + ": no data for " +
           std::to_string(timeouts_.idle.count() / 1000.0).substr(0, 4) +
           " s (the registry stalled)";
  }

  Result<size_t> read_raw(char* buf, size_t len) {
    uint64_t& left = *raw_remaining_;
    if (left == 0) {
      return size_t{0};
    }
    len = static_cast<size_t>(std::min<uint64_t>(len, left));
    // Body bytes that came with the head first.
    if (buffer_.size() > 0) {
      const size_t n = std::min(len, buffer_.size());
      std::memcpy(buf, buffer_.data().data(), n);
      buffer_.consume(n);
      left -= n;
      return n;
    }
    const int fd = tcp_.socket().native_handle();
    for (;;) {
      const ssize_t n = ::recv(fd, buf, len, MSG_DONTWAIT);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (n == 0) {
        return make_error(ErrorKind::kUnavailable, "reading " + url_ + ": the connection ended " +
                                                       std::to_string(left) + " bytes early");
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return make_error(ErrorKind::kUnavailable, "reading " + url_ + ": " + std::strerror(errno));
      }
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(timeouts_.idle.count()));
      if (r == 0) {
        return make_error(ErrorKind::kUnavailable, stalled());
      }
      if (r < 0 && errno != EINTR) {
        return make_error(ErrorKind::kUnavailable, "reading " + url_ + ": " + std::strerror(errno));
      }
    }
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : tcp_; }

  template <class Start>
  void run_raw(beast::error_code& result, Start&& start) {
    bool finished = false;
    start([&result, &finished](beast::error_code ec, std::size_t) {
      result = ec;
      finished = true;
    });
    ioc_.restart();
    ioc_.run();
    if (!finished) {
      result = asio::error::operation_aborted;
    }
  }

  template <class Start>
  Result<void> run(const std::string& what, Start&& start) {
    beast::error_code ec;
    run_raw(ec, std::forward<Start>(start));
    if (!ec) {
      return {};
    }
    if (ec == beast::error::timeout) {
      return make_error(ErrorKind::kUnavailable, what + ": timed out");
    }
    std::string msg = ec.message();
    if (ec.category() == asio::error::get_ssl_category()) {
      msg = ERR_reason_error_string(ec.value()) ? ERR_reason_error_string(ec.value()) : msg;
      if (tls_) {
        const long v = SSL_get_verify_result(tls_->native_handle());
        if (v != X509_V_OK) {
          msg = std::string("x509: ") + X509_verify_cert_error_string(v);
        }
      }
    }
    return make_error(ErrorKind::kUnavailable, what + ": " + msg);
  }

  Timeouts timeouts_;
  asio::io_context ioc_{1};
  beast::tcp_stream tcp_;
  std::shared_ptr<ssl::context> tls_ctx_;
  std::optional<TlsStream> tls_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::string url_;
  std::optional<uint64_t> raw_remaining_;
};

}  // namespace

struct HttpClient::Impl {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<ssl::context>> contexts;

  Result<std::shared_ptr<ssl::context>> context(const TlsTrust& trust) {
    std::lock_guard lock(mu);
    auto key = trust.cache_key();
    if (auto it = contexts.find(key); it != contexts.end()) {
      return it->second;
    }
    auto ctx = make_context(trust);
    if (ctx) {
      contexts[key] = *ctx;
    }
    return ctx;
  }
};

HttpClient::HttpClient(std::string user_agent, Timeouts timeouts)
    : impl_(std::make_unique<Impl>()), user_agent_(std::move(user_agent)), timeouts_(timeouts) {}

HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpResponse>> HttpClient::send(const HttpRequest& request,
                                                       const TlsTrust& trust) {
  std::shared_ptr<ssl::context> tls;
  if (request.url.tls) {
    auto ctx = impl_->context(trust);
    if (!ctx) {
      return std::move(ctx).error();
    }
    tls = *ctx;
  }
  auto conn = std::make_unique<Connection>(timeouts_);
  DIND_TRY(conn->connect(request.url, tls));
  const auto method = http::string_to_verb(request.method);
  auto fill = [&](auto& msg) {
    msg.method(method);
    msg.target(request.url.target);
    msg.version(11);
    msg.set(http::field::host, request.url.host_port());
    msg.set(http::field::user_agent, user_agent_);
    msg.set(http::field::connection, "close");
    for (const auto& [k, v] : request.headers) {
      msg.insert(k, v);
    }
  };
  if (request.body_file) {
    http::request<http::file_body> msg;
    fill(msg);
    beast::error_code ec;
    msg.body().open(request.body_file->c_str(), beast::file_mode::scan, ec);
    if (ec) {
      return make_error(ErrorKind::kInternal,
                        "cannot open " + request.body_file->string() + ": " + ec.message());
    }
    msg.prepare_payload();
    DIND_TRY(conn->write(msg, msg.body().size()));
  } else {
    http::request<http::string_body> msg;
    fill(msg);
    msg.body() = request.body;
    if (!request.body.empty() || method == http::verb::put || method == http::verb::post ||
        method == http::verb::patch) {
      msg.prepare_payload();
    }
    DIND_TRY(conn->write(msg));
  }
  DIND_TRY(conn->read_head(method == http::verb::head));
  return std::unique_ptr<HttpResponse>(std::move(conn));
}

}  // namespace dind::registry
