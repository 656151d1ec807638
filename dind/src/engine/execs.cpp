#include "dind/engine/execs.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/process.hpp"
#include "dind/base/stopwatch.hpp"
#include "dind/base/text.hpp"
#include "dind/base/time.hpp"
#include "dind/engine/shim_client.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_protocol.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
// Finished (or never started) execs are forgotten after this.
constexpr auto kKeep = std::chrono::minutes(10);
// The shim answers an exec once `runc exec` returned.
constexpr int kExecAnswerMs = 60000;
}  // namespace

struct Execs::Exec {
  std::string id, container_id;
  std::vector<std::string> args, env;
  std::string user, working_dir, detach_keys;
  bool tty = false, privileged = false;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  int rows = 0, cols = 0;  // the terminal size for the start
  // State.
  bool started = false;
  bool running = false;
  std::optional<int> exit_code;
  int pid = 0;
  uint64_t generation = 0;  // the container's run
  fs::path bundle, socket;
  std::chrono::steady_clock::time_point touched = std::chrono::steady_clock::now();
};

Execs::Execs(std::shared_ptr<Containers> containers, base::Scheduler* scheduler)
    : containers_(std::move(containers)), scheduler_(scheduler) {}

namespace {

// An exec's command as dockerd's event action shows it.
std::string command_line(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    out += (out.empty() ? "" : " ") + a;
  }
  return out;
}

}  // namespace

base::Result<std::string> Execs::create(const std::string& container_ref,
                                        const model::ExecConfig& config) {
  auto e = std::make_shared<Exec>();
  e->args = config.cmd;
  if (e->args.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "No exec command specified");
  }
  e->env = config.env;
  e->user = config.user;
  e->working_dir = config.working_dir;
  e->detach_keys = config.detach_keys;
  if (!e->detach_keys.empty() && !parse_detach_keys(e->detach_keys)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "Invalid escape keys (" + e->detach_keys + ") provided");
  }
  if (!e->working_dir.empty() && e->working_dir[0] != '/') {
    return make_error(ErrorKind::kInvalidArgument,
                      "the working directory '" + e->working_dir +
                          "' is invalid, it needs to be an absolute path");
  }
  e->tty = config.tty;
  e->privileged = config.privileged;
  e->attach_stdin = config.attach_stdin;
  e->attach_stdout = config.attach_stdout;
  e->attach_stderr = config.attach_stderr;
  e->rows = static_cast<int>(config.console_rows);
  e->cols = static_cast<int>(config.console_cols);
  auto target = containers_->exec_target(container_ref, "");
  if (!target) {
    return std::move(target).error();
  }
  e->container_id = target->id;
  e->id = base::random_hex(64);
  containers_->publish(e->container_id, "exec_create: " + command_line(e->args), {{"execID", e->id}});
  std::lock_guard lock(mu_);
  prune_locked();
  by_id_[e->id] = e;
  return e->id;
}

base::Result<std::shared_ptr<Execs::Exec>> Execs::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return make_error(ErrorKind::kNotFound, "No such exec instance: " + id);
  }
  return it->second;
}

bool Execs::exists(const std::string& id) const {
  return find(id).ok();
}

bool Execs::tty(const std::string& id) const {
  auto e = find(id);
  return e && (*e)->tty;
}

void Execs::refresh_locked(Exec& e) const {
  if (!e.running) {
    return;
  }
  auto text = base::read_file(e.bundle / "exec" / (e.id + ".exit"), 4096);
  const json doc = text ? json::parse(*text, nullptr, false) : json();
  if (doc.is_object()) {
    e.exit_code = doc.value("ExitCode", 255);
  } else if (!containers_->running(e.container_id, e.generation)) {
    // The container stopped and took its run directory: the kernel killed
    // the process with the container's pid namespace.
    e.exit_code = 137;
  } else {
    return;
  }
  e.running = false;
  e.touched = std::chrono::steady_clock::now();
  containers_->publish(e.container_id, "exec_die",
                       {{"execID", e.id}, {"exitCode", std::to_string(e.exit_code.value_or(255))}});
}

void Execs::prune_locked() {
  const auto old = std::chrono::steady_clock::now() - kKeep;
  std::erase_if(by_id_, [&](auto& kv) {
    Exec& e = *kv.second;
    refresh_locked(e);
    return !e.running && e.touched < old;
  });
}

