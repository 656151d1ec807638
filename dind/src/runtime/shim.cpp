#include "dind/runtime/shim.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/stdcopy.hpp"
#include "dind/base/time.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/nsexec.hpp"
#include "dind/runtime/shim_os.hpp"
#include "dind/runtime/shim_protocol.hpp"

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
  if (!o.cgroup.empty()) {
    a.emplace_back("--cgroup");
    a.push_back(o.cgroup);
  }
  if (o.runc_exec) {
    a.emplace_back("--runc-exec");
  }
  return a;
}

namespace {

namespace proto = shim_protocol;
using Clock = std::chrono::steady_clock;
using shim_os::listen_unix;
using shim_os::receive_master;
using shim_os::set_nonblock;
constexpr int kSyncFd = 3;
constexpr size_t kClientBufferLimit = 8u << 20;  // a client this far behind is dropped
constexpr size_t kStdinBufferLimit = 1u << 20;
constexpr auto kInitDrain = std::chrono::seconds(2);
// Output an exec'd process leaves in its pipes is read at its exit; a
// background child that keeps them open is not waited for longer than this.
constexpr auto kExecDrain = std::chrono::milliseconds(300);

void send_sync(const std::string& msg) {
  // MSG_NOSIGNAL: the daemon may be gone.
  (void)::send(kSyncFd, msg.data(), msg.size(), MSG_NOSIGNAL);
}

int exit_code_of(int status) {
  return WIFEXITED(status)     ? WEXITSTATUS(status)
         : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                               : 255;
}

// One process's stdio as the shim holds it: read ends of its stdout and
// stderr (with a TTY `out` is the pty master and there is no `err`) and the
// write end of its stdin, all non-blocking.
struct Stdio {
  base::UniqueFd out, err, in;
  std::string in_buf;     // stdin bytes not yet written
  bool close_in = false;  // close `in` once in_buf is written
  bool tty = false;

  bool output_open() const { return out.valid() || err.valid(); }

