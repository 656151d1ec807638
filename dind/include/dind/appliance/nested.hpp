#pragma once
// What a privileged container needs before a container engine runs inside it
// (docker:dind's hack/dind), done by the appliance when it is PID 1:
// - cgroup v2: move every process of the container's cgroup into a child
//   ("init") and enable the available controllers for children, so that the
//   engine can create its containers' cgroups (the "no internal processes"
//   rule); v1/hybrid needs nothing;
// - mount securityfs at /sys/kernel/security when it is absent;
// - make / recursively shared, so mounts under the engine propagate;
// - a tmpfs on /tmp when /tmp is not a mount point (unless the engine's own
//   paths live under /tmp, which the tmpfs would hide).
// Each step is planned from facts (pure) and applied by a thin executor.

#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::appliance {

struct NestedFacts {
  bool cgroup2_root = false;        // /sys/fs/cgroup is a cgroup2 mount
  bool securityfs_dir = false;      // /sys/kernel/security exists
  bool securityfs_mounted = false;
  bool tmp_is_mountpoint = false;
  std::vector<std::string> engine_paths;  // data root, exec root, sockets
};

struct NestedPlan {
  bool evacuate_cgroup2 = false;
  bool mount_securityfs = false;
  bool make_root_shared = true;
  bool mount_tmp = false;
};

NestedPlan plan_nested(const NestedFacts& facts);
NestedFacts gather_nested_facts(std::vector<std::string> engine_paths);
// Applies the plan; what it did (or failed to do: every step is best effort,
// as in hack/dind) goes to `log`.
void apply_nested(const NestedPlan& plan, std::vector<std::string>& log);

}  // namespace dind::appliance
