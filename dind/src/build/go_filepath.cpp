// Go's path/filepath Clean and Match (Unix flavour, the one Docker's Linux
// daemon and CLI run), written after the Go sources' documented behaviour:
// Match reports a malformed pattern even when the name already failed to
// match, as Go 1.16 and later do.

#include "go_filepath.hpp"

namespace dind::build::detail {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

base::Error bad_pattern() {
  return make_error(ErrorKind::kInvalidArgument, "syntax error in pattern");
}

}  // namespace

std::pair<char32_t, size_t> decode_rune(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.empty()) {
    return {0xFFFD, 0};
  }
  const unsigned char lead = b(0);
  size_t len = 0;  // a continuation byte or 0xf8.. cannot lead
  if (lead < 0x80) {
    len = 1;
  } else if (lead >= 0xc0 && lead < 0xe0) {
    len = 2;
  } else if (lead >= 0xe0 && lead < 0xf0) {
    len = 3;
  } else if (lead >= 0xf0 && lead < 0xf8) {
    len = 4;
  }
  if (len == 0 || len > s.size()) {
    return {0xFFFD, 1};
  }
  char32_t r = len == 1 ? lead : lead & (0x7f >> len);
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xc0) != 0x80) {
      return {0xFFFD, 1};
    }
    r = (r << 6) | (b(i) & 0x3f);
  }
  return {r, len};
}

std::string clean_path(std::string_view path) {
  if (path.empty()) {
    return ".";
  }
  const bool rooted = path[0] == '/';
  std::string out = rooted ? "/" : "";
  size_t dotdot = out.size();  // where `..` may no longer back up
  size_t r = 0;
  while (r < path.size()) {
    const bool end1 = r + 1 == path.size() || path[r + 1] == '/';
    if (path[r] == '/' || (path[r] == '.' && end1)) {
      ++r;  // an empty or "." element
    } else if (path[r] == '.' && path[r + 1] == '.' &&
               (r + 2 == path.size() || path[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        size_t w = out.size() - 1;
        while (w > dotdot && out[w] != '/') {
          --w;
        }
        out.resize(w);
      } else if (!rooted) {
        out += out.empty() ? ".." : "/..";
        dotdot = out.size();
      }
    } else {
      if (out.size() != (rooted ? 1U : 0U)) {
        out += '/';
      }
      while (r < path.size() && path[r] != '/') {
        out += path[r++];
      }
    }
  }
  return out.empty() ? "." : out;
}

// ---- filepath.Match ----

namespace {

struct Chunk {
  bool star = false;
  std::string_view chunk;
  std::string_view rest;
};

// The next run of non-star pattern, after the stars before it.
Chunk scan_chunk(std::string_view pattern) {
  Chunk c;
  while (!pattern.empty() && pattern[0] == '*') {
    pattern.remove_prefix(1);
    c.star = true;
  }
  bool in_range = false;
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    const char ch = pattern[i];
    if (ch == '\\') {
      if (i + 1 < pattern.size()) {
        ++i;
      }
    } else if (ch == '[') {
      in_range = true;
    } else if (ch == ']') {
      in_range = false;
    } else if (ch == '*' && !in_range) {
      break;
    }
  }
  c.chunk = pattern.substr(0, i);
  c.rest = pattern.substr(i);
  return c;
}

}  // namespace

Result<char32_t> class_char(std::string_view& chunk) {
  if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') {
    return bad_pattern();
  }
  if (chunk[0] == '\\') {
    chunk.remove_prefix(1);
    if (chunk.empty()) {
      return bad_pattern();
    }
  }
  const auto [r, n] = decode_rune(chunk);
  chunk.remove_prefix(n);
  if ((r == 0xFFFD && n == 1) || chunk.empty()) {
    return bad_pattern();
  }
  return r;
}

namespace {

// A class after its '[': whether `r` is in it (chunk advanced past ']').
Result<bool> match_class(std::string_view& chunk, char32_t r) {
  const bool negated = !chunk.empty() && chunk[0] == '^';
  if (negated) {
    chunk.remove_prefix(1);
  }
  bool match = false;
  for (int n = 0;; ++n) {
    if (!chunk.empty() && chunk[0] == ']' && n > 0) {
      chunk.remove_prefix(1);
      break;
    }
    DIND_ASSIGN_OR_RETURN(char32_t lo, class_char(chunk));
    char32_t hi = lo;
    if (chunk[0] == '-') {
      chunk.remove_prefix(1);
      DIND_ASSIGN_OR_RETURN(hi, class_char(chunk));
    }
    match = match || (lo <= r && r <= hi);
  }
  return match != negated;
}

// Whether chunk matches the start of s (then s is advanced past it). After
// a mismatch the rest of the chunk is still checked for syntax, as Go does.
Result<bool> match_chunk(std::string_view chunk, std::string_view& s) {
  bool failed = false;
  while (!chunk.empty()) {
    failed = failed || s.empty();
    if (chunk[0] == '[') {
      char32_t r = 0;
      if (!failed) {
        const auto [rune, n] = decode_rune(s);
        r = rune;
        s.remove_prefix(n);
      }
      chunk.remove_prefix(1);
      DIND_ASSIGN_OR_RETURN(bool in, match_class(chunk, r));
      failed = failed || !in;
      continue;
    }
    if (chunk[0] == '?') {
      if (!failed) {
        failed = s[0] == '/';
        s.remove_prefix(decode_rune(s).second);
      }
      chunk.remove_prefix(1);
      continue;
    }
    if (chunk[0] == '\\') {
      chunk.remove_prefix(1);
      if (chunk.empty()) {
        return bad_pattern();
      }
    }
    if (!failed) {
      failed = chunk[0] != s[0];
      s.remove_prefix(1);
    }
    chunk.remove_prefix(1);
  }
  return !failed;
}

}  // namespace

Result<bool> go_match(std::string_view pattern, std::string_view name) {
  while (!pattern.empty()) {
    const Chunk c = scan_chunk(pattern);
    pattern = c.rest;
    if (c.star && c.chunk.empty()) {
      return name.find('/') == std::string_view::npos;  // a trailing star
    }
    std::string_view t = name;
    auto here = match_chunk(c.chunk, t);
    if (here.ok() && *here && (t.empty() || !pattern.empty())) {
      name = t;
      continue;
    }
    if (!here.ok()) {
      return here;
    }
    bool advanced = false;
    for (size_t i = 0; c.star && !advanced && i < name.size() && name[i] != '/'; ++i) {
      t = name.substr(i + 1);
      DIND_ASSIGN_OR_RETURN(bool ok, match_chunk(c.chunk, t));
      if (ok && (!pattern.empty() || t.empty())) {
        name = t;
        advanced = true;
      }
    }
    if (advanced) {
      continue;
    }
    // No match: still report a malformed remainder.
    while (!pattern.empty()) {
      const Chunk rest = scan_chunk(pattern);
      pattern = rest.rest;
      std::string_view none;
      DIND_TRY(match_chunk(rest.chunk, none));
    }
    return false;
  }
  return name.empty();
}

}  // namespace dind::build::detail
