#pragma once
// The listener policy of the composition root: the daemon's hosts and TLS
// settings (engine config) become the API server's listeners.

#include <string>
#include <vector>

#include "dind/api/server.hpp"
#include "dind/base/result.hpp"
#include "dind/engine/config.hpp"

namespace dind::daemon {

// Turns hosts + TLS settings into listeners, enforcing the policy: every TCP
// listener uses TLS with client verification, unless the user explicitly
// passed --tls=false (then it is plain, with a warning added to `warnings`).
base::Result<std::vector<api::Listener>> plan_listeners(const engine::DaemonConfig& config,
                                                        std::vector<std::string>& warnings);

}  // namespace dind::daemon