base::Result<Execs::Launched> Execs::launch(const Exec& exec, bool attached, int& fail_code) {
  const Exec* e = &exec;
  auto fail = [&fail_code](base::Error err, int code) {
    fail_code = code;
    return err;
  };
  base::Stopwatch watch;
  auto target = containers_->exec_target(e->container_id, e->user);
  if (!target) {
    return fail(std::move(target).error(), 126);
  }
  watch.mark("target");
  auto config = base::read_file(target->bundle / "config.json");
  const json spec = config ? json::parse(*config, nullptr, false) : json();
  if (!spec.is_object()) {
    return fail(make_error(ErrorKind::kInternal, "the container's bundle has no config.json"), 126);
  }
  runtime::ExecInput in;
  in.args = e->args;
  in.env = e->env;
  in.user = target->user;
  in.working_dir = e->working_dir;
  in.tty = e->tty;
  {
    std::lock_guard lock(mu_);  // a resize may set them meanwhile
    in.rows = e->rows;
    in.cols = e->cols;
  }
  in.privileged = e->privileged;
  in.privileged_caps = containers_->host_facts().bounding_caps;
  const json process = runtime::plan_exec_process(spec.value("process", json::object()),
                                                  target->config, in);
  std::error_code ec;
  fs::create_directories(target->bundle / "exec", ec);
  if (auto st = base::write_file_atomic(target->bundle / "exec" / (e->id + ".json"),
                                        process.dump(), 0600);
      !st) {
    return fail(std::move(st).error(), 126);
  }
  watch.mark("process");
  auto fd = connect_shim(target->socket);
  if (!fd) {
    return fail(std::move(fd).error(), 126);
  }
  uint8_t flags = 0;
  flags |= e->attach_stdin ? runtime::kAttachStdin : 0;
  flags |= e->attach_stdout ? runtime::kAttachStdout : 0;
  flags |= e->attach_stderr ? runtime::kAttachStderr : 0;
  if (!attached) {
    flags = 0;
  }
  uint8_t xflags = 0;
  xflags |= e->tty ? runtime::kExecTty : 0;
  xflags |= (e->attach_stdin && attached) ? runtime::kExecStdin : 0;
  const std::string msg = runtime::shim_protocol::encode(runtime::shim_protocol::Exec{flags, xflags, e->id});
  if (::send(fd->get(), msg.data(), msg.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(msg.size())) {
    return fail(base::sys_error(errno, "exec"), 126);
  }
  auto answer = read_line(fd->get(), kExecAnswerMs);
  watch.mark("runc-exec");
  DIND_LOG(kDebug) << "exec " << e->id.substr(0, 12) << " (ms:" << watch.laps() << ")";
  if (!answer) {
    return fail(std::move(answer).error(), 126);
  }
  auto exec_pid = runtime::shim_protocol::decode_exec_answer(*answer);
  if (!exec_pid) {
    const std::string why = exec_pid.error().message;
    // As for `docker run`: 127 when the command is missing, else 126.
    const bool missing = why.find("executable file not found") != std::string::npos ||
                         (why.find("exec: \"") != std::string::npos &&
                          why.find("no such file or directory") != std::string::npos);
    return fail(make_error(ErrorKind::kInternal, "OCI runtime exec failed: " + why + ": unknown"),
                missing ? 127 : 126);
  }
  return Launched{std::move(*fd), std::move(*target), *exec_pid};
}

base::Status Execs::start(const std::string& id, const StartOptions& o,
                          std::shared_ptr<base::RawStream> client) {
  DIND_ASSIGN_OR_RETURN(auto e, find(id));
  {
    std::lock_guard lock(mu_);
    if (e->started) {
      return make_error(ErrorKind::kConflict, "Error: Exec command " + e->id +
                                                  (e->running ? " is already running"
                                                              : " has already run"));
    }
    e->started = true;
    if (o.tty) {
      e->tty = *o.tty;
    }
    if (o.rows > 0 && o.cols > 0) {
      e->rows = o.rows;
      e->cols = o.cols;
    }
  }
  int fail_code = 126;
  auto launched = launch(*e, client != nullptr, fail_code);
  if (!launched) {
    std::lock_guard lock(mu_);
    e->exit_code = fail_code;
    e->touched = std::chrono::steady_clock::now();
    return std::move(launched).error();
  }
  containers_->publish(e->container_id, "exec_start: " + command_line(e->args), {{"execID", e->id}});
  auto& target = launched->target;
  auto& fd = launched->fd;
  auto* exec_pid = &launched->pid;
  int rows = 0;
  int cols = 0;
  {
    std::lock_guard lock(mu_);
    e->pid = *exec_pid;
    e->running = true;
    e->generation = target.generation;
    e->bundle = target.bundle;
    e->socket = target.socket;
    e->touched = std::chrono::steady_clock::now();
    rows = e->rows;
    cols = e->cols;
  }
  if (e->tty && rows > 0 && cols > 0 && (o.rows != rows || o.cols != cols)) {
    (void)shim_resize(target.socket, rows, cols, e->id);  // a resize that came first
  }
  if (!client) {
    return {};  // detached: the shim keeps the process and records its exit
  }
  std::weak_ptr<Execs> weak = shared_from_this();
  // With a TTY, the detach keys (the exec's, else ctrl-p ctrl-q) end the
  // client's stream and leave the process running, as dockerd does.
  std::optional<std::string> keys;
  if (e->tty) {
    keys = e->detach_keys.empty() ? kDefaultDetachKeys : *parse_detach_keys(e->detach_keys);
  }
  splice(scheduler_->adopt(std::move(fd)), client, e->attach_stdin, [weak, e] {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mu_);
      self->refresh_locked(*e);
    }
  }, keys);
  return {};
}

