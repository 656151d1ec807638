#pragma once
// Internal to dind/build: the shell lexer behind shell_word.hpp, with the
// switches Docker's Dockerfile parser also uses to find heredoc words
// (quotes and escapes kept, unset variables left as written).

#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/build/shell_word.hpp"

namespace dind::build::detail {

struct LexOptions {
  char escape = '\\';
  bool raw_quotes = false;   // keep ' and " in the output
  bool raw_escapes = false;  // keep the escape character in the output
  bool skip_unset = false;   // leave $VAR and ${VAR...} as written when VAR is unset
};

struct Lexed {
  std::string word;                // the whole text, expanded (Docker's ProcessWord)
  std::vector<std::string> words;  // split on unquoted blanks (ProcessWords)
};

// Errors (kInvalidArgument) read as Docker's: `failed to process "<text>": <reason>`.
base::Result<Lexed> lex(std::string_view text, const Lookup& env, const LexOptions& options);

// Go's %q of a string, for messages that quote the user's text as Docker does.
std::string go_quote(std::string_view s);

// A shell pattern (`*`, `?`, `\` escapes) of ${VAR#...}, ${VAR%...} and
// ${VAR/...}, compiled once. Matching follows Go's regexp (leftmost-first,
// `*` greedy or lazy, `*` and `?` never match a newline) on UTF-8 characters.
class ShellPattern {
 public:
  // Errors: "invalid escape '\x'" (only `\*`, `\?`, `\\`, `\}` and `\/` escape).
  static base::Result<ShellPattern> compile(std::string_view pattern, bool greedy);

  // The end (in characters) of the preferred match of the pattern starting at
  // chars[start], or -1.
  long match_at(const std::vector<std::string>& chars, size_t start) const;
  // The pattern reversed, for suffix matching on reversed text.
  ShellPattern reversed() const;
  // The value with the first (or every) match replaced, as Go's
  // Regexp.ReplaceAllString does (an empty match right after a match is
  // skipped), without its `$1` templates.
  std::string replace(std::string_view value, std::string_view replacement, bool all) const;

 private:
  enum class Op { kLiteral, kAny, kStar };
  struct Token {
    Op op = Op::kLiteral;
    std::string literal;  // one UTF-8 character
  };
  long match_from(const std::vector<std::string>& chars, size_t ti, size_t si,
                  std::vector<unsigned char>& failed) const;

  std::vector<Token> tokens_;
  bool greedy_ = true;
};

// Splits UTF-8 text into characters (an invalid byte is a character of its own).
std::vector<std::string> utf8_chars(std::string_view s);
// chars[from, to) joined.
std::string join_chars(const std::vector<std::string>& chars, size_t from, size_t to);

}  // namespace dind::build::detail
