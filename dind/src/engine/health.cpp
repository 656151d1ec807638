#include "dind/engine/health.hpp"

#include "dind/base/log.hpp"
#include "dind/base/scheduler.hpp"
#include "dind/base/time.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/containers.hpp"
#include "dind/engine/execs.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;

namespace {
constexpr auto kDefaultInterval = std::chrono::seconds(30);
constexpr auto kDefaultTimeout = std::chrono::seconds(30);
constexpr int kDefaultRetries = 3;
constexpr size_t kKeptResults = 5;
constexpr int64_t kMinDurationNs = 1000000;  // 1 ms
}  // namespace

const char* health_status_name(HealthStatus s) {
  switch (s) {
    case HealthStatus::kStarting:
      return "starting";
    case HealthStatus::kHealthy:
      return "healthy";
    case HealthStatus::kUnhealthy:
      return "unhealthy";
  }
  return "starting";
}

std::optional<HealthSettings> health_settings(const std::optional<model::HealthConfig>& config) {
  if (!config || config->test.empty() || config->test[0] == "NONE") {
    return std::nullopt;
  }
  HealthSettings s;
  s.test = config->test;
  auto pick = [](int64_t ns, std::chrono::nanoseconds fallback) {
    return ns > 0 ? std::chrono::nanoseconds(ns) : fallback;
  };
  s.interval = pick(config->interval, kDefaultInterval);
  s.timeout = pick(config->timeout, kDefaultTimeout);
  s.start_period = pick(config->start_period, std::chrono::nanoseconds(0));
  // Only when given: dockerd 20.10 has none (25's 5 s default would slow
  // every start period down to one probe in 5 s).
  s.start_interval = pick(config->start_interval, std::chrono::nanoseconds(0));
  s.retries = config->retries > 0 ? static_cast<int>(std::min<int64_t>(config->retries, 1 << 30))
                                  : kDefaultRetries;
  return s;
}

base::Status check_health_config(const std::optional<model::HealthConfig>& config) {
  if (!config) {
    return {};
  }
  const model::HealthConfig& h = *config;
  for (const auto& [name, ns] : {std::pair{"Interval", h.interval}, std::pair{"Timeout", h.timeout},
                                 std::pair{"StartPeriod", h.start_period},
                                 std::pair{"StartInterval", h.start_interval}}) {
    if (ns != 0 && ns < kMinDurationNs) {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string(name) + " in Healthcheck cannot be less than 1ms");
    }
  }
  if (h.retries < 0) {
    return make_error(ErrorKind::kInvalidArgument, "Retries in Healthcheck cannot be negative");
  }
  if (!h.test.empty()) {
    const std::string& kind = h.test[0];
    if (kind != "NONE" && kind != "CMD" && kind != "CMD-SHELL") {
      return make_error(ErrorKind::kInvalidArgument, "unknown Healthcheck type '" + kind + "'");
    }
    if (kind != "NONE" && h.test.size() < 2) {
      return make_error(ErrorKind::kInvalidArgument, "Healthcheck " + kind + " needs a command");
    }
  }
  return {};
}

std::vector<std::string> probe_args(const HealthSettings& settings, const model::OptStrings& shell) {
  if (settings.test[0] == "CMD-SHELL") {
    std::vector<std::string> args =
        shell && !shell->empty() ? *shell : std::vector<std::string>{"/bin/sh", "-c"};
    args.push_back(settings.test.size() > 1 ? settings.test[1] : "");
    return args;
  }
  return std::vector<std::string>(settings.test.begin() + 1, settings.test.end());
}

void apply_probe(HealthState& state, HealthResult result, const HealthSettings& settings,
                 bool in_start_period) {
  const bool ok = result.exit_code == 0;
  state.log.push_back(std::move(result));
  while (state.log.size() > kKeptResults) {
    state.log.pop_front();
  }
  if (ok) {
    state.failing_streak = 0;
    state.status = HealthStatus::kHealthy;
    return;
  }
  if (in_start_period && state.status == HealthStatus::kStarting) {
    return;  // failures while starting up do not count
  }
  ++state.failing_streak;
  if (state.failing_streak >= settings.retries) {
    state.status = HealthStatus::kUnhealthy;
  }
}

std::chrono::milliseconds next_probe_delay(const HealthSettings& settings, const HealthState& state,
                                           bool in_start_period) {
  const auto wait = in_start_period && state.status == HealthStatus::kStarting &&
                            settings.start_interval.count() > 0
                        ? settings.start_interval
                        : settings.interval;
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(wait));
}

HealthMonitor::HealthMonitor(std::shared_ptr<Containers> containers, std::shared_ptr<Execs> execs,
                             base::Scheduler* scheduler, base::WorkerPool* workers)
    : containers_(std::move(containers)),
      execs_(std::move(execs)),
      scheduler_(scheduler),
      workers_(workers) {}

void HealthMonitor::start() {
  std::weak_ptr<HealthMonitor> weak = shared_from_this();
  // Called under the engine's lock: the watch itself runs later, on a worker.
  containers_->on_run([weak](const std::string& id, uint64_t generation) {
    if (auto self = weak.lock()) {
      self->workers_->post([self, id, generation] { self->watch(id, generation); });
    }
  });
  for (const auto& [id, generation] : containers_->runs()) {
    watch(id, generation);
  }
}

void HealthMonitor::watch(const std::string& id, uint64_t generation) {
  if (auto delay = containers_->health_delay(id, generation)) {
    schedule(id, generation, *delay);
  }
}

void HealthMonitor::schedule(const std::string& id, uint64_t generation, std::chrono::milliseconds delay) {
  std::weak_ptr<HealthMonitor> weak = shared_from_this();
  scheduler_->after(delay, [weak, id, generation] {
    if (auto self = weak.lock()) {
      self->workers_->post([self, id, generation] { self->probe(id, generation); });
    }
  });
}

void HealthMonitor::stop() {
  stopped_ = true;
}

void HealthMonitor::probe(const std::string& id, uint64_t generation) {
  if (stopped_) {
    return;
  }
  auto plan = containers_->health_plan(id, generation);
  if (!plan) {
    return;  // that run ended (a new one is watched from its start)
  }
  if (plan->paused) {  // frozen: no probe, and no verdict, until unpaused
    if (auto delay = containers_->health_delay(id, generation)) {
      schedule(id, generation, *delay);
    }
    return;
  }
  HealthResult result;
  result.start = base::rfc3339_nano(std::chrono::system_clock::now());
  auto ran = execs_->probe(id, plan->args, plan->timeout);
  result.end = base::rfc3339_nano(std::chrono::system_clock::now());
  if (!ran) {
    result.exit_code = -1;
    result.output = ran.error().message;
  } else if (!ran->exit_code) {
    result.exit_code = -1;
    result.output = "Health check exceeded timeout (" + base::go_duration(plan->timeout.count() * 1000000) + ")";
  } else {
    result.exit_code = *ran->exit_code;
    result.output = std::move(ran->output);
  }
  if (auto delay = containers_->record_health(id, generation, result)) {
    schedule(id, generation, *delay);
  }
}

}  // namespace dind::engine
