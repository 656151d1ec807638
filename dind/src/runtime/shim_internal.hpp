#pragma once
// The shim's internals (internal to runtime/), shared by the files that
// implement the Shim class: shim.cpp (start-up, the container's lifecycle and
// the poll loop), shim_attach.cpp (client connections and the container's
// output) and shim_exec.cpp (exec'd processes). Single-threaded: everything
// here runs on the shim's one thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/nsexec.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_os.hpp"
#include "dind/runtime/shim_protocol.hpp"

namespace dind::runtime::shim_detail {

namespace proto = shim_protocol;
using shim_os::listen_unix;
using shim_os::receive_master;
using shim_os::set_nonblock;
using Clock = std::chrono::steady_clock;
constexpr int kSyncFd = 3;
constexpr size_t kClientBufferLimit = 8u << 20;  // a client this far behind is dropped
constexpr size_t kStdinBufferLimit = 1u << 20;
constexpr auto kInitDrain = std::chrono::seconds(2);
// Output an exec'd process leaves in its pipes is read at its exit; a
// background child that keeps them open is not waited for longer than this.
constexpr auto kExecDrain = std::chrono::milliseconds(300);

void send_sync(const std::string& msg);
int exit_code_of(int status);

// One process's stdio as the shim holds it: read ends of its stdout and
// stderr (with a TTY `out` is the pty master and there is no `err`) and the
// write end of its stdin, all non-blocking.
struct Stdio {
  base::UniqueFd out, err, in;
  std::string in_buf;     // stdin bytes not yet written
  bool close_in = false;  // close `in` once in_buf is written
  bool tty = false;

  bool output_open() const { return out.valid() || err.valid(); }

  void flush_in();
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
bool read_stream(base::UniqueFd& fd, const std::function<void(std::string_view)>& sink);

class Shim {
 public:
  explicit Shim(ShimOptions o) : o_(std::move(o)) {}

  int run();

 private:
  // --- shim.cpp: the container's lifecycle and the loop ---
  std::string runc_log() const { return o_.bundle + "/runc.log"; }
  int runtime(const std::vector<std::string>& args, int in, int out, int err,
              const std::string& log = "") const;
  void cleanup_socket();
  void delete_container();
  void on_sync();
  void on_sync_readable();
  void reap();
  void finish();
  // Whether the kernel's OOM killer killed a process of the container: the
  // oom_kill counter of its memory cgroup (v1 memory.oom_control, v2
  // memory.events).
  bool oom_killed() const;
  // The init has exited: done once its output and every exec ended (the
  // kernel killed the execs with the pid namespace), or at the deadline.
  bool init_done() const;
  void loop();
  template <typename Add>
  static void add_stdio(Stdio& io, Add& add, std::function<void(uint8_t)> read);

  // --- shim_attach.cpp: client connections and the container's output ---
  // Queues output for one client: a stdcopy frame, or raw bytes for a TTY.
  void send_output(Client& c, uint8_t stream, std::string_view data, bool tty);
  void write_log(uint8_t stream, std::string_view line);
  // The container's own output: the log, and every attached client.
  void init_output(uint8_t stream, std::string_view data);
  void read_init(uint8_t stream);
  void flush_client(Client& c);
  // Answers and closes: an error line for a command that failed.
  void refuse(Client& c, const std::string& line);
  // Parses the command at the start of c.in; false while incomplete.
  bool on_command(const std::shared_ptr<Client>& cp);
  // Stdin bytes from a registered client.
  void on_input(Client& c, std::string_view data);
  void on_client_readable(const std::shared_ptr<Client>& cp);
  void accept_clients();
  void on_client_event(const std::shared_ptr<Client>& c, short revents);

  // --- shim_exec.cpp: exec'd processes ---
  // Runs `runc exec` for the client; on success the client is registered as
  // the exec's connection and has been told the pid.
  void start_exec(const std::shared_ptr<Client>& cp, uint8_t flags, uint8_t xflags,
                  const std::string& id);
  // The shim's own exec (nsexec.hpp); kUnimplemented sends the caller to runc.
  base::Result<NativeExec> exec_natively(const std::string& process_file, int in, int out,
                                         int err);
  // `runc exec --detach`; false after refusing the client.
  bool exec_with_runtime(Client& c, Exec& e, const std::string& files, bool want_stdin,
                         base::UniqueFd& child_in, base::UniqueFd& child_out,
                         base::UniqueFd& child_err);
  void read_exec(Exec& e, uint8_t stream);
  // Records an exec's exit and lets its client go once it has the output.
  void finish_exec(Exec& e, int code);
  void finish_execs(bool all);

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

}  // namespace dind::runtime::shim_detail
