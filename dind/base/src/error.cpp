#include "dind/base/error.hpp"

#include <cerrno>
#include <cstring>

namespace dind::base {

std::string_view kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kAlreadyExists:
      return "already exists";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kFailedPrecondition:
      return "failed precondition";
    case ErrorKind::kPermissionDenied:
      return "permission denied";
    case ErrorKind::kDataLoss:
      return "data loss";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kUnimplemented:
      return "unimplemented";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

Error Error::with_context(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, 0, std::move(message)};
}

ErrorKind kind_from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return ErrorKind::kNotFound;
    case EEXIST:
      return ErrorKind::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return ErrorKind::kPermissionDenied;
    case EINVAL:
    case ENAMETOOLONG:
      return ErrorKind::kInvalidArgument;
    case EBUSY:
      return ErrorKind::kConflict;
    case EAGAIN:
    case ETIMEDOUT:
    case ECONNREFUSED:
      return ErrorKind::kUnavailable;
    default:
      return ErrorKind::kInternal;
  }
}

Error sys_error(int err, std::string_view what) {
  return Error{kind_from_errno(err), err, std::string(what) + ": " + std::strerror(err)};
}

}  // namespace dind::base
