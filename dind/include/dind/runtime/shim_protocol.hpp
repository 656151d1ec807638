#pragma once
// The one codec of the messages between the daemon and a shim (shim.hpp has
// the protocol in prose): both sides encode and decode through here, so the
// two can never drift apart. Pure; unit-tested, including malformed input
// (a shim's answer is input the daemon must not trust blindly).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dind/base/result.hpp"

namespace dind::runtime::shim_protocol {

// Sync channel, shim -> daemon: one report per packet.
struct Created {
  int init_pid = 0;
  int shim_pid = 0;
};
struct Failed {
  std::string reason;  // runc's
};
struct Started {};
using Report = std::variant<Created, Failed, Started>;
std::string encode(const Report& r);
// kInvalidArgument for anything else (pids must be positive).
base::Result<Report> decode_report(std::string_view packet);

// Sync channel, daemon -> shim.
enum class Order { kStart, kAbort };
std::string encode(Order o);
std::optional<Order> decode_order(std::string_view packet);

// Attach socket, client -> shim: one command at the start of a connection.
struct Attach {
  uint8_t flags = 0;  // kAttach* of shim.hpp
};
struct Resize {
  int rows = 0, cols = 0;
  std::string exec_id;  // empty: the container's terminal
};
struct Exec {
  uint8_t attach_flags = 0, exec_flags = 0;
  std::string exec_id;  // 64 lowercase hex
};
using Command = std::variant<Attach, Resize, Exec>;
std::string encode(const Command& c);
struct Decoded {
  Command command;
  size_t used = 0;  // bytes of the buffer the command took
};
// nullopt: incomplete, read more; kInvalidArgument: not a command.
base::Result<std::optional<Decoded>> decode_command(std::string_view buffer);

bool valid_exec_id(std::string_view id);

// Attach socket, shim -> client: the answer to an exec ("K<pid>\n" or
// "E<message>\n").
std::string exec_started(int pid);
std::string exec_refused(std::string_view message);
// The pid, or the shim's message as a kInternal error; kInvalidArgument when
// the line is neither.
base::Result<int> decode_exec_answer(std::string_view line);

}  // namespace dind::runtime::shim_protocol
