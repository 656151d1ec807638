#pragma once
// Exec instances: `docker exec`. The registry keeps each exec's request and
// state in memory (as dockerd does); the process runs under the container's
// shim (`runc exec --detach`), which reaps it and records its exit code in
// <bundle>/exec/<id>.exit before it closes the exec's stream.
//
// Threading: one mutex guards the table; start blocks (runc exec) and runs on
// a worker-pool thread.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "dind/base/stream.hpp"
#include "dind/base/scheduler.hpp"
#include "dind/base/result.hpp"
#include "dind/engine/containers.hpp"
#include "dind/model/container.hpp"

namespace dind::engine {

// What `docker exec inspect` shows of an exec.
struct ExecView {
  std::string id, container_id;
  bool running = false;
  std::optional<int> exit_code;  // once it ended
  int pid = 0;
  model::ExecConfig config;  // as created (the start may have set the TTY)
};

class Execs : public std::enable_shared_from_this<Execs> {
 public:
  Execs(std::shared_ptr<Containers> containers, base::Scheduler* scheduler);

  // POST /containers/{id}/exec: 409 for a container that is not running,
  // 400 without a command.
  base::Result<std::string> create(const std::string& container_ref,
                                   const model::ExecConfig& config);

  struct StartOptions {
    bool detach = false;
    std::optional<bool> tty;  // the start request may repeat it
    int rows = 0, cols = 0;   // ConsoleSize
  };
  // Starts the process; with a client, joins the client's stream to it (the
  // client sees EOF after the exit is recorded). 404 unknown, 409 started
  // before or the container stopped.
  base::Status start(const std::string& id, const StartOptions& options,
                     std::shared_ptr<base::RawStream> client);
  bool exists(const std::string& id) const;
  // Whether the exec has a TTY (the stream's content type).
  bool tty(const std::string& id) const;
  base::Result<ExecView> inspect(const std::string& id) const;
  // Before the start the size is kept for it (the CLI's first resize races
  // the start).
  base::Status resize(const std::string& id, int rows, int cols);

  // A health probe: runs args in the running container (its user, env and
  // working directory) and waits up to `timeout` for the exit; output (both
  // streams) kept up to `max_output` bytes. A probe past its timeout is
  // killed (exit_code nullopt). Blocking: call from a worker thread.
  struct ProbeResult {
    std::optional<int> exit_code;
    std::string output;
  };
  base::Result<ProbeResult> probe(const std::string& container_id, const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout, size_t max_output = 4096);

  struct Exec;  // defined in execs.cpp

 private:
  struct Launched {
    base::UniqueFd fd;  // the shim's stream of the process
    Containers::ExecTarget target;
    int pid = 0;
  };
  // Plans the process and asks the shim to start it; on failure fail_code
  // is the exit code the exec records (126, or 127 for a missing command).
  base::Result<Launched> launch(const Exec& e, bool attached, int& fail_code);
  base::Result<std::shared_ptr<Exec>> find(const std::string& id) const;
  // Reads the exit the shim recorded, or notices the container stopped.
  void refresh_locked(Exec& e) const;
  void prune_locked();

  std::shared_ptr<Containers> containers_;
  base::Scheduler* scheduler_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Exec>> by_id_;
};

}  // namespace dind::engine
