#pragma once
// The one place where an error kind becomes an HTTP status and the
// {"message": ...} body the docker CLI prints as "Error response from daemon".

#include "dind/api/http.hpp"
#include "dind/base/error.hpp"

namespace dind::api {

int status_for(base::ErrorKind kind);
// {"message": "..."} with Content-Type exactly "application/json".
Response error_response(int status, std::string_view message);
Response error_response(const base::Error& error);

}  // namespace dind::api
