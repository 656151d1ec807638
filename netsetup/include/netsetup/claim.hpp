#pragma once
// A claim on a name that every process in a network namespace shares: a
// bridge interface, an nftables table. Two engines in one namespace that use
// the same bridge or table would tear down each other's (the second start
// would delete the first's live bridge as stale and replace its NAT table).
//
// The claim is an abstract unix socket bound in the namespace ("@dind-claim:
// KIND:NAME"): abstract names are per network namespace and vanish with the
// process (no stale lock after a crash). A note under /run/dind-claims says
// who holds it, so that the refusal can name the other engine.

#include <filesystem>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

namespace netsetup {

class Claim {
 public:
  // kind: "bridge" or "table"; owner: who we are, for the other engine's
  // message (e.g. "pid 42, data root /var/lib/dind"). kConflict when another
  // process of this namespace holds it, naming that process's owner text.
  static dind::base::Result<Claim> take(const std::string& kind, const std::string& name,
                                        const std::string& owner);
  Claim() = default;
  Claim(Claim&&) noexcept = default;
  Claim& operator=(Claim&&) noexcept;
  ~Claim();

 private:
  dind::base::UniqueFd sock_;
  std::filesystem::path note_;
};

}  // namespace netsetup
