#include "dind/engine/shim_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_protocol.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;

base::Result<base::UniqueFd> connect_shim(const std::filesystem::path& socket) {
  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorKind::kInternal, "the shim's socket path is too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return base::sys_error(errno, "connect to the shim at " + path);
  }
  return fd;
}

base::Status shim_resize(const std::filesystem::path& socket, int rows, int cols,
                         const std::string& exec_id) {
  auto fd = connect_shim(socket);
  if (!fd) {
    return std::move(fd).error();
  }
  const std::string msg = runtime::shim_protocol::encode(runtime::shim_protocol::Resize{rows, cols, exec_id});
  char answer = 0;
  pollfd p{fd->get(), POLLIN, 0};
  if (::send(fd->get(), msg.data(), msg.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(msg.size()) ||
      ::poll(&p, 1, 5000) != 1 || ::recv(fd->get(), &answer, 1, 0) != 1 || answer != 'K') {
    return make_error(ErrorKind::kInternal, "resizing the terminal failed");
  }
  return {};
}

base::Result<std::string> read_line(int fd, int timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string line;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
      return make_error(ErrorKind::kUnavailable, "the shim did not answer in time");
    }
    char ch = 0;
    const ssize_t n = ::recv(fd, &ch, 1, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n != 1) {
      return make_error(ErrorKind::kUnavailable, "the shim closed the connection");
    }
    if (ch == '\n') {
      return line;
    }
    if (line.size() > 64 * 1024) {
      return make_error(ErrorKind::kInternal, "the shim's answer is too long");
    }
    line += ch;
  }
}

void pump(std::shared_ptr<base::RawStream> from, std::shared_ptr<base::RawStream> to,
          std::function<void(bool eof)> end) {
  from->read([from, to, end](std::string_view data, bool ok) {
    if (!ok || data.empty()) {
      end(ok);
      return;
    }
    to->write(std::string(data), [from, to, end](bool wok) {
      if (!wok) {
        end(false);
        return;
      }
      pump(from, to, end);
    });
  });
}

namespace {

// pump() with the client's bytes through a detach scanner: at the sequence,
// end(false) as if the client left (the process keeps running).
void pump_detachable(std::shared_ptr<base::RawStream> from, std::shared_ptr<base::RawStream> to,
                     std::shared_ptr<DetachScanner> scanner, std::function<void(bool eof)> end) {
  from->read([from, to, scanner, end](std::string_view data, bool ok) {
    if (!ok || data.empty()) {
      end(ok);
      return;
    }
    bool detached = false;
    std::string out = scanner->feed(data, detached);
    auto next = [from, to, scanner, end, detached](bool wok) {
      if (!wok || detached) {
        end(false);
        return;
      }
      pump_detachable(from, to, scanner, end);
    };
    if (out.empty()) {
      next(true);
      return;
    }
    to->write(std::move(out), next);
  });
}

}  // namespace

void splice(std::shared_ptr<base::RawStream> shim, std::shared_ptr<base::RawStream> client,
            bool stdin, std::function<void()> output_ended, std::optional<std::string> detach_keys) {
  auto ended = std::make_shared<std::atomic<int>>(0);
  auto one_done = [client, shim, ended] {
    if (ended->fetch_add(1) == 1) {
      client->close();
      shim->close();
    }
  };
  pump(shim, client, [client, one_done, output_ended](bool) {
    if (output_ended) {
      output_ended();
    }
    client->shutdown_write();
    one_done();
  });
  auto input_end = [shim, client, one_done, stdin](bool eof) {
    if (eof && stdin) {
      shim->shutdown_write();
    } else if (!eof) {
      shim->close();  // the client is gone (or detached): nothing more to send it
      client->close();
    }
    one_done();
  };
  if (detach_keys && stdin && !detach_keys->empty()) {
    pump_detachable(client, shim, std::make_shared<DetachScanner>(*detach_keys), input_end);
  } else {
    pump(client, shim, input_end);
  }
}

base::Result<std::string> parse_detach_keys(const std::string& text) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string key = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (key.size() == 1) {
      out += key[0];
    } else if (key == "DEL") {
      out += static_cast<char>(127);
    } else if (key.size() == 6 && key.rfind("ctrl-", 0) == 0 &&
               ((key[5] >= 'a' && key[5] <= 'z') || key[5] == '@' || key[5] == '[' || key[5] == '\\' ||
                key[5] == ']' || key[5] == '^' || key[5] == '_')) {
      out += static_cast<char>(key[5] >= 'a' && key[5] <= 'z' ? key[5] - 'a' + 1 : key[5] - '@');
    } else {
      return base::make_error(base::ErrorKind::kInvalidArgument, "Unknown character: '" + key + "'");
    }
    if (comma == std::string::npos) {
      return out;
    }
    start = comma + 1;
  }
}

std::string DetachScanner::feed(std::string_view in, bool& detached) {
  std::string out;
  for (const char ch : in) {
    if (ch == keys_[matched_]) {
      if (++matched_ == keys_.size()) {
        detached = true;
        matched_ = 0;
        return out;  // the sequence and anything after it are not passed on
      }
      continue;
    }
    // Not the sequence after all: what was held goes on, and this byte may
    // start it again.
    out.append(keys_, 0, matched_);
    matched_ = 0;
    if (ch == keys_[0]) {
      matched_ = 1;
      if (keys_.size() == 1) {
        detached = true;
        return out;
      }
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace dind::engine
