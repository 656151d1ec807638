// .dockerignore with moby/patternmatcher's semantics: ignorefile.ReadAll
// cleans the lines, patternmatcher.New checks them with filepath.Match, and
// MatchesOrParentMatches decides, the last matching pattern winning. Each
// pattern takes one of patternmatcher's four forms: exact, prefix (`a/**`),
// suffix (`**/a`) or a regexp, which we match with our own small matcher of
// the same language instead of a regexp engine.

#include "dind/build/dockerignore.hpp"

#include <algorithm>

#include "go_filepath.hpp"
#include "shell_lex.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace detail {

// One piece of patternmatcher's regexp.
struct GlobToken {
  enum class Op {
    kLiteral,  // one character
    kStar,     // [^/]*
    kOne,      // [^/]
    kAnyDirs,  // (.*/)?
    kAnyAll,   // .*
    kClass,    // [a-z], [^abc]
  } op = Op::kLiteral;
  std::string literal;
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;
};

struct CompiledPattern {
  enum class Kind { kExact, kPrefix, kSuffix, kRegexp } kind = Kind::kExact;
  std::string text;
  std::vector<GlobToken> tokens;
};

}  // namespace detail

namespace {
using detail::class_char;
using detail::clean_path;
using detail::CompiledPattern;
using detail::decode_rune;
using detail::GlobToken;
using detail::go_match;

// strings.TrimSpace, ASCII part.
std::string_view trim_space(std::string_view s) {
  const auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string> split_slash(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      return parts;
    }
    start = slash + 1;
  }
}

// ---- patternmatcher's compiled patterns ----

// A class of a pattern that filepath.Match accepted: `[`, `^`?, ranges, `]`.
GlobToken read_class(std::string_view& p) {
  GlobToken tok;
  tok.op = GlobToken::Op::kClass;
  tok.negated = !p.empty() && p[0] == '^';
  if (tok.negated) {
    p.remove_prefix(1);
  }
  while (!p.empty() && !(p[0] == ']' && !tok.ranges.empty())) {
    auto lo = class_char(p);
    if (!lo) {
      break;  // unreachable for a checked pattern
    }
    char32_t hi = *lo;
    if (!p.empty() && p[0] == '-') {
      p.remove_prefix(1);
      hi = class_char(p).value_or(hi);
    }
    tok.ranges.emplace_back(*lo, hi);
  }
  if (!p.empty()) {
    p.remove_prefix(1);  // ']'
  }
  return tok;
}

void add_literal(std::vector<GlobToken>& tokens, std::string_view& p) {
  const size_t n = std::max<size_t>(1, decode_rune(p).second);
  GlobToken tok;
  tok.literal = std::string(p.substr(0, n));
  tokens.push_back(std::move(tok));
  p.remove_prefix(n);
}

// Pattern.compile: `**` at the start makes a suffix match, `**` at the end
// of a plain pattern a prefix match, a plain pattern an exact match, and
// anything else a regexp.
CompiledPattern compile(std::string_view pattern) {
  using Kind = CompiledPattern::Kind;
  using Op = GlobToken::Op;
  CompiledPattern c;
  c.text = std::string(pattern);
  std::string_view p = pattern;
  for (bool first = true; !p.empty(); first = false) {
    const char ch = p[0];
    if (ch == '*' && p.size() > 1 && p[1] == '*') {
      p.remove_prefix(p.size() > 2 && p[2] == '/' ? 3 : 2);
      if (p.empty()) {
        c.kind = c.kind == Kind::kExact ? Kind::kPrefix : Kind::kRegexp;
        c.tokens.push_back({Op::kAnyAll, {}, false, {}});
      } else {
        c.kind = Kind::kRegexp;
        c.tokens.push_back({Op::kAnyDirs, {}, false, {}});
      }
      c.kind = first ? Kind::kSuffix : c.kind;
    } else if (ch == '*' || ch == '?') {
      c.kind = Kind::kRegexp;
      c.tokens.push_back({ch == '*' ? Op::kStar : Op::kOne, {}, false, {}});
      p.remove_prefix(1);
    } else if (ch == '\\' && p.size() > 1) {
      c.kind = Kind::kRegexp;
      p.remove_prefix(1);
      add_literal(c.tokens, p);
    } else if (ch == '[') {
      c.kind = Kind::kRegexp;
      p.remove_prefix(1);
      c.tokens.push_back(read_class(p));
    } else {
      c.kind = ch == ']' ? Kind::kRegexp : c.kind;
      add_literal(c.tokens, p);
    }
  }
  return c;
}

bool in_class(const GlobToken& tok, std::string_view ch) {
  const char32_t r = decode_rune(ch).first;
  bool in = false;
  for (const auto& [lo, hi] : tok.ranges) {
    in = in || (lo <= r && r <= hi);
  }
  return in != tok.negated;
}

