#pragma once
// Docker's JSON for the typed container configuration (container.hpp): the
// API decodes request bodies with it and encodes inspect's Config and
// HostConfig; the record store writes config.v2.json with it. Decoding
// follows Go's encoding/json as dockerd uses it: unknown keys are ignored,
// null is the zero value, and a value of the wrong type is refused with
// Go's message ("json: cannot unmarshal string into Go struct field
// HostConfig.Memory of type int64"). Encoding writes dockerd's key set
// (null for nil lists, omitted `omitempty` fields).

#include <nlohmann/json.hpp>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"

namespace dind::model {

// A list Go may hold as nil: null for nullopt.
nlohmann::json encode_list(const OptStrings& v);

base::Result<Config> decode_config(const nlohmann::json& j);
nlohmann::json encode_config(const Config& c);

base::Result<HostConfig> decode_host_config(const nlohmann::json& j);
nlohmann::json encode_host_config(const HostConfig& h);

base::Result<EndpointConfig> decode_endpoint_config(const nlohmann::json& j);
nlohmann::json encode_endpoint_config(const EndpointConfig& e);
// {"EndpointsConfig": {name: EndpointConfig}}.
base::Result<EndpointsConfig> decode_networking_config(const nlohmann::json& j);
nlohmann::json encode_networking_config(const EndpointsConfig& e);

// The create body: Config's fields at the top level, "HostConfig",
// "NetworkingConfig".
base::Result<CreateRequest> decode_create_request(const nlohmann::json& body);
// The exec body (ExecConfig).
base::Result<ExecConfig> decode_exec_config(const nlohmann::json& body);
// The update body: Resources' fields and "RestartPolicy" at the top level.
base::Result<UpdateRequest> decode_update_request(const nlohmann::json& body);

}  // namespace dind::model
