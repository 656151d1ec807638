#pragma once
// What the engine learns about the host once at start: cgroup controllers,
// swap accounting, CPUs, capabilities and the like (runtime::HostFacts), read
// from /proc and /sys. Blocking; called at open.

#include "dind/runtime/resources.hpp"

namespace dind::engine {

runtime::HostFacts gather_host_facts();

}  // namespace dind::engine
