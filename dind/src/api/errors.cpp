#include "dind/api/errors.hpp"

#include <nlohmann/json.hpp>

namespace dind::api {
using base::ErrorKind;

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kAlreadyExists:
      return 409;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kFailedPrecondition:
      return 409;
    case ErrorKind::kPermissionDenied:
      return 403;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kUnimplemented:
      return 501;
    case ErrorKind::kDataLoss:
      return 500;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

Response error_response(int status, std::string_view message) {
  // dump() replaces invalid UTF-8 instead of throwing: messages may quote
  // client bytes.
  nlohmann::json body = {{"message", std::string(message)}};
  return Response::json(status,
                        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Response error_response(const base::Error& error) {
  return error_response(status_for(error.kind), error.message);
}

}  // namespace dind::api
