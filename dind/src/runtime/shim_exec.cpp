// The shim's execs: a process started in the running container for a client
// (natively through nsexec.hpp's zygote, or with `runc exec --detach`), its
// output, and the exit file written once it has exited and drained.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/runtime/nsexec.hpp"
#include "dind/runtime/shim_os.hpp"
#include "dind/runtime/shim_protocol.hpp"
#include "shim_internal.hpp"

namespace dind::runtime::shim_detail {

void Shim::start_exec(const std::shared_ptr<Client>& cp, uint8_t flags, uint8_t xflags,
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

base::Result<NativeExec> Shim::exec_natively(const std::string& process_file, int in,
                                             int out, int err) {
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

bool Shim::exec_with_runtime(Client& c, Exec& e, const std::string& files, bool want_stdin,
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

void Shim::read_exec(Exec& e, uint8_t stream) {
  auto& fd = stream == 1 ? e.io.out : e.io.err;
  (void)read_stream(fd, [&](std::string_view d) {
    if (e.client) {
      send_output(*e.client, stream, d, e.io.tty);
    }
  });
}

void Shim::finish_exec(Exec& e, int code) {
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

void Shim::finish_execs(bool all) {
  const auto now = Clock::now();
  std::erase_if(execs_, [&](std::unique_ptr<Exec>& e) {
    if (!all && !(e->exited && (!e->io.output_open() || now >= e->deadline))) {
      return false;
    }
    finish_exec(*e, e->exited ? exit_code_of(e->status) : 137);
    return true;
  });
}

}  // namespace dind::runtime::shim_detail
