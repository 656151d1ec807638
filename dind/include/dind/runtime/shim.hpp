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
// Attach socket (SOCK_STREAM): the client sends 'a' and a flags byte
// (kAttach*), the shim answers 'K' once registered; then the shim sends the
// container's output in Docker's stdcopy frames and takes stdin bytes; the
// client's half-close ends stdin (with --stdin-once it closes the container's
// stdin). With a TTY the output goes out raw, one stream. A client that
// sends 'r' and rows, cols (16-bit big-endian) resizes the terminal; the shim
// answers 'K' (or 'E') and closes. The shim closes every client after the container's output ended.

#include <cstdint>
#include <string>
#include <vector>

namespace dind::runtime {

constexpr uint8_t kAttachStdin = 1;
constexpr uint8_t kAttachStdout = 2;
constexpr uint8_t kAttachStderr = 4;

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
};

std::vector<std::string> shim_args(const ShimOptions& o);  // after "dind shim"
int shim_main(int argc, char** argv);                      // argv[0] = "shim"

}  // namespace dind::runtime
