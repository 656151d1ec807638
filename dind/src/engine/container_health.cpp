// The engine's side of healthchecks: which runs the monitor watches, the
// probe a run is due, and the results recorded in the container's record.

#include "container_record.hpp"
#include "dind/engine/containers.hpp"

namespace dind::engine {

namespace {

bool in_start_period(const Containers::Container& c, const HealthSettings& s) {
  return std::chrono::steady_clock::now() - c.started_steady < s.start_period;
}

}  // namespace

void Containers::on_run(std::function<void(const std::string&, uint64_t)> hook) {
  EngineLock lock(*this);
  run_hook_ = std::move(hook);
}

std::vector<std::pair<std::string, uint64_t>> Containers::runs() const {
  EngineLock lock(*this);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [id, c] : by_id_) {
    if (c->status == RunStatus::kRunning) {
      out.emplace_back(id, c->generation);
    }
  }
  return out;
}

std::optional<Containers::HealthPlan> Containers::health_plan(const std::string& id,
                                                              uint64_t generation) const {
  EngineLock lock(*this);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->generation != generation ||
      it->second->status != RunStatus::kRunning || it->second->removing) {
    return std::nullopt;
  }
  const Container& c = *it->second;
  auto settings = health_settings(c.config.healthcheck);
  if (!settings) {
    return std::nullopt;
  }
  HealthPlan plan;
  plan.args = probe_args(*settings, c.config.shell);
  plan.timeout = std::max(std::chrono::milliseconds(1),
                          std::chrono::duration_cast<std::chrono::milliseconds>(settings->timeout));
  plan.paused = c.paused;
  return plan;
}

std::optional<std::chrono::milliseconds> Containers::health_delay(const std::string& id,
                                                                  uint64_t generation) const {
  EngineLock lock(*this);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->generation != generation ||
      it->second->status != RunStatus::kRunning) {
    return std::nullopt;
  }
  const Container& c = *it->second;
  auto settings = health_settings(c.config.healthcheck);
  if (!settings) {
    return std::nullopt;
  }
  return next_probe_delay(*settings, c.health.value_or(HealthState{}), in_start_period(c, *settings));
}

std::optional<std::chrono::milliseconds> Containers::record_health(const std::string& id,
                                                                   uint64_t generation,
                                                                   const HealthResult& result) {
  EngineLock lock(*this);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->generation != generation ||
      it->second->status != RunStatus::kRunning) {
    return std::nullopt;  // the run ended while the probe ran: its result is moot
  }
  Container& c = *it->second;
  auto settings = health_settings(c.config.healthcheck);
  if (!settings) {
    return std::nullopt;
  }
  if (!c.health) {
    c.health.emplace();
  }
  const bool starting = in_start_period(c, *settings);
  const HealthStatus before = c.health->status;
  apply_probe(*c.health, result, *settings, starting);
  if (c.health->status != before) {
    emit(c, std::string("health_status: ") + health_status_name(c.health->status));
  }
  (void)save(c);
  return next_probe_delay(*settings, *c.health, starting);
}

}  // namespace dind::engine
