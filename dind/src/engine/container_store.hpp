#pragma once
// The saved form of a container (<data-root>/containers/<id>/config.v2.json):
// encode and decode of the record, with a schema version. A record written
// by a newer engine (a higher SchemaVersion) is refused, never rewritten in
// an older shape; a record without one is the original format (version 0)
// and is upgraded at its next save. Pure; unit-tested.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "container_record.hpp"
#include "dind/base/result.hpp"

namespace dind::engine {

constexpr int kContainerSchema = 1;

nlohmann::json encode_record(const Containers::Container& c);
// State.Health as inspect shows it (and the record keeps it).
nlohmann::json encode_health_state(const HealthState& h);
HealthState decode_health_state(const nlohmann::json& doc);
// `dir_name`: the directory the record was found in (its ID must match).
base::Result<std::shared_ptr<Containers::Container>> decode_record(const nlohmann::json& doc,
                                                                   const std::string& dir_name);

}  // namespace dind::engine
