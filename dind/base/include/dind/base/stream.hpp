#pragma once
// Asynchronous byte streams shared by the API front and the engine: the sink
// of a streamed response body and the raw, bidirectional stream of a hijacked
// connection (attach, exec) or of a shim's socket. Implementations live with
// the I/O loop (api/server_*.cpp); the engine only sees these interfaces.

#include <functional>
#include <string>
#include <string_view>

namespace dind::base {

// Sink for a streamed (chunked) body. Methods may be called from any thread;
// writes are queued in order. `done(false)` means the client is gone.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual void write(std::string chunk, std::function<void(bool ok)> done = {}) = 0;
  virtual void finish() = 0;
  // Cuts the connection (after a failure once the head is out: the client
  // sees an incomplete body instead of waiting for one).
  virtual void abort() {}
  // Called once if the client disconnects before finish().
  virtual void on_close(std::function<void()> cb) = 0;
};

// The raw, bidirectional byte stream of a hijacked connection.
class RawStream {
 public:
  virtual ~RawStream() = default;
  // Delivers the next bytes; an empty view with ok=true is EOF (the client
  // half-closed); ok=false is an error or close.
  virtual void read(std::function<void(std::string_view data, bool ok)> cb) = 0;
  virtual void write(std::string data, std::function<void(bool ok)> done = {}) = 0;
  virtual void shutdown_write() = 0;  // after queued writes
  virtual void close() = 0;
};

}  // namespace dind::base
