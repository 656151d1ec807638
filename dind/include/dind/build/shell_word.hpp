#pragma once
// Variable expansion and word splitting of Dockerfile arguments, as Docker's
// shell lexer (moby/buildkit frontend/dockerfile/shell) defines it. Pure.
//
//   $VAR ${VAR}                  the value, "" when unset
//   ${VAR:-word} ${VAR-word}     word when VAR is unset or empty (:-) / unset (-)
//   ${VAR:+word} ${VAR+word}     word when VAR is set and non-empty (:+) / set (+)
//   ${VAR:?msg}  ${VAR?msg}      an error "VAR: msg" when unset or empty / unset
//   ${VAR#pat} ${VAR##pat}       VAR without its shortest / longest prefix matching
//   ${VAR%pat} ${VAR%%pat}       ... suffix (pat: `*`, `?`, `\` escapes)
//   ${VAR/pat/r} ${VAR//pat/r}   the first / every match of pat replaced by r
//   'single'                     literal, quotes removed
//   "double"                     expands inside, quotes removed; `\` escapes
//                                only `"`, `$` and itself there
//   \x (the escape char)         x literally (`\$` is a dollar)
// `word` is itself expanded. Unknown ${...} forms are errors ("missing '}'",
// "unsupported modifier (x) in substitution"). Errors are kInvalidArgument
// with Docker's whole message: `failed to process "<word>": VAR: msg`.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::build {

// Looks a variable up: its value, or nullopt when unset.
using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

// Expands one word (quotes removed), as for ENV/LABEL values, WORKDIR, USER.
base::Result<std::string> expand_word(std::string_view word, const Lookup& env, char escape = '\\');

// Expands and splits into words on unquoted whitespace, as for COPY/ADD
// sources, EXPOSE, VOLUME and FROM.
base::Result<std::vector<std::string>> expand_words(std::string_view text, const Lookup& env,
                                                    char escape = '\\');

}  // namespace dind::build
