#include "dind/api/http.hpp"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

namespace dind::api {

std::string ApiVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::optional<ApiVersion> parse_api_version(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= text.size() || text.size() > 8) {
    return std::nullopt;
  }
  ApiVersion v;
  auto parse = [](std::string_view s, int& out) {
    if (s.empty() || (s.size() > 1 && s[0] == '0') || s[0] < '0' || s[0] > '9') {
      return false;
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (!parse(text.substr(0, dot), v.major) || !parse(text.substr(dot + 1), v.minor)) {
    return std::nullopt;
  }
  return v;
}

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const size_t n = std::min(a.size(), b.size());
  int c = ::strncasecmp(a.data(), b.data(), n);
  return c < 0 || (c == 0 && a.size() < b.size());
}

std::optional<std::string> Request::query_value(const std::string& key) const {
  auto [lo, hi] = query.equal_range(key);
  if (lo == hi) {
    return std::nullopt;
  }
  return std::prev(hi)->second;
}

std::optional<bool> Request::query_bool(const std::string& key) const {
  auto v = query_value(key);
  if (!v || v->empty() || *v == "0" || *v == "false" || *v == "False") {
    return false;
  }
  if (*v == "1" || *v == "true" || *v == "True") {
    return true;
  }
  return std::nullopt;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.body = std::move(body);
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return std::nullopt;
      }
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9')
          return h - '0';
        if (h >= 'a' && h <= 'f')
          return h - 'a' + 10;
        if (h >= 'A' && h <= 'F')
          return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(in[i + 1]);
      const int lo = hex(in[i + 2]);
      const int v = hi * 16 + lo;
      if (hi < 0 || lo < 0 || v == 0) {
        return std::nullopt;
      }
      out += static_cast<char>(v);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    auto eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value) {
      return std::nullopt;
    }
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

bool ChunkedDecoder::fail(std::string why) {
  state_ = State::kError;
  error_ = std::move(why);
  return false;
}

size_t ChunkedDecoder::feed(const char* data, size_t size,
                            const std::function<bool(const char*, size_t)>& out) {
  size_t i = 0;
  constexpr size_t kMaxLine = 4096;
  while (i < size && state_ != State::kDone && state_ != State::kError) {
    const char c = data[i];
    switch (state_) {
      case State::kSize: {
        int v = -1;
        if (c >= '0' && c <= '9')
          v = c - '0';
        else if (c >= 'a' && c <= 'f')
          v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
          v = c - 'A' + 10;
        if (v >= 0) {
          if (++digits_ > 15) {
            fail("chunk size too large");
            break;
          }
          chunk_left_ = chunk_left_ * 16 + static_cast<uint64_t>(v);
          ++i;
        } else if (digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
          state_ = State::kExtension;
          ++i;
        } else if (digits_ > 0 && c == '\r') {
          state_ = State::kSizeLf;
          ++i;
        } else {
          fail("bad chunk size");
        }
        break;
      }
      case State::kExtension:
        if (++line_ > kMaxLine) {
          fail("chunk extension too long");
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          fail("bare LF in a chunk header");
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') {
          fail("bad chunk header line ending");
          break;
        }
        ++i;
        line_ = 0;
        digits_ = 0;
        if (chunk_left_ == 0) {
          state_ = State::kTrailer;
        } else if (total_ + chunk_left_ > limit_) {
          over_limit_ = true;
          fail("body over the limit");
        } else {
          total_ += chunk_left_;
          state_ = State::kData;
        }
        break;
      case State::kData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, size - i));
        if (!out(data + i, n)) {
          fail("cannot store the body");
          break;
        }
        i += n;
        chunk_left_ -= n;
        if (chunk_left_ == 0) {
          state_ = State::kDataCr;
        }
        break;
      }
      case State::kDataCr:
        if (c != '\r') {
          fail("chunk data not followed by CRLF");
          break;
        }
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') {
          fail("chunk data not followed by CRLF");
          break;
        }
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailer:
        // Trailer lines end with an empty line; line_ counts the current one.
        if (c == '\n') {
          state_ = line_ <= 1 ? State::kDone : State::kTrailer;  // line_ == 1: just "\r"
          line_ = 0;
        } else if (++line_ > kMaxLine) {
          fail("trailer too long");
        }
        ++i;
        break;
      case State::kDone:
      case State::kError:
        break;
    }
  }
  return i;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101:
      return "UPGRADED";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void BodyProgress::advance(uint64_t n) {
  {
    std::lock_guard lock(mu_);
    written_ += n;
  }
  cv_.notify_all();
}

void BodyProgress::finish(bool ok) {
  {
    std::lock_guard lock(mu_);
    if (state_ == 0) {
      state_ = ok ? 1 : -1;
    }
  }
  cv_.notify_all();
}

uint64_t BodyProgress::wait_beyond(uint64_t offset, int& state) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return written_ > offset || state_ != 0; });
  state = state_;
  return written_;
}

std::function<ssize_t(void*, size_t)> progress_reader(std::shared_ptr<base::UniqueFd> fd,
                                                      std::shared_ptr<BodyProgress> progress) {
  auto offset = std::make_shared<uint64_t>(0);
  return [fd, progress, offset](void* buf, size_t len) -> ssize_t {
    int state = 0;
    const uint64_t available = progress->wait_beyond(*offset, state);
    if (state < 0) {
      return -1;
    }
    if (available <= *offset) {
      return 0;  // complete, and all read
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(len, available - *offset));
    const ssize_t n = ::pread(fd->get(), buf, want, static_cast<off_t>(*offset));
    if (n > 0) {
      *offset += static_cast<uint64_t>(n);
    }
    return n;
  };
}

}  // namespace dind::api
