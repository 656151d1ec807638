#pragma once
// Applies nftables scripts through libnftables (the parser `nft -f` uses),
// each as one atomic transaction, in the calling thread's netns.

#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace netsetup {

dind::base::Status nft_apply(std::string_view script);
// `nft list table ip <name>` text, or kNotFound.
dind::base::Result<std::string> nft_list_table(const std::string& name);

}  // namespace netsetup
