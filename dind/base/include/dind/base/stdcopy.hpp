#pragma once
// Docker's multiplexed stream framing ("stdcopy"), used on attach, exec and
// logs when there is no TTY: an 8-byte header [stream, 0, 0, 0, size BE32]
// then size bytes of payload. stream: 0 stdin, 1 stdout, 2 stderr, 3 systemerr.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dind::base {

enum class StdStream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kSystemErr = 3 };

inline constexpr const char* kMultiplexedContentType = "application/vnd.docker.multiplexed-stream";
inline constexpr const char* kRawStreamContentType = "application/vnd.docker.raw-stream";

// Frames payload; payloads over 4 GiB - 1 are split into several frames.
std::string stdcopy_frame(StdStream stream, std::string_view payload);
// The same, appended to `out` (the shim's per-client output queue).
void stdcopy_append(std::string& out, StdStream stream, std::string_view payload);

// Incremental decoder: feed() any split of the byte stream, get whole frames.
class StdcopyDecoder {
 public:
  struct Frame {
    StdStream stream;
    std::string payload;
  };
  // False on a malformed header (unknown stream id or non-zero padding);
  // the decoder is then unusable.
  bool feed(std::string_view bytes, std::vector<Frame>& out);
  bool idle() const { return buf_.empty(); }  // no partial frame pending

 private:
  std::string buf_;
  bool broken_ = false;
};

}  // namespace dind::base
