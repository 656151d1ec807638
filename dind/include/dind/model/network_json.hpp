#pragma once
// Docker's JSON for the network create request (network.hpp), decoded with
// Go's rules and messages as the container configuration is.

#include <nlohmann/json.hpp>

#include "dind/base/result.hpp"
#include "dind/model/network.hpp"

namespace dind::model {

base::Result<NetworkCreate> decode_network_create(const nlohmann::json& body);

}  // namespace dind::model
