#pragma once
// Conntrack cleanup for removed port mappings: without it a UDP client that
// keeps sending keeps being DNAT-ed to the old container address. Talks
// ctnetlink (libmnl) in the calling thread's netns.

#include <vector>

#include "netsetup/nat.hpp"

namespace netsetup {

// Deletes every IPv4 conntrack entry whose original direction targets a
// mapping's host port (and host IP, if set) with its protocol, and whose
// reply comes from the mapping's container address. Returns how many.
dind::base::Result<int> flush_conntrack(const std::vector<PortMapping>& removed);

}  // namespace netsetup
