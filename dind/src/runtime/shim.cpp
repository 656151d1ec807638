#include "dind/runtime/shim.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dind/base/fs.hpp"
#include "dind/base/time.hpp"
#include "dind/runtime/json_log.hpp"

namespace dind::runtime {

std::vector<std::string> shim_args(const ShimOptions& o) {
  std::vector<std::string> a = {"--id",      o.id,        "--bundle",    o.bundle,   "--runc-root",
                                o.runc_root, "--runtime", o.runtime,     "--log",    o.log_path,
                                "--socket",  o.socket,    "--exit-file", o.exit_file};
  if (o.open_stdin) {
    a.emplace_back("--stdin");
  }
  if (o.stdin_once) {
    a.emplace_back("--stdin-once");
  }
  if (o.tty) {
    a.emplace_back("--tty");
  }
  return a;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSyncFd = 3;
constexpr size_t kClientBufferLimit = 8u << 20;  // a client this far behind is dropped
constexpr size_t kStdinBufferLimit = 1u << 20;

void set_nonblock(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void send_sync(const std::string& msg) {
  // MSG_NOSIGNAL: the daemon may be gone.
  (void)::send(kSyncFd, msg.data(), msg.size(), MSG_NOSIGNAL);
}

// Runs the runtime with the given stdio and waits for it; returns the wait
// status.
int run_runtime(const ShimOptions& o, const std::vector<std::string>& args, int in, int out,
                int err) {
  std::vector<std::string> argv = {
      o.runtime, "--root", o.runc_root, "--log", o.bundle + "/runc.log", "--log-format", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  if (pid < 0) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// The last error runc wrote to its JSON log.
std::string runtime_error(const ShimOptions& o, const std::string& fallback) {
  auto text = base::read_file(o.bundle + "/runc.log", 1u << 20);
  std::string msg;
  if (text) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      auto doc = nlohmann::json::parse(line, nullptr, false);
      if (doc.is_object() && doc.value("level", "") == "error" && doc.contains("msg")) {
        msg = doc["msg"].is_string() ? doc["msg"].get<std::string>() : doc["msg"].dump();
      }
    }
  }
  return msg.empty() ? fallback : msg;
}

struct Client {
  base::UniqueFd fd;
  uint8_t flags = 0;
  bool registered = false;  // got the command bytes
  bool input_done = false;
  std::string in;   // command bytes so far
  std::string out;  // frames not yet written
};

class Shim {
 public:
  explicit Shim(ShimOptions o) : o_(std::move(o)) {}

  int run() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    ::signal(SIGPIPE, SIG_IGN);

    int out_pipe[2];
    int err_pipe[2];
    int in_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
        (o_.open_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0)) {
      send_sync(std::string("E cannot create pipes: ") + std::strerror(errno));
      return 1;
    }
    stdout_.reset(out_pipe[0]);
    stderr_.reset(err_pipe[0]);
    base::UniqueFd out_w(out_pipe[1]);
    base::UniqueFd err_w(err_pipe[1]);
    base::UniqueFd in_r(in_pipe[0]);
    stdin_.reset(in_pipe[1]);
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));

    if (!listen_socket()) {
      return 1;
    }
    log_.reset(::open(o_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log_.valid()) {
      send_sync("E cannot open the log file " + o_.log_path + ": " + std::strerror(errno));
      return 1;
    }

    const std::string pid_file = o_.bundle + "/init.pid";
    ::unlink((o_.bundle + "/runc.log").c_str());
    std::vector<std::string> create = {"create", "--bundle", o_.bundle, "--pid-file", pid_file};
    base::UniqueFd console;
    const std::string console_path = o_.socket + ".tty";
    if (o_.tty) {
      // runc hands the pty master over this socket (SCM_RIGHTS) during create.
      console = listen_unix(console_path);
      if (!console.valid()) {
        send_sync("E cannot listen on " + console_path + ": " + std::strerror(errno));
        cleanup_socket();
        return 1;
      }
      create.push_back("--console-socket");
      create.push_back(console_path);
    }
    create.push_back(o_.id);
    const int st = o_.tty ? run_runtime(o_, create, devnull.get(), devnull.get(), devnull.get())
                          : run_runtime(o_, create, in_r.valid() ? in_r.get() : devnull.get(),
                                        out_w.get(), err_w.get());
    out_w.reset();
    err_w.reset();
    in_r.reset();
    if (st != 0) {
      ::unlink(console_path.c_str());
      send_sync("E " + runtime_error(o_, "runc create failed with status " + std::to_string(st)));
      cleanup_socket();
      return 1;
    }
    if (o_.tty) {
      base::UniqueFd master = receive_master(console.get());
      console.reset();
      ::unlink(console_path.c_str());
      if (!master.valid()) {
        send_sync("E runc sent no terminal");
        delete_container();
        cleanup_socket();
        return 1;
      }
      // One stream: the pty carries output (stdout), and stdin when open.
      stderr_.reset();
      stdin_.reset(o_.open_stdin ? ::fcntl(master.get(), F_DUPFD_CLOEXEC, 0) : -1);
      stdout_ = std::move(master);
    }
    auto pid_text = base::read_file(pid_file, 64);
    init_pid_ = pid_text ? static_cast<pid_t>(std::atoi(pid_text->c_str())) : 0;
    if (init_pid_ <= 0) {
      send_sync("E runc create wrote no pid file");
      delete_container();
      cleanup_socket();
      return 1;
    }
    set_nonblock(stdout_.get());
    if (stderr_.valid()) {
      set_nonblock(stderr_.get());
    }
    if (stdin_.valid()) {
      set_nonblock(stdin_.get());
    }
    send_sync("P " + std::to_string(init_pid_) + " " + std::to_string(::getpid()));
    loop();
    return 0;
  }

