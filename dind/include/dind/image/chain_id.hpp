#pragma once
// Layer identities exactly as Docker computes them: the chain ID of layer n
// is sha256("<chain ID of n-1> <diff ID of n>"), the first layer's is its
// diff ID (image-spec, config.md "Layer ChainID"). Pure.

#include <string>
#include <vector>

namespace dind::image {

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace dind::image
