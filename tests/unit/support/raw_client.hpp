#pragma once
// A blocking unix-socket client for protocol tests: send exact bytes, read
// until the peer closes (or a deadline), half-close.

#include <chrono>
#include <string>

namespace testsupport {

class RawClient {
 public:
  explicit RawClient(const std::string& socket_path);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void send(const std::string& bytes);
  void shutdown_write();
  // Reads until EOF or the deadline; returns what arrived.
  std::string read_all(std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));
  // Reads until `needle` has arrived (or EOF/deadline).
  std::string read_until(const std::string& needle,
                         std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));
  bool peer_closed() const { return eof_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buffered_;
};

}  // namespace testsupport