 private:
  // A listening unix socket (mode 0600), or an invalid fd (errno set).
  static base::UniqueFd listen_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
      errno = ENAMETOOLONG;
      return {};
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 64) != 0) {
      return {};
    }
    return fd;
  }

  bool listen_socket() {
    listen_ = listen_unix(o_.socket);
    if (!listen_.valid()) {
      send_sync("E cannot listen on " + o_.socket + ": " + std::strerror(errno));
      return false;
    }
    return true;
  }

  // Accepts runc's connection on the console socket and takes the pty master
  // it sends (SCM_RIGHTS); runc has sent it by the time `runc create` ends.
  static base::UniqueFd receive_master(int listen_fd) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      return {};
    }
    base::UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      return {};
    }
    char name[4096];
    iovec iov{name, sizeof(name)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC) < 0) {
      return {};
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return base::UniqueFd(fd);
      }
    }
    return {};
  }

  void cleanup_socket() {
    listen_.reset();
    ::unlink(o_.socket.c_str());
  }

  void delete_container() {
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    (void)run_runtime(o_, {"delete", "--force", o_.id}, devnull.get(), devnull.get(),
                      devnull.get());
  }

  void on_sync() {
    char buf[64];
    const ssize_t n = ::recv(kSyncFd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    const std::string msg = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    sync_open_ = false;
    if (msg == "S" && !started_) {
      base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
      const int st = run_runtime(o_, {"start", o_.id}, devnull.get(), devnull.get(), devnull.get());
      if (st != 0) {
        send_sync("E " + runtime_error(o_, "runc start failed with status " + std::to_string(st)));
        delete_container();
        quit_ = true;
        return;
      }
      started_ = true;
      send_sync("R");
      sync_open_ = true;  // stays open: the daemon may keep it as a liveness probe
      return;
    }
    if (!started_) {
      // "A" or the daemon went away before starting: nothing ever ran.
      delete_container();
      quit_ = true;
    }
  }

  void emit(uint8_t stream, std::string_view data) {
    const char* name = stream == 1 ? "stdout" : "stderr";
    auto& splitter = stream == 1 ? out_lines_ : err_lines_;
    const auto now = std::chrono::system_clock::now();
    splitter.feed(data, [&](std::string_view line) {
      const std::string entry = json_log_line(line, name, now);
      (void)!::write(log_.get(), entry.data(), entry.size());
    });
    const uint8_t want = stream == 1 ? kAttachStdout : kAttachStderr;
    if (o_.tty) {  // a terminal's stream goes out raw
      for (auto& c : clients_) {
        if (c->registered && (c->flags & want) != 0) {
          c->out.append(data);
          flush_client(*c);
        }
      }
      return;
    }
    std::string frame(8, '\0');
    frame[0] = static_cast<char>(stream);
    const auto len = static_cast<uint32_t>(data.size());
    frame[4] = static_cast<char>(len >> 24);
    frame[5] = static_cast<char>(len >> 16);
    frame[6] = static_cast<char>(len >> 8);
    frame[7] = static_cast<char>(len);
    frame.append(data);
    for (auto& c : clients_) {
      if (c->registered && (c->flags & want) != 0) {
        c->out += frame;
        flush_client(*c);
      }
    }
  }

  void flush_client(Client& c) {
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
    }
  }

  // Returns false at EOF or error.
  bool drain(base::UniqueFd& fd, uint8_t stream) {
    char buf[32 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
      if (n > 0) {
        emit(stream, std::string_view(buf, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
      }
      auto& splitter = stream == 1 ? out_lines_ : err_lines_;
      const auto now = std::chrono::system_clock::now();
      splitter.flush([&](std::string_view line) {
        const std::string entry = json_log_line(line, stream == 1 ? "stdout" : "stderr", now);
        (void)!::write(log_.get(), entry.data(), entry.size());
      });
      fd.reset();
      return false;
    }
  }

  void on_client_readable(Client& c) {
    char buf[32 * 1024];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    if (n <= 0) {
      c.input_done = true;
      if ((c.flags & kAttachStdin) != 0 && o_.stdin_once) {
        close_stdin_ = true;
      }
      if (n < 0) {
        c.fd.reset();
      }
      return;
    }
    std::string_view data(buf, static_cast<size_t>(n));
    if (!c.registered) {
      c.in.append(data);
      if (c.in.size() < 2) {
        return;
      }
      if (c.in[0] == 'r') {  // resize: 'r' + rows + cols, 16 bits each, big-endian
        if (c.in.size() < 5) {
          return;
        }
        winsize ws{};
        ws.ws_row = static_cast<uint16_t>((static_cast<uint8_t>(c.in[1]) << 8) |
                                          static_cast<uint8_t>(c.in[2]));
        ws.ws_col = static_cast<uint16_t>((static_cast<uint8_t>(c.in[3]) << 8) |
                                          static_cast<uint8_t>(c.in[4]));
        const bool ok = o_.tty && stdout_.valid() && ::ioctl(stdout_.get(), TIOCSWINSZ, &ws) == 0;
        (void)::send(c.fd.get(), ok ? "K" : "E", 1, MSG_NOSIGNAL);
        c.fd.reset();
        return;
      }
      if (c.in[0] != 'a') {
        c.fd.reset();
        return;
      }
      c.flags = static_cast<uint8_t>(c.in[1]);
      c.registered = true;
      data = std::string_view(c.in).substr(2);
      c.out += 'K';
      flush_client(c);
      if (data.empty()) {
        c.in.clear();
        return;
      }
    }
    if ((c.flags & kAttachStdin) != 0 && stdin_.valid()) {
      stdin_buf_.append(data);
      flush_stdin();
    }
    if (!c.in.empty()) {
      c.in.clear();
    }
  }

  void flush_stdin() {
    while (stdin_.valid() && !stdin_buf_.empty()) {
      const ssize_t n = ::write(stdin_.get(), stdin_buf_.data(), stdin_buf_.size());
      if (n > 0) {
        stdin_buf_.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
      } else {
        stdin_.reset();  // the container closed its stdin
        stdin_buf_.clear();
      }
    }
    if (close_stdin_ && stdin_buf_.empty()) {
      stdin_.reset();
    }
  }

  void reap() {
    signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof(si)) == sizeof(si)) {
    }
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        break;
      }
      if (pid == init_pid_ && !exited_) {
        exited_ = true;
        exit_status_ = status;
        exited_at_ = std::chrono::system_clock::now();
        drain_deadline_ = Clock::now() + std::chrono::seconds(2);
      }
    }
  }

  void finish() {
    if (stdout_.valid()) {
      drain(stdout_, 1);
    }
    if (stderr_.valid()) {
      drain(stderr_, 2);
    }
    delete_container();
    const int code = WIFEXITED(exit_status_)     ? WEXITSTATUS(exit_status_)
                     : WIFSIGNALED(exit_status_) ? 128 + WTERMSIG(exit_status_)
                                                 : 255;
    nlohmann::json doc = {{"ExitCode", code},
                          {"FinishedAt", base::rfc3339_nano(exited_at_)},
                          {"Pid", init_pid_},
                          {"OOMKilled", false}};
    (void)base::write_file_atomic(o_.exit_file, doc.dump() + "\n", 0644);
    // Give attached clients a moment to take the last bytes.
    const auto until = Clock::now() + std::chrono::seconds(1);
    for (auto& c : clients_) {
      if (!c->fd.valid()) {
        continue;
      }
      ::fcntl(c->fd.get(), F_SETFL, ::fcntl(c->fd.get(), F_GETFL) & ~O_NONBLOCK);
      timeval tv{0, 200 * 1000};
      ::setsockopt(c->fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      while (!c->out.empty() && Clock::now() < until) {
        const ssize_t n = ::send(c->fd.get(), c->out.data(), c->out.size(), MSG_NOSIGNAL);
        if (n <= 0) {
          break;
        }
        c->out.erase(0, static_cast<size_t>(n));
      }
      ::shutdown(c->fd.get(), SHUT_RDWR);
      c->fd.reset();
    }
    cleanup_socket();
  }

  void loop() {
    while (!quit_) {
      if (exited_ && ((!stdout_.valid() && !stderr_.valid()) || Clock::now() >= drain_deadline_)) {
        finish();
        return;
      }
      std::vector<pollfd> fds;
      std::vector<Client*> owners;
      auto add = [&](int fd, short events, Client* owner = nullptr) {
        fds.push_back({fd, events, 0});
        owners.push_back(owner);
      };
      add(sigfd_.get(), POLLIN);
      add(listen_.get(), POLLIN);
      if (sync_open_) {
        add(kSyncFd, POLLIN);
      }
      const size_t pipes_at = fds.size();
      if (started_ && stdout_.valid()) {
        add(stdout_.get(), POLLIN);
      }
      if (started_ && stderr_.valid()) {
        add(stderr_.get(), POLLIN);
      }
      if (stdin_.valid() && !stdin_buf_.empty()) {
        add(stdin_.get(), POLLOUT);
      }
      std::erase_if(clients_, [](const auto& c) { return !c->fd.valid(); });
      for (auto& c : clients_) {
        short ev = 0;
        if (!c->input_done && stdin_buf_.size() < kStdinBufferLimit) {
          ev |= POLLIN;
        }
        if (!c->out.empty()) {
          ev |= POLLOUT;
        }
        add(c->fd.get(), ev, c.get());
      }
      int timeout = -1;
      if (exited_) {
        timeout = static_cast<int>(std::max<int64_t>(
            1, std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline_ - Clock::now())
                   .count()));
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        const auto& p = fds[i];
        if (p.revents == 0) {
          continue;
        }
        if (p.fd == sigfd_.get()) {
          reap();
        } else if (p.fd == listen_.get()) {
          for (;;) {
            const int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) {
              break;
            }
            auto c = std::make_unique<Client>();
            c->fd.reset(fd);
            clients_.push_back(std::move(c));
          }
        } else if (p.fd == kSyncFd && sync_open_) {
          if (started_) {
            // After the start the daemon only closes it; nothing to read.
            char b[16];
            if (::recv(kSyncFd, b, sizeof(b), MSG_DONTWAIT) <= 0) {
              sync_open_ = false;
            }
          } else {
            on_sync();
          }
        } else if (i >= pipes_at && owners[i] == nullptr && p.fd == stdout_.get()) {
          drain(stdout_, 1);
        } else if (i >= pipes_at && owners[i] == nullptr && p.fd == stderr_.get()) {
          drain(stderr_, 2);
        } else if (owners[i] == nullptr && stdin_.valid() && p.fd == stdin_.get()) {
          flush_stdin();
        } else if (owners[i] != nullptr) {
          Client& c = *owners[i];
          if (!c.fd.valid()) {
            continue;
          }
          if ((p.revents & POLLOUT) != 0) {
            flush_client(c);
          }
          if (c.fd.valid() && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !c.input_done) {
            on_client_readable(c);
          } else if ((p.revents & (POLLERR | POLLNVAL)) != 0) {
            c.fd.reset();
          }
        }
      }
      if (close_stdin_) {
        flush_stdin();
      }
    }
    cleanup_socket();
  }

  ShimOptions o_;
  base::UniqueFd sigfd_, listen_, log_, stdout_, stderr_, stdin_;
  std::vector<std::unique_ptr<Client>> clients_;
  LineSplitter out_lines_, err_lines_;
  std::string stdin_buf_;
  pid_t init_pid_ = 0;
  bool started_ = false;
  bool sync_open_ = true;
  bool quit_ = false;
  bool exited_ = false;
  bool close_stdin_ = false;
  int exit_status_ = 0;
  std::chrono::system_clock::time_point exited_at_;
  Clock::time_point drain_deadline_;
};

}  // namespace

