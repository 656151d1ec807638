// The shim's client connections (attach sockets): their commands, the stdin
// they send, and the container's output, which goes to the json-file log and
// to every attached client.

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "dind/base/stdcopy.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/shim_protocol.hpp"
#include "shim_internal.hpp"

namespace dind::runtime::shim_detail {

void Stdio::flush_in() {
  while (in.valid() && !in_buf.empty()) {
    const ssize_t n = ::write(in.get(), in_buf.data(), in_buf.size());
    if (n > 0) {
      in_buf.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    } else {
      in.reset();  // the process closed its stdin
      in_buf.clear();
    }
  }
  if (close_in && in_buf.empty()) {
    in.reset();
  }
}

bool read_stream(base::UniqueFd& fd, const std::function<void(std::string_view)>& sink) {
  char buf[32 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n > 0) {
      sink(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return true;
    }
    fd.reset();
    return false;
  }
}

namespace {

uint8_t attach_flag(uint8_t stream) {
  return stream == 1 ? kAttachStdout : kAttachStderr;
}

}  // namespace

void Shim::send_output(Client& c, uint8_t stream, std::string_view data, bool tty) {
  if (!c.fd.valid() || !c.registered || (c.flags & attach_flag(stream)) == 0) {
    return;
  }
  if (tty) {
    c.out.append(data);
  } else {
    base::stdcopy_append(c.out, static_cast<base::StdStream>(stream), data);
  }
  flush_client(c);
}

void Shim::write_log(uint8_t stream, std::string_view line) {
  const std::string entry = json_log_line(line, stream == 1 ? "stdout" : "stderr",
                                          std::chrono::system_clock::now());
  (void)!::write(log_.get(), entry.data(), entry.size());
}

void Shim::init_output(uint8_t stream, std::string_view data) {
  auto& splitter = stream == 1 ? out_lines_ : err_lines_;
  splitter.feed(data, [&](std::string_view line) { write_log(stream, line); });
  for (auto& c : clients_) {
    if (c->exec == nullptr) {
      send_output(*c, stream, data, o_.tty);
    }
  }
}

void Shim::read_init(uint8_t stream) {
  auto& fd = stream == 1 ? init_.out : init_.err;
  if (!read_stream(fd, [&](std::string_view d) { init_output(stream, d); })) {
    auto& splitter = stream == 1 ? out_lines_ : err_lines_;
    splitter.flush([&](std::string_view line) { write_log(stream, line); });
  }
}

void Shim::flush_client(Client& c) {
  while (!c.out.empty() && c.fd.valid()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      break;
    } else {
      c.fd.reset();
      return;
    }
  }
  if (c.out.size() > kClientBufferLimit) {
    c.fd.reset();  // never let a slow reader stall the container
  } else if (c.out.empty() && c.close_when_flushed) {
    ::shutdown(c.fd.get(), SHUT_RDWR);
    c.fd.reset();
  }
}

void Shim::refuse(Client& c, const std::string& line) {
  c.out = line;
  c.close_when_flushed = true;
  c.input_done = true;
  flush_client(c);
}

bool Shim::on_command(const std::shared_ptr<Client>& cp) {
  Client& c = *cp;
  auto decoded = proto::decode_command(c.in);
  if (!decoded) {
    c.fd.reset();  // not a command: the connection goes
    return true;
  }
  if (!*decoded) {
    return false;  // incomplete
  }
  const size_t used = (*decoded)->used;
  if (const auto* a = std::get_if<proto::Attach>(&(*decoded)->command)) {
    c.flags = a->flags;
    c.registered = true;
    c.out += 'K';
  } else if (const auto* r = std::get_if<proto::Resize>(&(*decoded)->command)) {
    winsize ws{};
    ws.ws_row = static_cast<uint16_t>(r->rows);
    ws.ws_col = static_cast<uint16_t>(r->cols);
    const Stdio* io = &init_;
    if (!r->exec_id.empty()) {
      auto it = std::find_if(execs_.begin(), execs_.end(), [&](auto& e) { return e->id == r->exec_id; });
      io = it == execs_.end() ? nullptr : &(*it)->io;
    }
    const bool ok = io != nullptr && io->tty && io->out.valid() &&
                    ::ioctl(io->out.get(), TIOCSWINSZ, &ws) == 0;
    refuse(c, ok ? "K" : "E");
    return true;
  } else if (const auto* x = std::get_if<proto::Exec>(&(*decoded)->command)) {
    start_exec(cp, x->attach_flags, x->exec_flags, x->exec_id);
    if (!c.registered) {
      return true;
    }
  }
  flush_client(c);
  std::string rest = c.in.substr(used);
  c.in.clear();
  if (!rest.empty()) {
    on_input(c, rest);
  }
  return true;
}

void Shim::on_input(Client& c, std::string_view data) {
  if ((c.flags & kAttachStdin) == 0) {
    return;
  }
  Stdio& io = c.exec != nullptr ? c.exec->io : init_;
  if (io.in.valid()) {
    io.in_buf.append(data);
    io.flush_in();
  }
}

void Shim::on_client_readable(const std::shared_ptr<Client>& cp) {
  Client& c = *cp;
  char buf[32 * 1024];
  const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (n <= 0) {
    c.input_done = true;
    if (!c.registered) {
      c.fd.reset();
      return;
    }
    // As dockerd: the client's end of input closes the process's stdin
    // (an exec's, or a --stdin-once container's), but never a terminal's:
    // a client that detaches (ctrl-p ctrl-q) or goes away leaves it open.
    if ((c.flags & kAttachStdin) != 0) {
      if (c.exec != nullptr && !c.exec->io.tty) {
        c.exec->io.close_in = true;
        c.exec->io.flush_in();
      } else if (c.exec == nullptr && o_.stdin_once && !o_.tty) {
        init_.close_in = true;
        init_.flush_in();
      }
    }
    if (n < 0) {
      c.fd.reset();
    }
    return;
  }
  if (!c.registered) {
    c.in.append(buf, static_cast<size_t>(n));
    (void)on_command(cp);
    return;
  }
  on_input(c, std::string_view(buf, static_cast<size_t>(n)));
}

void Shim::accept_clients() {
  for (;;) {
    const int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      break;
    }
    auto c = std::make_shared<Client>();
    c->fd.reset(fd);
    clients_.push_back(std::move(c));
  }
}

void Shim::on_client_event(const std::shared_ptr<Client>& c, short revents) {
  if (!c->fd.valid()) {
    return;
  }
  if ((revents & POLLOUT) != 0) {
    flush_client(*c);
  }
  if (c->fd.valid() && (revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !c->input_done) {
    on_client_readable(c);
  } else if ((revents & (POLLERR | POLLNVAL)) != 0) {
    c->fd.reset();
  }
}

}  // namespace dind::runtime::shim_detail
