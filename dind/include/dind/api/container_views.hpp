#pragma once
// Docker's JSON for what the engine shows of a container: `GET
// /containers/{id}/json` (inspect) and the entries of `GET /containers/json`
// (list), encoded from engine::ContainerView.

#include <cstdint>
#include <nlohmann/json.hpp>

#include "dind/api/version.hpp"
#include "dind/engine/container_view.hpp"

namespace dind::api {

// `v`: the request's API version (keys that come and go with it).
nlohmann::json inspect_json(const engine::ContainerView& v, ApiVersion version = kMaxApiVersion);
// `now` (seconds since the epoch) for the human Status ("Up 3 minutes").
nlohmann::json summary_json(const engine::ContainerView& v, int64_t now,
                            ApiVersion version = kMaxApiVersion);

}  // namespace dind::api