int shim_main(int argc, char** argv) {
  ShimOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--id") {
      o.id = next();
    } else if (a == "--bundle") {
      o.bundle = next();
    } else if (a == "--runc-root") {
      o.runc_root = next();
    } else if (a == "--runtime") {
      o.runtime = next();
    } else if (a == "--log") {
      o.log_path = next();
    } else if (a == "--socket") {
      o.socket = next();
    } else if (a == "--exit-file") {
      o.exit_file = next();
    } else if (a == "--stdin") {
      o.open_stdin = true;
    } else if (a == "--stdin-once") {
      o.stdin_once = true;
    } else if (a == "--tty") {
      o.tty = true;
    } else {
      send_sync("E unknown shim argument " + a);
      return 2;
    }
  }
  if (o.id.empty() || o.bundle.empty() || o.socket.empty() || o.exit_file.empty() ||
      o.log_path.empty()) {
    send_sync("E the shim needs --id, --bundle, --socket, --exit-file and --log");
    return 2;
  }
  // Detach from the daemon: the daemon reaps this first process at once; the
  // second lives on, re-parented, and reaps the container (subreaper).
  const pid_t child = ::fork();
  if (child < 0) {
    send_sync(std::string("E fork: ") + std::strerror(errno));
    return 1;
  }
  if (child > 0) {
    ::_exit(0);
  }
  ::fcntl(kSyncFd, F_SETFD, FD_CLOEXEC);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::prctl(PR_SET_NAME, "dind-shim");
  return Shim(std::move(o)).run();
}

}  // namespace dind::runtime
