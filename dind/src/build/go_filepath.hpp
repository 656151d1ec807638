#pragma once
// Internal to dind/build: Go's path/filepath behaviour that Docker's
// .dockerignore handling relies on, for '/' paths (Unix).

#include <string>
#include <string_view>
#include <utility>

#include "dind/base/result.hpp"

namespace dind::build::detail {

// utf8.DecodeRuneInString: a broken sequence is U+FFFD of size 1; empty
// input is size 0.
std::pair<char32_t, size_t> decode_rune(std::string_view s);

// filepath.Clean: "./a//b/" -> "a/b", "a/.." -> ".", "" -> ".".
std::string clean_path(std::string_view path);

// filepath.Match; the error is ErrBadPattern, "syntax error in pattern".
base::Result<bool> go_match(std::string_view pattern, std::string_view name);

// getEsc: one possibly escaped character of a class, chunk advanced past it.
base::Result<char32_t> class_char(std::string_view& chunk);

}  // namespace dind::build::detail
