#pragma once
// Reads the facts the server certificate's SANs are planned from. The only
// impure input of the planner; tests build HostFacts by hand instead.

#include "certgen/profile.hpp"

namespace certgen {

// /etc/hostname, gethostname(), the canonical name (getaddrinfo with
// AI_CANONNAME; empty when it cannot be resolved) and every address of every
// interface (getifaddrs), IPv4 and IPv6, as docker:dind's `ip -oneline addr`.
HostFacts gather_host_facts();

}  // namespace certgen