base::Result<ExecView> Execs::inspect(const std::string& id) const {
  DIND_ASSIGN_OR_RETURN(auto e, find(id));
  std::lock_guard lock(mu_);
  refresh_locked(*e);
  ExecView v;
  v.id = e->id;
  v.container_id = e->container_id;
  v.running = e->running;
  v.exit_code = e->exit_code;
  v.pid = e->pid;
  v.config.cmd = e->args;
  v.config.env = e->env;
  v.config.user = e->user;
  v.config.working_dir = e->working_dir;
  v.config.detach_keys = e->detach_keys;
  v.config.tty = e->tty;
  v.config.privileged = e->privileged;
  v.config.attach_stdin = e->attach_stdin;
  v.config.attach_stdout = e->attach_stdout;
  v.config.attach_stderr = e->attach_stderr;
  return v;
}

base::Status Execs::resize(const std::string& id, int rows, int cols) {
  if (rows < 0 || cols < 0 || rows > 65535 || cols > 65535) {
    return make_error(ErrorKind::kInvalidArgument, "invalid terminal size " +
                                                       std::to_string(rows) + "x" +
                                                       std::to_string(cols));
  }
  DIND_ASSIGN_OR_RETURN(auto e, find(id));
  fs::path socket;
  {
    std::lock_guard lock(mu_);
    refresh_locked(*e);
    if (!e->running) {
      if (!e->started) {
        e->rows = rows;  // applied at the start
        e->cols = cols;
        return {};
      }
      if (e->pid == 0 && !e->exit_code) {
        e->rows = rows;  // starting now: applied once it runs
        e->cols = cols;
        return {};
      }
      return make_error(ErrorKind::kConflict, "Exec " + e->id + " is not running");
    }
    if (!e->tty) {
      return make_error(ErrorKind::kConflict, "Exec " + e->id + " was not started with a TTY");
    }
    e->rows = rows;
    e->cols = cols;
    socket = e->socket;
  }
  if (auto st = shim_resize(socket, rows, cols, id); !st) {
    return make_error(ErrorKind::kInternal, "resizing the terminal of exec " + id + " failed");
  }
  return {};
}

base::Result<Execs::ProbeResult> Execs::probe(const std::string& container_id,
                                              const std::vector<std::string>& args,
                                              std::chrono::milliseconds timeout, size_t max_output) {
  Exec e;
  e.id = base::random_hex(64);
  e.container_id = container_id;
  e.args = args;
  e.attach_stdout = true;
  e.attach_stderr = true;
  int fail_code = 126;
  DIND_ASSIGN_OR_RETURN(auto launched, launch(e, true, fail_code));
  const fs::path files = launched.target.bundle / "exec" / e.id;
  base::UniqueFd pidfd(base::pidfd_open(launched.pid));
  // The stream is stdcopy frames; the output is their payloads, in order.
  ProbeResult result;
  std::string pending;
  auto take = [&](const char* p, size_t n) {
    pending.append(p, n);
    while (pending.size() >= 8) {
      const size_t len = (static_cast<size_t>(static_cast<uint8_t>(pending[4])) << 24) |
                         (static_cast<size_t>(static_cast<uint8_t>(pending[5])) << 16) |
                         (static_cast<size_t>(static_cast<uint8_t>(pending[6])) << 8) |
                         static_cast<size_t>(static_cast<uint8_t>(pending[7]));
      if (pending.size() < 8 + len) {
        break;
      }
      if (result.output.size() < max_output) {
        result.output.append(pending, 8, std::min(len, max_output - result.output.size()));
      }
      pending.erase(0, 8 + len);
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  std::chrono::steady_clock::time_point hard_stop{};
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (!timed_out && now >= deadline) {
      // Past its time: killed (through its pidfd, never a recycled pid).
      timed_out = true;
      if (pidfd.valid()) {
        (void)base::pidfd_signal(pidfd.get(), SIGKILL);
      }
      hard_stop = now + std::chrono::seconds(5);
    }
    if (timed_out && now >= hard_stop) {
      break;  // the stream stays open (a child holds it): give up on it
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        (timed_out ? hard_stop : deadline) - now);
    pollfd p{launched.fd.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, wait.count())));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      continue;
    }
    char buf[8192];
    const ssize_t n = ::read(launched.fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      break;  // the shim closed the stream after recording the exit
    }
    take(buf, static_cast<size_t>(n));
  }
  if (!timed_out) {
    auto text = base::read_file(files.string() + ".exit", 4096);
    const json doc = text ? json::parse(*text, nullptr, false) : json();
    if (doc.is_object()) {
      result.exit_code = doc.value("ExitCode", 255);
    } else {
      result.exit_code = 137;  // the container stopped under it
    }
  }
  for (const char* ext : {".json", ".exit", ".pid", ".log"}) {
    ::unlink((files.string() + ext).c_str());
  }
  return result;
}

}  // namespace dind::engine
