#pragma once
// The one error taxonomy of the project (modelled on containerd's errdefs).
// Expected failures travel as values (Result<T>); exceptions are reserved for
// start-up/config failures and programmer bugs. dindcore maps ErrorKind to an
// HTTP status in exactly one place.

#include <string>
#include <string_view>

namespace dind::base {

enum class ErrorKind {
  kInvalidArgument,     // the caller's input is malformed
  kNotFound,            // a named object does not exist
  kAlreadyExists,       // creating something that is there
  kConflict,            // the object's state forbids the operation
  kFailedPrecondition,  // the system is not in a state the operation needs
  kPermissionDenied,    // the OS refused (EACCES, EPERM, EROFS)
  kDataLoss,            // stored data is corrupt or inconsistent
  kUnavailable,         // a dependency is temporarily not answering
  kUnimplemented,       // not supported (yet)
  kInternal,            // a bug or an unexpected library failure
};

std::string_view kind_name(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  int sys_errno = 0;  // the errno behind the failure, 0 if none
  std::string message;

  // Prepends "context: " to the message, keeping kind and errno.
  Error with_context(std::string_view context) const;
};

Error make_error(ErrorKind kind, std::string message);
// An error for a failed system call: kind derived from errno, message ends
// with strerror(err).
Error sys_error(int err, std::string_view what);
ErrorKind kind_from_errno(int err);

}  // namespace dind::base
