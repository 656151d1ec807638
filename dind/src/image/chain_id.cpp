#include "dind/image/chain_id.hpp"

#include "dind/base/sha256.hpp"

namespace dind::image {

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : base::sha256_digest(out.back() + " " + d));
  }
  return out;
}

}  // namespace dind::image
