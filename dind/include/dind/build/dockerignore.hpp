#pragma once
// .dockerignore: which paths of a build context are left out, with Docker's
// semantics (moby/patternmatcher): one pattern per line, `#` comments,
// surrounding whitespace trimmed, paths cleaned (`./a//b/` -> `a/b`, a
// leading `/` dropped), Go filepath.Match syntax (`*`, `?`, `[a-z]`, `\`
// escapes) plus `**` for any number of directories; `!pattern` re-includes.
// The last matching pattern wins, and a path is also excluded when one of its
// parent directories matches (unless a later exception re-includes it). Pure.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::build {

namespace detail {
struct CompiledPattern;  // dockerignore.cpp
}

class IgnoreMatcher {
 public:
  struct Pattern {
    std::string text;               // cleaned, without the leading '!'
    bool exclusion = false;         // a `!` line
    std::vector<std::string> dirs;  // text split on '/'
    // How it matches (patternmatcher's exact/prefix/suffix/regexp forms).
    std::shared_ptr<const detail::CompiledPattern> compiled;
  };

  // An empty matcher ignores nothing. Errors (kInvalidArgument, naming the
  // pattern): a malformed pattern ("[a-"), an exception with nothing ("!").
  static base::Result<IgnoreMatcher> parse(std::string_view dockerignore);

  // rel: a context-relative path with '/' separators and no leading "./"
  // ("src/main.c"). True when the path is excluded.
  bool ignored(std::string_view rel) const;
  // For a directory that is excluded: whether some exception could re-include
  // something below it (so a walk must still descend into it).
  bool has_exceptions() const { return has_exceptions_; }
  bool empty() const { return patterns_.empty(); }
  // The patterns in file order (comments and blank lines gone, cleaned).
  const std::vector<Pattern>& patterns() const { return patterns_; }

 private:
  std::vector<Pattern> patterns_;
  bool has_exceptions_ = false;
};

// Go's filepath.Match for one path component pattern against one name
// (`*` and `?` do not match '/'); kInvalidArgument for a malformed pattern.
base::Result<bool> match_component(std::string_view pattern, std::string_view name);

}  // namespace dind::build
