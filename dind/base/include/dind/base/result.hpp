#pragma once
// Result<T>: a value or an Error (a small std::expected for C++20).

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "dind/base/error.hpp"

namespace dind::base {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(failed_);
    return error_;
  }
  Error&& error() && {
    assert(failed_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace dind::base

// Propagates a failed Status/Result out of the enclosing function. The
// temporary gets a unique name so that DIND_TRY may nest (in lambdas).
#define DIND_TRY_CONCAT2(a, b) a##b
#define DIND_TRY_CONCAT(a, b) DIND_TRY_CONCAT2(a, b)
#define DIND_TRY_IMPL(var, expr)     \
  do {                               \
    auto var = (expr);               \
    if (!var) {                      \
      return std::move(var).error(); \
    }                                \
  } while (false)
#define DIND_TRY(expr) DIND_TRY_IMPL(DIND_TRY_CONCAT(dind_try_r_, __COUNTER__), expr)

// `lhs = *expr` for a successful Result, else returns its error. lhs may be
// a declaration (`auto x`).
#define DIND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                     \
  if (!var) {                            \
    return std::move(var).error();       \
  }                                      \
  lhs = std::move(*var)
#define DIND_ASSIGN_OR_RETURN(lhs, expr) \
  DIND_ASSIGN_IMPL(DIND_TRY_CONCAT(dind_assign_r_, __COUNTER__), lhs, expr)