// Whether tokens[ti..] match all of chars[si..]; failed states remembered.
bool match_tokens(const std::vector<GlobToken>& tokens, const std::vector<std::string>& chars,
                  size_t ti, size_t si, std::vector<unsigned char>& failed) {
  if (ti == tokens.size()) {
    return si == chars.size();
  }
  unsigned char& seen = failed[ti * (chars.size() + 1) + si];
  if (seen != 0) {
    return false;
  }
  const GlobToken& tok = tokens[ti];
  bool ok = false;
  switch (tok.op) {
    case GlobToken::Op::kLiteral:
    case GlobToken::Op::kOne:
    case GlobToken::Op::kClass: {
      const bool one =
          si < chars.size() && (tok.op == GlobToken::Op::kLiteral ? chars[si] == tok.literal
                                : tok.op == GlobToken::Op::kOne   ? chars[si] != "/"
                                                                  : in_class(tok, chars[si]));
      ok = one && match_tokens(tokens, chars, ti + 1, si + 1, failed);
      break;
    }
    case GlobToken::Op::kStar:
    case GlobToken::Op::kAnyAll:
    case GlobToken::Op::kAnyDirs: {
      // [^/]* stops at '/', .* at a newline; (.*/)? is empty or ends in '/'.
      const bool dirs = tok.op == GlobToken::Op::kAnyDirs;
      const char* stop = tok.op == GlobToken::Op::kStar ? "/" : "\n";
      ok = match_tokens(tokens, chars, ti + 1, si, failed);
      for (size_t k = si; !ok && k < chars.size() && chars[k] != stop; ++k) {
        if (!dirs || chars[k] == "/") {
          ok = match_tokens(tokens, chars, ti + 1, k + 1, failed);
        }
      }
      break;
    }
  }
  seen = ok ? 0 : 1;
  return ok;
}

bool pattern_matches(const CompiledPattern& c, std::string_view path) {
  switch (c.kind) {
    case CompiledPattern::Kind::kExact:
      return path == c.text;
    case CompiledPattern::Kind::kPrefix:  // "a/**": text without its "**"
      return path.starts_with(std::string_view(c.text).substr(0, c.text.size() - 2));
    case CompiledPattern::Kind::kSuffix: {
      const std::string_view suffix = std::string_view(c.text).substr(2);
      if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) {
        return true;
      }
      return suffix[0] == '/' && path == suffix.substr(1);  // **/foo matches "foo"
    }
    case CompiledPattern::Kind::kRegexp:
      break;
  }
  const std::vector<std::string> chars = detail::utf8_chars(path);
  std::vector<unsigned char> failed((c.tokens.size() + 1) * (chars.size() + 1), 0);
  return match_tokens(c.tokens, chars, 0, 0, failed);
}

// ignorefile.ReadAll: the patterns of a .dockerignore, cleaned.
std::vector<std::string> read_lines(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0, n = 0; pos < text.size(); ++n) {
    const size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (n == 0 && line.substr(0, 3) == "\xEF\xBB\xBF") {
      line.remove_prefix(3);
    }
    if (!line.empty() && line[0] == '#') {
      continue;  // only a '#' in the first column starts a comment
    }
    std::string_view p = trim_space(line);
    if (p.empty()) {
      continue;
    }
    const bool invert = p[0] == '!';
    if (invert) {
      p = trim_space(p.substr(1));
    }
    std::string cleaned;
    if (!p.empty()) {
      cleaned = clean_path(p);
      if (cleaned.size() > 1 && cleaned[0] == '/') {
        cleaned.erase(0, 1);
      }
    }
    out.push_back(invert ? "!" + cleaned : cleaned);
  }
  return out;
}

}  // namespace

Result<IgnoreMatcher> IgnoreMatcher::parse(std::string_view dockerignore) {
  IgnoreMatcher m;
  for (const std::string& line : read_lines(dockerignore)) {
    if (trim_space(line).empty()) {
      continue;
    }
    std::string p = clean_path(trim_space(line));  // patternmatcher.New
    Pattern pattern;
    if (p[0] == '!') {
      if (p.size() == 1) {
        return make_error(ErrorKind::kInvalidArgument, "illegal exclusion pattern: \"!\"");
      }
      pattern.exclusion = true;
      p.erase(0, 1);
      m.has_exceptions_ = true;
    }
    auto check = go_match(p, ".");
    if (!check) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "invalid .dockerignore pattern " + detail::go_quote(p) + ": " + check.error().message);
    }
    pattern.dirs = split_slash(p);
    pattern.compiled = std::make_shared<const CompiledPattern>(compile(p));
    pattern.text = std::move(p);
    m.patterns_.push_back(std::move(pattern));
  }
  return m;
}

bool IgnoreMatcher::ignored(std::string_view rel) const {
  const std::string file = clean_path(rel);
  if (file == ".") {
    return false;  // the context itself is never excluded
  }
  const size_t slash = file.rfind('/');
  const std::string parent = clean_path(slash == std::string::npos ? "" : file.substr(0, slash));
  const std::vector<std::string> parent_dirs = split_slash(parent);
  bool matched = false;
  for (const Pattern& p : patterns_) {
    // Only an exclusion can undo a match, only an inclusion make one.
    if (p.exclusion != matched) {
      continue;
    }
    bool match = pattern_matches(*p.compiled, file);
    std::string prefix;
    for (size_t i = 0; !match && parent != "." && i < parent_dirs.size(); ++i) {
      prefix += (i == 0 ? "" : "/") + parent_dirs[i];
      match = pattern_matches(*p.compiled, prefix);
    }
    if (match) {
      matched = !p.exclusion;
    }
  }
  return matched;
}

Result<bool> match_component(std::string_view pattern, std::string_view name) {
  return go_match(pattern, name);
}

}  // namespace dind::build
