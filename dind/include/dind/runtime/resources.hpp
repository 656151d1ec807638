#pragma once
// Resource limits: HostConfig's memory, CPU, pids, block I/O and ulimit
// settings checked with dockerd's messages, settled with its defaults, and
// turned into OCI linux.resources and process.rlimits. Pure: the host's
// facts are inputs.

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::runtime {

// Checks the resource fields of a HostConfig (at create, or the fields of an
// update) and fills dockerd's defaults: MemorySwap = 2 x Memory when unset
// (-1, unlimited, when this host cannot limit swap); PidsLimit <= 0 means
// none. kInvalidArgument with dockerd's message otherwise.
// Settings this host cannot apply but dockerd only warns about (block I/O
// weight without the blkio/io weight file) are dropped with a warning added
// to `warnings`; settings dind does not apply (real-time CPU, per-device I/O
// limits) are refused.
base::Result<model::HostConfig> settle_resources(model::HostConfig host_config,
                                                 const HostFacts& host, bool update,
                                                 std::vector<std::string>* warnings = nullptr);

// linux.resources (without the device rules) for settled resources.
nlohmann::json oci_resources(const model::Resources& resources, const HostFacts& host);

// process.rlimits: RLIMIT_NOFILE at the host's hard limit (at most 1048576)
// unless --ulimit sets it, then every --ulimit. A limit above the daemon's own
// hard limit is refused when the daemon lacks CAP_SYS_RESOURCE (runc would
// fail the start with "operation not permitted").
base::Result<nlohmann::json> oci_rlimits(const model::Resources& resources, const HostFacts& host);

// "0-2,4" -> {0,1,2,4}; nullopt for a malformed list.
std::optional<std::set<int>> parse_cpu_list(const std::string& text);

}  // namespace dind::runtime
