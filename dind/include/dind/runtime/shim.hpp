#pragma once
// The per-container shim (`dind shim`): a small single-threaded process that
// outlives the daemon. It runs `runc create`, reports the pid, waits for the
// daemon to plumb the network, runs `runc start`, then owns the container's
// stdio: it writes the json-file log itself (a stopped daemon never blocks
// the container), serves attach on a unix socket, reaps (child subreaper),
// records the exit atomically in a file, runs `runc delete` and exits.
//
// Daemon <-> shim sync channel (fd 3, SOCK_SEQPACKET), one message per packet:
//   shim -> daemon  "P <init pid> <shim pid>"   created
//                   "E <message>"               failed (runc's reason)
//                   "R"                         started
//   daemon -> shim  "S" start, "A" abort (the shim deletes the container)
//
// Attach socket (SOCK_STREAM), one command per connection:
//   'a' flags          attach: flags are kAttach*; the shim answers 'K', then
//                      sends the container's output in Docker's stdcopy frames
//                      (raw with a TTY: one stream) and takes stdin bytes; the
//                      client's half-close ends its stdin (with --stdin-once and
//                      no TTY it closes the container's stdin). The shim closes every
//                      client after the container's output ended.
//   'r' rows cols len id
//                      resize (16-bit big-endian sizes) the terminal of the
//                      container (len 0) or of the exec `id`; answers 'K' or 'E'.
//   'x' flags xflags id
//                      exec (kExec* in xflags, a 64-hex id): runs the OCI
//                      process <bundle>/exec/<id>.json in the container (itself,
//                      see nsexec.hpp, or with `runc exec --detach`), answers "K<pid>\n"
//                      or "E<message>\n" (and closes), then serves the exec's
//                      streams as attach does. When the process has exited
//                      and its output drained the shim writes
//                      <bundle>/exec/<id>.exit ({"ExitCode","Pid"}, atomically)
//                      and then closes the connection. The process outlives a
//                      client that leaves (a detached exec).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dind::runtime {

// Where the shim leaves the exit status, in its bundle, when it cannot write
// its --exit-file (a full data root).
constexpr const char* kExitFallback = "exit.json";

constexpr uint8_t kAttachStdin = 1;
constexpr uint8_t kAttachStdout = 2;
constexpr uint8_t kAttachStderr = 4;
constexpr uint8_t kExecTty = 1;
constexpr uint8_t kExecStdin = 2;

// The messages above are encoded and decoded by shim_protocol.hpp only.

struct ShimOptions {
  std::string id;
  std::string bundle;     // holds config.json; runc.log and init.pid go here
  std::string runc_root;  // runc --root
  std::string runtime = "runc";
  std::string log_path;   // <id>-json.log
  std::string socket;     // attach socket path
  std::string exit_file;  // exit.json, written atomically
  bool open_stdin = false;
  bool stdin_once = false;
  bool tty = false;  // runc --console-socket; the pty master is the one stream
  std::string cgroup;  // the container's cgroupsPath: OOM kills are read there at the exit
  bool runc_exec = false;  // exec through `runc exec` rather than natively (nsexec.hpp)
};

std::vector<std::string> shim_args(const ShimOptions& o);  // after "dind shim"
int shim_main(int argc, char** argv);                      // argv[0] = "shim"

}  // namespace dind::runtime
