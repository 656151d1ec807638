#pragma once
// The daemon's side of the shim's attach socket (runtime/shim.hpp has the
// protocol): connecting, resizing, reading the exec answer, and relaying a
// client's hijacked stream to and from the shim.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>

#include "dind/base/stream.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

namespace dind::engine {

base::Result<base::UniqueFd> connect_shim(const std::filesystem::path& socket);

// TIOCSWINSZ on the container's terminal (exec_id empty) or an exec's.
base::Status shim_resize(const std::filesystem::path& socket, int rows, int cols,
                         const std::string& exec_id = "");

// Reads one '\n'-terminated answer line byte by byte (nothing after it is
// consumed), waiting at most timeout_ms in all.
base::Result<std::string> read_line(int fd, int timeout_ms);

// Copies `from` into `to` until EOF or an error, one read in flight, with
// back-pressure through the write callbacks.
void pump(std::shared_ptr<base::RawStream> from, std::shared_ptr<base::RawStream> to,
          std::function<void(bool eof)> end);

// Joins a client's stream to a shim connection: the shim's output to the
// client until it ends (then `output_ended` runs and the client sees EOF),
// the client's bytes to the shim until the client half-closes (forwarded as
// a half-close when `stdin`) or leaves. Both connections close when both
// directions are done.
void splice(std::shared_ptr<base::RawStream> shim, std::shared_ptr<base::RawStream> client,
            bool stdin, std::function<void()> output_ended = {},
            std::optional<std::string> detach_keys = std::nullopt);

// dockerd's detach keys ("ctrl-p,ctrl-q", "a,ctrl-@,DEL") as bytes;
// refused as term.ToBytes refuses them ("Unknown character: 'x'").
base::Result<std::string> parse_detach_keys(const std::string& text);
// Docker's default: ctrl-p ctrl-q.
inline const std::string kDefaultDetachKeys = std::string("\x10\x11");

// Watches a client's input for the detach sequence (dockerd's escape
// proxy): bytes that may start it are held back until they do not.
class DetachScanner {
 public:
  explicit DetachScanner(std::string keys) : keys_(std::move(keys)) {}
  // The bytes to pass on; `detached` turns true once the sequence is read
  // (what follows it is dropped).
  std::string feed(std::string_view in, bool& detached);

 private:
  std::string keys_;
  size_t matched_ = 0;
};

}  // namespace dind::engine
