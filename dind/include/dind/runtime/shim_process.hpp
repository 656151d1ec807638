#pragma once
// The daemon's handle on the shim of one run, from its spawn until the
// container started: spawning (detached: its own session, an explicit fd
// list), the start handshake (created -> start -> started) and the abort.
// A ShimProcess destroyed before a successful start() aborts: the shim
// deletes the container and exits, so nothing of a failed start survives.
// Blocking; call from a worker thread.

#include <string>
#include <vector>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"
#include "dind/runtime/shim.hpp"

namespace dind::runtime {

class ShimProcess {
 public:
  struct Spawn {
    std::string exe;                    // dind-shim, or dind
    std::vector<std::string> argv0;     // {"dind-shim"} or {"dind", "shim"}
    ShimOptions options;
  };

  // Spawns the shim and waits until `runc create` is done. Errors carry
  // runc's reason the way dockerd words them ("failed to create task for
  // container: OCI runtime create failed: ...: unknown").
  static base::Result<ShimProcess> create(const Spawn& spawn, int timeout_ms);

  ShimProcess(ShimProcess&&) noexcept = default;
  ShimProcess& operator=(ShimProcess&&) noexcept = default;
  ~ShimProcess();

  int init_pid() const { return init_pid_; }
  int shim_pid() const { return shim_pid_; }

  // `runc start` through the shim. On failure the shim already deleted the
  // container ("failed to start container: OCI runtime start failed: ...").
  base::Status start(int timeout_ms);
  // After start(): the sync socket, which the caller may keep as a
  // liveness probe (the shim keeps its end open while it runs).
  base::UniqueFd release();
  // Before start(): tells the shim to delete the container and waits a
  // little for it (what the destructor does).
  void abort();

 private:
  ShimProcess() = default;
  base::UniqueFd sync_;
  int init_pid_ = 0;
  int shim_pid_ = 0;
  bool started_ = false;
};

}  // namespace dind::runtime
