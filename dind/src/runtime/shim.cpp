// The shim process: its arguments, the start-up (`runc create`, the sync
// with the daemon, `runc start`), the poll loop, reaping and the end of the
// container (exit file, `runc delete`). Client connections are in
// shim_attach.cpp, execs in shim_exec.cpp; shim.hpp has the protocol.

#include "dind/runtime/shim.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/time.hpp"
#include "dind/runtime/shim_os.hpp"
#include "dind/runtime/shim_protocol.hpp"
#include "shim_internal.hpp"

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

namespace shim_detail {

void send_sync(const std::string& msg) {
  // MSG_NOSIGNAL: the daemon may be gone.
  (void)::send(kSyncFd, msg.data(), msg.size(), MSG_NOSIGNAL);
}

int exit_code_of(int status) {
  return WIFEXITED(status)     ? WEXITSTATUS(status)
         : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                               : 255;
}

int Shim::run() {
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

int Shim::runtime(const std::vector<std::string>& args, int in, int out, int err,
                  const std::string& log) const {
  return shim_os::run_runtime(o_.runtime, o_.runc_root, log.empty() ? runc_log() : log, args,
                              in, out, err);
}

void Shim::cleanup_socket() {
  listen_.reset();
  ::unlink(o_.socket.c_str());
}

void Shim::delete_container() {
  base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  (void)runtime({"delete", "--force", o_.id}, devnull.get(), devnull.get(), devnull.get());
}

void Shim::on_sync() {
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

void Shim::on_sync_readable() {
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

void Shim::reap() {
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

void Shim::finish() {
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
  const std::string exit_text = doc.dump() + "\n";
  if (!base::write_file_atomic(o_.exit_file, exit_text, 0644)) {
    // A full data root: the bundle (the exec root, as a rule another file
    // system) keeps the status for the daemon (kExitFallback).
    (void)base::write_file_atomic(std::filesystem::path(o_.bundle) / kExitFallback, exit_text, 0644);
  }
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

bool Shim::oom_killed() const {
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

bool Shim::init_done() const {
  if (!exited_) {
    return false;
  }
  const auto now = Clock::now();
  if (now >= drain_deadline_) {
    return true;
  }
  return !init_.output_open() && execs_.empty();
}

template <typename Add>
void Shim::add_stdio(Stdio& io, Add& add, std::function<void(uint8_t)> read) {
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

void Shim::loop() {
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

}  // namespace shim_detail

using shim_detail::kSyncFd;
using shim_detail::send_sync;
using shim_detail::Shim;
namespace proto = shim_protocol;

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
