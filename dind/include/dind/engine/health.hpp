#pragma once
// Healthchecks as dockerd runs them: the settings a container's
// Config.Healthcheck comes to (defaults filled in), the probe's command, how
// one probe's result moves the state (starting, healthy, unhealthy; the
// failing streak; the last five results), and the monitor that runs probes
// on each run's schedule through native exec.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"

namespace dind::base {
class Scheduler;
class WorkerPool;
}  // namespace dind::base

namespace dind::engine {

class Containers;
class Execs;

enum class HealthStatus { kStarting, kHealthy, kUnhealthy };
const char* health_status_name(HealthStatus s);  // "starting", "healthy", "unhealthy"

struct HealthResult {
  std::string start, end;  // RFC 3339 with nanoseconds
  int exit_code = 0;       // -1: the probe did not run to its end (timeout, exec failure)
  std::string output;
  bool operator==(const HealthResult&) const = default;
};

struct HealthState {
  HealthStatus status = HealthStatus::kStarting;
  int failing_streak = 0;
  std::deque<HealthResult> log;  // the last five, oldest first
  bool operator==(const HealthState&) const = default;
};

// Docker's defaults (30 s interval and timeout, 3 retries) filled in; no
// start interval unless one is given.
struct HealthSettings {
  std::vector<std::string> test;  // {"CMD", ...} or {"CMD-SHELL", cmd}
  std::chrono::nanoseconds interval{0}, timeout{0}, start_period{0}, start_interval{0};
  int retries = 0;
};

// nullopt when the container has no healthcheck (none, an empty test, NONE).
std::optional<HealthSettings> health_settings(const std::optional<model::HealthConfig>& config);

// dockerd's create-time refusals (durations below 1 ms, negative retries,
// an unknown test kind).
base::Status check_health_config(const std::optional<model::HealthConfig>& config);

// The probe's argv: CMD's arguments, or CMD-SHELL's command through the
// container's Shell (default /bin/sh -c).
std::vector<std::string> probe_args(const HealthSettings& settings, const model::OptStrings& shell);

// One probe's result applied (dockerd's handleProbeResult): a failure inside
// the start period while still starting does not count.
void apply_probe(HealthState& state, HealthResult result, const HealthSettings& settings,
                 bool in_start_period);

// The wait before the next probe: the start interval (when one is given)
// while starting inside the start period, else the interval.
std::chrono::milliseconds next_probe_delay(const HealthSettings& settings, const HealthState& state,
                                           bool in_start_period);

// Runs the probes: each run of a container with a healthcheck is watched
// from its start until it ends (the run's generation changes).
class HealthMonitor : public std::enable_shared_from_this<HealthMonitor> {
 public:
  HealthMonitor(std::shared_ptr<Containers> containers, std::shared_ptr<Execs> execs,
                base::Scheduler* scheduler, base::WorkerPool* workers);
  // Hooks into the engine's starts and watches the runs already running.
  void start();
  void watch(const std::string& id, uint64_t generation);
  // No probe starts after this (the daemon stops).
  void stop();

 private:
  void schedule(const std::string& id, uint64_t generation, std::chrono::milliseconds delay);
  void probe(const std::string& id, uint64_t generation);

  std::shared_ptr<Containers> containers_;
  std::shared_ptr<Execs> execs_;
  base::Scheduler* scheduler_;
  base::WorkerPool* workers_;
  std::atomic<bool> stopped_{false};
};

}  // namespace dind::engine
