// A connection, the response side: a whole response, a streamed body
// (chunked, through a BodyWriter) or a hijacked connection (a RawStream),
// the write queue behind the last two, and closing the connection.

#include <cstdio>
#include <iterator>

#include "dind/api/errors.hpp"
#include "server_session.hpp"

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

template <class Stream>
void Session<Stream>::watch_for_disconnect() {
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

// What the other Session files call, for the three stream kinds.
template void Session<UnixStream>::send(Response);
template void Session<UnixStream>::close();
template void Session<TcpStream>::send(Response);
template void Session<TcpStream>::close();
template void Session<TlsStream>::send(Response);
template void Session<TlsStream>::close();

}  // namespace dind::api
