// The patterns of ${VAR#...}, ${VAR%...} and ${VAR/...}. Docker turns them
// into a Go regexp (`*` -> `.*` or `.*?`, `?` -> `.`); we match the same
// language with a small backtracking matcher that keeps Go's preference
// order (leftmost start, then greedy or lazy stars), memoised so that a
// pattern with many stars stays polynomial.

#include <algorithm>

#include "shell_lex.hpp"

namespace dind::build::detail {
using base::ErrorKind;
using base::make_error;
using base::Result;

std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> chars;
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    if (lead >= 0xf0 && lead < 0xf8) {
      len = 4;
    } else if (lead >= 0xe0) {
      len = lead < 0xf0 ? 3 : 1;
    } else if (lead >= 0xc0) {
      len = 2;
    }
    for (size_t k = 1; k < len; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
        len = 1;  // a broken sequence: its lead byte stands alone
        break;
      }
    }
    chars.emplace_back(s.substr(i, len));
    i += len;
  }
  return chars;
}

std::string join_chars(const std::vector<std::string>& chars, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < chars.size(); ++i) {
    out += chars[i];
  }
  return out;
}

Result<ShellPattern> ShellPattern::compile(std::string_view pattern, bool greedy) {
  ShellPattern p;
  p.greedy_ = greedy;
  const std::vector<std::string> chars = utf8_chars(pattern);
  for (size_t i = 0; i < chars.size();) {
    const std::string& c = chars[i++];
    if (c == "*") {
      p.tokens_.push_back({Op::kStar, {}});
    } else if (c == "?") {
      p.tokens_.push_back({Op::kAny, {}});
    } else if (c == "\\") {
      // `\}` and `\/` were escapes of the ${} syntax: the character is literal.
      if (i < chars.size() && (chars[i] == "}" || chars[i] == "/")) {
        continue;
      }
      const std::string escaped = i < chars.size() ? chars[i++] : std::string();
      if (escaped != "*" && escaped != "?" && escaped != "\\") {
        return make_error(ErrorKind::kInvalidArgument, "invalid escape '\\" + escaped + "'");
      }
      p.tokens_.push_back({Op::kLiteral, escaped});
    } else {
      p.tokens_.push_back({Op::kLiteral, c});
    }
  }
  return p;
}

ShellPattern ShellPattern::reversed() const {
  ShellPattern p = *this;
  std::reverse(p.tokens_.begin(), p.tokens_.end());
  return p;
}

// The preferred end of a match of tokens_[ti..] at chars[si..], or -1. The
// outcome of a (ti, si) state does not depend on how it was reached, so a
// failure is remembered.
long ShellPattern::match_from(const std::vector<std::string>& chars, size_t ti, size_t si,
                              std::vector<unsigned char>& failed) const {
  if (ti == tokens_.size()) {
    return static_cast<long>(si);
  }
  const size_t state = ti * (chars.size() + 1) + si;
  if (failed[state] != 0) {
    return -1;
  }
  const Token& tok = tokens_[ti];
  long end = -1;
  if (tok.op == Op::kStar) {
    size_t max = si;
    while (max < chars.size() && chars[max] != "\n") {
      ++max;
    }
    for (size_t k = 0; k <= max - si && end < 0; ++k) {
      end = match_from(chars, ti + 1, greedy_ ? max - k : si + k, failed);
    }
  } else if (si < chars.size()) {
    const bool one = tok.op == Op::kAny ? chars[si] != "\n" : chars[si] == tok.literal;
    if (one) {
      end = match_from(chars, ti + 1, si + 1, failed);
    }
  }
  if (end < 0) {
    failed[state] = 1;
  }
  return end;
}

long ShellPattern::match_at(const std::vector<std::string>& chars, size_t start) const {
  std::vector<unsigned char> failed((tokens_.size() + 1) * (chars.size() + 1), 0);
  return match_from(chars, 0, start, failed);
}

std::string ShellPattern::replace(std::string_view value, std::string_view replacement,
                                  bool all) const {
  const std::vector<std::string> chars = utf8_chars(value);
  const size_t n = chars.size();
  std::vector<unsigned char> failed((tokens_.size() + 1) * (n + 1), 0);
  std::string out;
  size_t last_end = 0;
  size_t search = 0;
  while (search <= n) {
    long end = -1;
    size_t start = search;
    for (; start <= n && end < 0; ++start) {
      end = match_from(chars, 0, start, failed);
    }
    if (end < 0) {
      break;
    }
    --start;  // the loop stepped past the match's start
    const auto match_end = static_cast<size_t>(end);
    out += join_chars(chars, last_end, start);
    if (match_end > last_end || start == 0) {
      out += replacement;
    }
    last_end = match_end;
    if (!all) {
      break;
    }
    // Advance past the match, and at least one character.
    search = match_end > search ? match_end : search + 1;
  }
  out += join_chars(chars, last_end, n);
  return out;
}

}  // namespace dind::build::detail
