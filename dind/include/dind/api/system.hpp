#pragma once
// System endpoints: /_ping, /version, /info, /events.

#include "dind/engine/events.hpp"
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "dind/api/router.hpp"
#include "dind/base/scheduler.hpp"
#include "dind/engine/config.hpp"
#include "dind/engine/host_info.hpp"

namespace dind::api {

struct RuntimeVersion {
  std::string version;  // "1.1.5+ds1"
  std::string commit;
};
// Parses `runc --version` output.
RuntimeVersion parse_runc_version(std::string_view text);
// Runs `runc --version` (blocking; call off the I/O threads).
RuntimeVersion probe_runc_version();

struct SystemContext {
  engine::DaemonConfig config;
  engine::HostInfo host;
  std::string engine_id;
  // `runc --version`, probed in the background at start so that start-up
  // does not wait for it; empty until known.
  std::shared_future<RuntimeVersion> runc;
  RuntimeVersion runc_version() const;
  std::vector<std::string> warnings;  // shown by `docker info`
  std::vector<std::string> security_options;  // info's SecurityOptions ("name=seccomp,profile=builtin")
  base::Scheduler* scheduler = nullptr;
  engine::EventBus* events = nullptr;  // docker events (none: an empty stream)
  std::function<size_t()> image_count;  // may be empty
  // Containers with a status ("" = all); may be empty.
  std::function<size_t(const std::string&)> container_count;
};

// Headers dockerd sends on every response.
Headers common_headers();

void add_system_routes(Router& router, std::shared_ptr<const SystemContext> ctx);
// /swarm, /nodes, /services, /tasks, /secrets, /configs: dockerd's answers
// outside a swarm (503).
void add_swarm_routes(Router& router);

// Parses an events since/until value: unix seconds with an optional fraction
// ("1700000000", "1700000000.5"); nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> parse_event_time(std::string_view text);

}  // namespace dind::api
