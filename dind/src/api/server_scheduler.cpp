// The base::Scheduler side of Server, for the engine: timers, waits for a
// descriptor to become readable, and a descriptor of our own (a shim's
// attach socket) adopted as a RawStream, all on the server's io_context.

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "server_internal.hpp"

namespace dind::api {

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