  void flush_in() {
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
};

struct Exec;

struct Client {
  base::UniqueFd fd;
  uint8_t flags = 0;
  bool registered = false;  // got a complete command
  bool input_done = false;
  bool close_when_flushed = false;
  std::string in;   // command bytes so far
  std::string out;  // bytes not yet written
  Exec* exec = nullptr;  // the exec this connection started, while it runs
};

struct Exec {
  std::string id;
  pid_t pid = 0;
  Stdio io;
  std::shared_ptr<Client> client;
  bool exited = false;
  int status = 0;
  Clock::time_point deadline;
};

// Reads what `fd` has now into `sink`; false (and fd closed) at EOF or on an
// error (a pty master answers EIO once the terminal's last user left).
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

uint8_t attach_flag(uint8_t stream) {
  return stream == 1 ? kAttachStdout : kAttachStderr;
}

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
      send_sync(proto::encode(proto::Failed{std::string("cannot create pipes: ") + std::strerror(errno)}));
      return 1;
    }
    init_.out.reset(out_pipe[0]);
    init_.err.reset(err_pipe[0]);
    base::UniqueFd out_w(out_pipe[1]);
    base::UniqueFd err_w(err_pipe[1]);
    base::UniqueFd in_r(in_pipe[0]);
    init_.in.reset(in_pipe[1]);
    init_.tty = o_.tty;
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));

    listen_ = listen_unix(o_.socket);
    if (!listen_.valid()) {
      send_sync(proto::encode(proto::Failed{"cannot listen on " + o_.socket + ": " + std::strerror(errno)}));
      return 1;
    }
    log_.reset(::open(o_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log_.valid()) {
      send_sync(proto::encode(proto::Failed{"cannot open the log file " + o_.log_path + ": " + std::strerror(errno)}));
      return 1;
    }

    const std::string pid_file = o_.bundle + "/init.pid";
    ::unlink(runc_log().c_str());
    std::vector<std::string> create = {"create", "--bundle", o_.bundle, "--pid-file", pid_file};
    base::UniqueFd console;
    const std::string console_path = o_.socket + ".tty";
    if (o_.tty) {
      // runc hands the pty master over this socket (SCM_RIGHTS) during create.
      console = listen_unix(console_path);
      if (!console.valid()) {
        send_sync(proto::encode(proto::Failed{"cannot listen on " + console_path + ": " + std::strerror(errno)}));
        cleanup_socket();
        return 1;
      }
      create.push_back("--console-socket");
      create.push_back(console_path);
    }
    create.push_back(o_.id);
    const int st = o_.tty ? runtime(create, devnull.get(), devnull.get(), devnull.get())
                          : runtime(create, in_r.valid() ? in_r.get() : devnull.get(),
                                    out_w.get(), err_w.get());
    out_w.reset();
    err_w.reset();
    in_r.reset();
    if (st != 0) {
      ::unlink(console_path.c_str());
      send_sync(proto::encode(proto::Failed{shim_os::runtime_error(
                           runc_log(), "runc create failed with status " + std::to_string(st))}));
      cleanup_socket();
      return 1;
    }
    if (o_.tty) {
      base::UniqueFd master = receive_master(console.get());
      console.reset();
      ::unlink(console_path.c_str());
      if (!master.valid()) {
        send_sync(proto::encode(proto::Failed{"runc sent no terminal"}));
        delete_container();
        cleanup_socket();
        return 1;
      }
      // One stream: the pty carries output (stdout), and stdin when open.
      init_.err.reset();
      init_.in.reset(o_.open_stdin ? ::fcntl(master.get(), F_DUPFD_CLOEXEC, 0) : -1);
      init_.out = std::move(master);
    }
    auto pid_text = base::read_file(pid_file, 64);
    init_pid_ = pid_text ? static_cast<pid_t>(std::atoi(pid_text->c_str())) : 0;
    if (init_pid_ <= 0) {
      send_sync(proto::encode(proto::Failed{"runc create wrote no pid file"}));
      delete_container();
      cleanup_socket();
      return 1;
    }
    for (int fd : {init_.out.get(), init_.err.get(), init_.in.get()}) {
      if (fd >= 0) {
        set_nonblock(fd);
      }
    }
    send_sync(proto::encode(proto::Created{init_pid_, ::getpid()}));
    loop();
    return 0;
  }

 private:
  std::string runc_log() const { return o_.bundle + "/runc.log"; }

  int runtime(const std::vector<std::string>& args, int in, int out, int err,
              const std::string& log = "") const {
    return shim_os::run_runtime(o_.runtime, o_.runc_root, log.empty() ? runc_log() : log, args,
                                in, out, err);
  }

  void cleanup_socket() {
    listen_.reset();
    ::unlink(o_.socket.c_str());
  }

  void delete_container() {
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    (void)runtime({"delete", "--force", o_.id}, devnull.get(), devnull.get(), devnull.get());
  }

  void on_sync() {
    char buf[64];
    const ssize_t n = ::recv(kSyncFd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    const std::string msg = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    sync_open_ = false;
    if (proto::decode_order(msg) == proto::Order::kStart && !started_) {
      base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
      const int st = runtime({"start", o_.id}, devnull.get(), devnull.get(), devnull.get());
      if (st != 0) {
        send_sync(proto::encode(proto::Failed{shim_os::runtime_error(
                             runc_log(), "runc start failed with status " + std::to_string(st))}));
        delete_container();
        quit_ = true;
        return;
      }
      started_ = true;
      send_sync(proto::encode(proto::Started{}));
      sync_open_ = true;  // stays open: the daemon may keep it as a liveness probe
      return;
    }
    if (!started_) {
      // "A" or the daemon went away before starting: nothing ever ran.
      delete_container();
      quit_ = true;
    }
  }

  // Queues output for one client: a stdcopy frame, or raw bytes for a TTY.
  void send_output(Client& c, uint8_t stream, std::string_view data, bool tty) {
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

  void write_log(uint8_t stream, std::string_view line) {
    const std::string entry = json_log_line(line, stream == 1 ? "stdout" : "stderr",
                                            std::chrono::system_clock::now());
    (void)!::write(log_.get(), entry.data(), entry.size());
  }

  // The container's own output: the log, and every attached client.
  void init_output(uint8_t stream, std::string_view data) {
    auto& splitter = stream == 1 ? out_lines_ : err_lines_;
    splitter.feed(data, [&](std::string_view line) { write_log(stream, line); });
    for (auto& c : clients_) {
      if (c->exec == nullptr) {
        send_output(*c, stream, data, o_.tty);
      }
    }
  }

  void read_init(uint8_t stream) {
    auto& fd = stream == 1 ? init_.out : init_.err;
    if (!read_stream(fd, [&](std::string_view d) { init_output(stream, d); })) {
      auto& splitter = stream == 1 ? out_lines_ : err_lines_;
      splitter.flush([&](std::string_view line) { write_log(stream, line); });
    }
  }

  void read_exec(Exec& e, uint8_t stream) {
    auto& fd = stream == 1 ? e.io.out : e.io.err;
    (void)read_stream(fd, [&](std::string_view d) {
      if (e.client) {
        send_output(*e.client, stream, d, e.io.tty);
      }
    });
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
    } else if (c.out.empty() && c.close_when_flushed) {
      ::shutdown(c.fd.get(), SHUT_RDWR);
      c.fd.reset();
    }
  }

  // Answers and closes: an error line for a command that failed.
  void refuse(Client& c, const std::string& line) {
    c.out = line;
    c.close_when_flushed = true;
    c.input_done = true;
    flush_client(c);
  }

  // Parses the command at the start of c.in; false while incomplete.
  bool on_command(const std::shared_ptr<Client>& cp) {
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

  // Runs `runc exec` for the client; on success the client is registered as
  // the exec's connection and has been told the pid.
  void start_exec(const std::shared_ptr<Client>& cp, uint8_t flags, uint8_t xflags,
                  const std::string& id) {
    Client& c = *cp;
    if (!proto::valid_exec_id(id)) {
      refuse(c, proto::exec_refused("invalid exec ID"));
      return;
    }
    if (!started_ || exited_) {
      refuse(c, proto::exec_refused("container " + o_.id + " is not running"));
      return;
    }
    const std::string files = o_.bundle + "/exec/" + id;
    auto e = std::make_unique<Exec>();
    e->id = id;
    e->io.tty = (xflags & kExecTty) != 0;
    const bool want_stdin = (xflags & kExecStdin) != 0;
    base::UniqueFd child_in, child_out, child_err;
    if (!e->io.tty) {
      int p_out[2];
      int p_err[2];
      int p_in[2] = {-1, -1};
      if (::pipe2(p_out, O_CLOEXEC) != 0 || ::pipe2(p_err, O_CLOEXEC) != 0 ||
          (want_stdin && ::pipe2(p_in, O_CLOEXEC) != 0)) {
        refuse(c, std::string("Ecannot create pipes: ") + std::strerror(errno) + "\n");
        return;
      }
      e->io.out.reset(p_out[0]);
      child_out.reset(p_out[1]);
      e->io.err.reset(p_err[0]);
      child_err.reset(p_err[1]);
      child_in.reset(p_in[0]);
      e->io.in.reset(p_in[1]);
    }
    bool done = false;
    if (!o_.runc_exec) {
      auto native = exec_natively(files + ".json", child_in.get(), child_out.get(), child_err.get());
      if (native) {
        e->pid = native->pid;
        if (e->io.tty) {
          if (want_stdin) {
            e->io.in.reset(::fcntl(native->master.get(), F_DUPFD_CLOEXEC, 0));
          }
          e->io.out = std::move(native->master);
        }
        done = true;
      } else if (native.error().kind != base::ErrorKind::kUnimplemented) {
        refuse(c, proto::exec_refused(native.error().message));
        return;
      }
    }
    if (!done && !exec_with_runtime(c, *e, files, want_stdin, child_in, child_out, child_err)) {
      return;
    }
    child_in.reset();
    child_out.reset();
    child_err.reset();
    if (e->pid <= 0 || !e->io.out.valid()) {
      refuse(c, proto::exec_refused("runtime exec gave no process"));
      return;
    }
    for (int fd : {e->io.out.get(), e->io.err.get(), e->io.in.get()}) {
      if (fd >= 0) {
        set_nonblock(fd);
      }
    }
    e->client = cp;
    c.exec = e.get();
    c.flags = flags;
    c.registered = true;
    c.out += proto::exec_started(e->pid);
    execs_.push_back(std::move(e));
  }

  // The shim's own exec (nsexec.hpp); kUnimplemented sends the caller to runc.
  base::Result<NativeExec> exec_natively(const std::string& process_file, int in, int out,
                                         int err) {
    auto text = base::read_file(process_file, 1u << 20);
    const nlohmann::json process = text ? nlohmann::json::parse(*text, nullptr, false)
                                        : nlohmann::json();
    if (!process.is_object()) {
      return base::make_error(base::ErrorKind::kUnimplemented, "no process file");
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!zygote_) {
        auto state = base::read_file(o_.runc_root + "/" + o_.id + "/state.json", 16u << 20);
        const auto doc = state ? nlohmann::json::parse(*state, nullptr, false) : nlohmann::json();
        if (!doc.is_object()) {
          return base::make_error(base::ErrorKind::kUnimplemented, "no runc state");
        }
        auto z = ExecZygote::start(init_pid_, doc,
                                   base::read_file(o_.bundle + "/seccomp.bpf", 1u << 20).value_or(""));
        if (!z) {
          return std::move(z).error();
        }
        zygote_ = std::move(*z);
      }
      auto r = zygote_->exec(process, in, out, err);
      if (r || r.error().kind != base::ErrorKind::kUnavailable) {
        return r;
      }
      zygote_.reset();  // it died (the OOM killer?): start another
    }
    return base::make_error(base::ErrorKind::kUnimplemented, "no exec zygote");
  }

  // `runc exec --detach`; false after refusing the client.
  bool exec_with_runtime(Client& c, Exec& e, const std::string& files, bool want_stdin,
                         base::UniqueFd& child_in, base::UniqueFd& child_out,
                         base::UniqueFd& child_err) {
    std::vector<std::string> args = {"exec", "--process", files + ".json", "--detach",
                                     "--pid-file", files + ".pid"};
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    base::UniqueFd console;
    const std::string console_path = o_.socket + "." + e.id.substr(0, 12);
    if (e.io.tty) {
      console = listen_unix(console_path);
      if (!console.valid()) {
        refuse(c, proto::exec_refused("cannot listen on " + console_path + ": " + std::strerror(errno)));
        return false;
      }
      args.push_back("--console-socket");
      args.push_back(console_path);
    }
    args.push_back(o_.id);
    const std::string log = files + ".log";
    const int st = runtime(args, child_in.valid() ? child_in.get() : devnull.get(),
                           child_out.valid() ? child_out.get() : devnull.get(),
                           child_err.valid() ? child_err.get() : devnull.get(), log);
    if (st != 0) {
      ::unlink(console_path.c_str());
      refuse(c, proto::exec_refused(
                    shim_os::runtime_error(log, "runc exec failed with status " + std::to_string(st))));
      return false;
    }
    if (e.io.tty) {
      base::UniqueFd master = receive_master(console.get());
      console.reset();
      ::unlink(console_path.c_str());
      if (master.valid() && want_stdin) {
        e.io.in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
      }
      e.io.out = std::move(master);
    }
    auto pid_text = base::read_file(files + ".pid", 64);
    e.pid = pid_text ? static_cast<pid_t>(std::atoi(pid_text->c_str())) : 0;
    return true;
  }

  // Stdin bytes from a registered client.
  void on_input(Client& c, std::string_view data) {
    if ((c.flags & kAttachStdin) == 0) {
      return;
    }
    Stdio& io = c.exec != nullptr ? c.exec->io : init_;
    if (io.in.valid()) {
      io.in_buf.append(data);
      io.flush_in();
    }
  }

  void on_client_readable(const std::shared_ptr<Client>& cp) {
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
        drain_deadline_ = Clock::now() + kInitDrain;
      }
      for (auto& e : execs_) {
        if (e->pid == pid && !e->exited) {
          e->exited = true;
          e->status = status;
          e->deadline = Clock::now() + kExecDrain;
        }
      }
    }
  }

  // Records an exec's exit and lets its client go once it has the output.
  void finish_exec(Exec& e, int code) {
    if (e.io.out.valid()) {
      read_exec(e, 1);
    }
    if (e.io.err.valid()) {
      read_exec(e, 2);
    }
    nlohmann::json doc = {{"ExitCode", code}, {"Pid", e.pid}};
    (void)base::write_file_atomic(o_.bundle + "/exec/" + e.id + ".exit", doc.dump() + "\n", 0644);
    if (e.client) {
      e.client->exec = nullptr;
      e.client->close_when_flushed = true;
      e.client->input_done = true;
      flush_client(*e.client);
      e.client.reset();
    }
  }

  void finish_execs(bool all) {
    const auto now = Clock::now();
    std::erase_if(execs_, [&](std::unique_ptr<Exec>& e) {
      if (!all && !(e->exited && (!e->io.output_open() || now >= e->deadline))) {
        return false;
      }
      finish_exec(*e, e->exited ? exit_code_of(e->status) : 137);
      return true;
    });
  }

  void finish() {
    if (init_.out.valid()) {
      read_init(1);
    }
    if (init_.err.valid()) {
      read_init(2);
    }
    finish_execs(true);
    zygote_.reset();  // its cgroups must be empty for runc delete
    const bool oom = oom_killed();  // before runc delete removes the cgroup
    delete_container();
    nlohmann::json doc = {{"ExitCode", exit_code_of(exit_status_)},
                          {"FinishedAt", base::rfc3339_nano(exited_at_)},
                          {"Pid", init_pid_},
                          {"OOMKilled", oom}};
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

  // Whether the kernel's OOM killer killed a process of the container: the
  // oom_kill counter of its memory cgroup (v1 memory.oom_control, v2
  // memory.events).
  bool oom_killed() const {
    if (o_.cgroup.empty() || o_.cgroup.find("..") != std::string::npos) {
      return false;
    }
    for (const std::string& file : {"/sys/fs/cgroup/memory" + o_.cgroup + "/memory.oom_control",
                                    "/sys/fs/cgroup" + o_.cgroup + "/memory.events"}) {
      auto text = base::read_file(file, 4096);
      if (!text) {
        continue;
      }
      const auto at = text->find("oom_kill ");
      if (at != std::string::npos) {
        return std::atoll(text->c_str() + at + 9) > 0;
      }
    }
    return false;
  }

  // The init has exited: done once its output and every exec ended (the
  // kernel killed the execs with the pid namespace), or at the deadline.
  bool init_done() const {
    if (!exited_) {
      return false;
    }
    const auto now = Clock::now();
    if (now >= drain_deadline_) {
      return true;
    }
    return !init_.output_open() && execs_.empty();
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<std::function<void(short)>> handlers;
    while (!quit_) {
      finish_execs(false);
      if (init_done()) {
        finish();
        return;
      }
      fds.clear();
      handlers.clear();
      auto add = [&](int fd, short events, std::function<void(short)> fn) {
        fds.push_back({fd, events, 0});
        handlers.push_back(std::move(fn));
      };
      add(sigfd_.get(), POLLIN, [this](short) { reap(); });
      add(listen_.get(), POLLIN, [this](short) { accept_clients(); });
      if (sync_open_) {
        add(kSyncFd, POLLIN, [this](short) { on_sync_readable(); });
      }
      if (started_) {
        add_stdio(init_, add, [this](uint8_t s) { read_init(s); });
      }
      for (auto& e : execs_) {
        Exec* ep = e.get();
        add_stdio(e->io, add, [this, ep](uint8_t s) { read_exec(*ep, s); });
      }
      std::erase_if(clients_, [](const auto& c) { return !c->fd.valid(); });
      for (auto& c : clients_) {
        short ev = 0;
        Stdio& io = c->exec != nullptr ? c->exec->io : init_;
        if (!c->input_done && io.in_buf.size() < kStdinBufferLimit) {
          ev |= POLLIN;
        }
        if (!c->out.empty()) {
          ev |= POLLOUT;
        }
        add(c->fd.get(), ev, [this, c](short revents) { on_client_event(c, revents); });
      }
      int timeout = -1;
      auto until = [&](Clock::time_point t) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
        const int left = static_cast<int>(std::max<int64_t>(1, ms + 1));
        timeout = timeout < 0 ? left : std::min(timeout, left);
      };
      if (exited_) {
        until(drain_deadline_);
      }
      for (auto& e : execs_) {
        if (e->exited) {
          until(e->deadline);
        }
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      // Handlers may add clients or finish execs; the fds polled stay valid
      // until the next round (nothing is erased here).
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents != 0) {
          handlers[i](fds[i].revents);
        }
      }
      if (init_.close_in) {
        init_.flush_in();
      }
    }
    cleanup_socket();
  }

  template <typename Add>
  static void add_stdio(Stdio& io, Add& add, std::function<void(uint8_t)> read) {
    if (io.out.valid()) {
      add(io.out.get(), POLLIN, [read](short) { read(1); });
    }
    if (io.err.valid()) {
      add(io.err.get(), POLLIN, [read](short) { read(2); });
    }
    if (io.in.valid() && !io.in_buf.empty()) {
      add(io.in.get(), POLLOUT, [&io](short) { io.flush_in(); });
    }
  }

  void accept_clients() {
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

  void on_sync_readable() {
    if (!started_) {
      on_sync();
      return;
    }
    // After the start the daemon only closes it; nothing to read.
    char b[16];
    if (::recv(kSyncFd, b, sizeof(b), MSG_DONTWAIT) <= 0) {
      sync_open_ = false;
    }
  }

  void on_client_event(const std::shared_ptr<Client>& c, short revents) {
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

  ShimOptions o_;
  base::UniqueFd sigfd_, listen_, log_;
  Stdio init_;
  std::vector<std::shared_ptr<Client>> clients_;
  std::vector<std::unique_ptr<Exec>> execs_;
  LineSplitter out_lines_, err_lines_;
  std::unique_ptr<ExecZygote> zygote_;  // started at the first exec
  pid_t init_pid_ = 0;
  bool started_ = false;
  bool sync_open_ = true;
  bool quit_ = false;
  bool exited_ = false;
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
    } else if (a == "--cgroup") {
      o.cgroup = next();
    } else if (a == "--runc-exec") {
      o.runc_exec = true;
    } else {
      send_sync(proto::encode(proto::Failed{"unknown shim argument " + a}));
      return 2;
    }
  }
  if (o.id.empty() || o.bundle.empty() || o.socket.empty() || o.exit_file.empty() ||
      o.log_path.empty()) {
    send_sync(proto::encode(proto::Failed{"the shim needs --id, --bundle, --socket, --exit-file and --log"}));
    return 2;
  }
  // Detach from the daemon: the daemon reaps this first process at once; the
  // second lives on, re-parented, and reaps the container (subreaper).
  const pid_t child = ::fork();
  if (child < 0) {
    send_sync(proto::encode(proto::Failed{std::string("fork: ") + std::strerror(errno)}));
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
