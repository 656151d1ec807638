#pragma once
// Small helpers the route files share: JSON bodies, status-only replies,
// stream content types, terminal sizes from the query.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "dind/api/http.hpp"
#include "dind/base/result.hpp"

namespace dind::api {

// Docker's JSON replies end with a newline; invalid UTF-8 is replaced.
std::string dump(const nlohmann::json& j);

// ok_status on success; an empty kFailedPrecondition means "nothing to do"
// (304 Not Modified); other errors through error_response.
Response status_response(const base::Status& st, int ok_status = 204);

// The attach/exec/logs stream type: multiplexed without a TTY from API 1.42.
const char* stream_content_type(const Request& req, bool tty);

// ?h=&w= as numbers from 0 to 65535, or nullopt.
std::optional<std::pair<int, int>> terminal_size(const Request& req);

}  // namespace dind::api
