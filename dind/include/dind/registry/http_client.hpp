#pragma once
// A blocking HTTP/1.1 client for registry traffic (the only file of
// registry/ that includes Boost.Beast): one connection per request, as
// dockerd's registry client behaves ("Connection: close"), plain TCP or TLS
// with per-host trust, every step under a deadline so that a stalled
// registry becomes an error instead of a hung pull. Response bodies are read
// in pieces by the caller, so a blob streams into the unpacker instead of
// being held in memory. Runs on worker threads; each call drives its own
// io_context.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::registry {

struct Url {
  bool tls = true;
  std::string host;          // without brackets
  std::string port;          // "443" / "80" when the URL names none
  std::string target = "/";  // path and query
  // "https://host:port" (the port only when not the scheme's default).
  std::string origin() const;
  std::string host_port() const;  // "host:port" as certs.d names it
  std::string to_string() const { return origin() + target; }
};
// http(s)://host[:port][/target]; kInvalidArgument otherwise.
base::Result<Url> parse_url(std::string_view text);
// Percent-encoding for query values: RFC 3986 unreserved characters (and
// '/' with keep_slash) pass, everything else is %XX.
std::string url_escape(std::string_view s, bool keep_slash = false);

// A Location header resolved against the URL it came from (absolute URLs,
// absolute paths, "?query" only).
base::Result<Url> resolve_url(const Url& base, std::string_view location);

// Trust for one registry host: extra roots (certs.d's *.crt), an optional
// client certificate (certs.d's *.cert/*.key), and whether to verify at all.
struct TlsTrust {
  std::vector<std::filesystem::path> ca_files;
  std::optional<std::filesystem::path> client_cert;
  std::optional<std::filesystem::path> client_key;
  bool verify = true;
  bool system_roots = true;
  std::string cache_key() const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  Url url;
  Headers headers;
  std::string body;
  // A file sent as the body instead (blob uploads), with Content-Length.
  std::optional<std::filesystem::path> body_file;
};

struct Timeouts {
  std::chrono::milliseconds connect{30000};
  // A response head, or the next bytes of a body, must come within this.
  std::chrono::milliseconds idle{60000};
};

class HttpResponse {
 public:
  virtual ~HttpResponse() = default;
  virtual int status() const = 0;
  // Case-insensitive; the first value, or every value.
  virtual std::optional<std::string> header(std::string_view name) const = 0;
  virtual std::vector<std::string> headers(std::string_view name) const = 0;
  virtual std::optional<uint64_t> content_length() const = 0;
  // Up to len body bytes; 0 at the end of the body.
  virtual base::Result<size_t> read(char* buf, size_t len) = 0;
  // The rest of the body; kInvalidArgument past max_bytes.
  base::Result<std::string> read_all(size_t max_bytes);
};

class HttpClient {
 public:
  HttpClient(std::string user_agent, Timeouts timeouts);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the response head. Thread-safe. kUnavailable
  // for a connection or TLS failure (the message says which), kTimeout-ish
  // kUnavailable when a deadline passes.
  base::Result<std::unique_ptr<HttpResponse>> send(const HttpRequest& request,
                                                   const TlsTrust& trust);
  const Timeouts& timeouts() const { return timeouts_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string user_agent_;
  Timeouts timeouts_;
};

}  // namespace dind::registry
