#include <catch2/catch.hpp>
#include <cerrno>

#include "dind/base/result.hpp"

using namespace dind::base;

TEST_CASE("sys_error maps errno to a kind and keeps the errno", "[base]") {
  struct Row {
    int err;
    ErrorKind kind;
  };
  const Row rows[] = {{ENOENT, ErrorKind::kNotFound},
                      {EEXIST, ErrorKind::kAlreadyExists},
                      {EACCES, ErrorKind::kPermissionDenied},
                      {EROFS, ErrorKind::kPermissionDenied},
                      {EINVAL, ErrorKind::kInvalidArgument},
                      {EBUSY, ErrorKind::kConflict},
                      {EIO, ErrorKind::kInternal}};
  for (const auto& r : rows) {
    Error e = sys_error(r.err, "open x");
    CHECK(e.kind == r.kind);
    CHECK(e.sys_errno == r.err);
    CHECK(e.message.rfind("open x: ", 0) == 0);
  }
}

TEST_CASE("with_context prefixes the message and keeps the kind", "[base]") {
  Error e = make_error(ErrorKind::kDataLoss, "bad bytes").with_context("/certs/ca/key.pem");
  CHECK(e.kind == ErrorKind::kDataLoss);
  CHECK(e.message == "/certs/ca/key.pem: bad bytes");
}

namespace {
Status fails() {
  return make_error(ErrorKind::kConflict, "no");
}
Status propagates() {
  DIND_TRY(fails());
  return make_error(ErrorKind::kInternal, "not reached");
}
}  // namespace

TEST_CASE("DIND_TRY returns the first error", "[base]") {
  Status st = propagates();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().kind == ErrorKind::kConflict);
  Result<int> r = 5;
  CHECK(*r == 5);
}
