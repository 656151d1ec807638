#include <catch2/catch.hpp>

#include "dind/build/dockerignore.hpp"

using namespace dind::build;

TEST_CASE(".dockerignore matches as moby/patternmatcher does", "[build][dockerignore]") {
  struct Row {
    std::string dockerignore;
    std::string path;
    bool ignored;
  };
  const Row rows[] = {
      // comments: only a '#' in the first column
      {"# comment\nfoo\n", "# comment", false},
      {"# comment\nfoo\n", "foo", true},
      {" # not a comment\n", "# not a comment", true},
      {"\\#h\n", "#h", true},
      // a pattern matches a path or one of its parent directories
      {"foo\n", "foo/bar/baz", true},
      {"foo\n", "foobar", false},
      {"foo/bar\n", "foo", false},
      {"*.md\n", "a.md", true},
      {"*.md\n", "dir/a.md", false},
      {"*/tmp\n", "a/tmp/x", true},
      {"*/tmp\n", "a/b/tmp", false},
      {"?.txt\n", "a.txt", true},
      {"?.txt\n", "ab.txt", false},
      {"é?\n", "éa", true},
      {"a.b\n", "a.b", true},
      {"a.b\n", "axb", false},
      {"a+(b)|{c}$\n", "a+(b)|{c}$", true},
      // ** at the start, in the middle, at the end
      {"**\n", "any/thing", true},
      {"**/*.md\n", "a.md", true},
      {"**/*.md\n", "a/b/c.md", true},
      {"**/node_modules\n", "node_modules", true},
      {"**/node_modules\n", "a/node_modules", true},
      {"**/node_modules\n", "a/node_modules/x/y", true},
      {"**/node_modules\n", "a/xnode_modules", false},
      {"**foo\n", "a/barfoo", true},
      {"**/[Tt]est\n", "a/b/Test", true},
      {"docs/**\n", "docs", false},
      {"docs/**\n", "docs/a", true},
      {"docs/**\n", "docs/a/b", true},
      {"docs**\n", "docsx", true},
      {"a/**/b\n", "a/b", true},
      {"a/**/b\n", "a/x/y/b", true},
      {"a/**/b\n", "a/xb", false},
      {"a/**/b\n", "a/b/c", true},
      {"a**b\n", "ab", true},
      {"a**b\n", "ax/b", true},
      {"a**b\n", "axb", false},
      {"a/**/*.go\n", "a/x/y.go", true},
      {"a/**/*.go\n", "b/x/y.go", false},
      // exceptions: the last matching pattern wins
      {"*.md\n!README.md\n", "README.md", false},
      {"*.md\n!README.md\n", "x.md", true},
      {"!README.md\n*.md\n", "README.md", true},
      {"docs\n!docs/keep.md\n", "docs/keep.md", false},
      {"docs\n!docs/keep.md\n", "docs/other.md", true},
      {"docs\n!docs/keep.md\n", "docs", true},
      {"build\n!build/keep\n", "build/keep/x", false},
      {"*\n!src\nsrc/tmp\n", "src/a.c", false},
      {"*\n!src\nsrc/tmp\n", "src/tmp/x", true},
      {"*\n!src\nsrc/tmp\n", "README", true},
      {"!*.go\n", "a.go", false},
      {"**\n!keep\n", "keep/sub", false},
      // cleaning: ./, doubled and trailing slashes, .., a leading /, blanks
      {"./tmp//x/\n", "tmp/x/y", true},
      {"build/\n", "build/a", true},
      {"/abs/path\n", "abs/path", true},
      {"a/../b\n", "b", true},
      {"a/../b\n", "a/b", false},
      {"  spaced.txt  \n", "spaced.txt", true},
      {"x\n!  /x/keep\n", "x/keep", false},
      {"src\n", "./src//x", true},
      {".\n", "x", false},
      // classes and escapes
      {"f[a-c]o\n", "fbo", true},
      {"f[a-c]o\n", "fdo", false},
      {"[^x]y\n", "ay", true},
      {"[^x]y\n", "xy", false},
      {"[!x]y\n", "!y", true},
      {"[!x]y\n", "ay", false},
      {"z\\*\n", "z*", true},
      {"z\\*\n", "zz", false},
      {"\\[a\\]\n", "[a]", true},
      {"[\\]]x\n", "]x", true},
      {"a\r\nb\r\n", "b", true},
      {"\xEF\xBB\xBF"
       "a\n",
       "a", true},
  };
  for (const Row& r : rows) {
    INFO(r.dockerignore << " ? " << r.path);
    auto m = IgnoreMatcher::parse(r.dockerignore);
    REQUIRE(m.ok());
    CHECK(m->ignored(r.path) == r.ignored);
  }
}

TEST_CASE(".dockerignore lines are cleaned as Docker reads them", "[build][dockerignore]") {
  auto m = IgnoreMatcher::parse("# c\n./a//b/\n/c\n!./d/../e\n  f  \n!  g\n\n\\#h\n**/\n");
  REQUIRE(m.ok());
  std::vector<std::string> texts;
  for (const auto& p : m->patterns()) {
    texts.push_back((p.exclusion ? "!" : "") + p.text);
  }
  CHECK(texts == std::vector<std::string>{"a/b", "c", "!e", "f", "!g", "\\#h", "**"});
  CHECK(m->patterns()[0].dirs == std::vector<std::string>{"a", "b"});
  CHECK(m->has_exceptions());
  CHECK_FALSE(m->empty());

  auto none = IgnoreMatcher::parse("# only a comment\n\n   \n");
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK_FALSE(none->has_exceptions());
  CHECK_FALSE(none->ignored("anything"));
  CHECK_FALSE(IgnoreMatcher::parse("*\n")->has_exceptions());
  // the context root itself is never ignored
  CHECK_FALSE(IgnoreMatcher::parse("*\n")->ignored("."));
}

TEST_CASE(".dockerignore refuses malformed patterns", "[build][dockerignore]") {
  struct Bad {
    std::string dockerignore;
    std::string message;
  };
  const Bad rows[] = {
      {"a/[a-\n", "invalid .dockerignore pattern \"a/[a-\": syntax error in pattern"},
      {"[\n", "invalid .dockerignore pattern \"[\": syntax error in pattern"},
      {"ok\nx[\n", "invalid .dockerignore pattern \"x[\": syntax error in pattern"},
      {"[]a]\n", "invalid .dockerignore pattern \"[]a]\": syntax error in pattern"},
      {"[a-]\n", "invalid .dockerignore pattern \"[a-]\": syntax error in pattern"},
      {"a\\\n", "invalid .dockerignore pattern \"a\\\\\": syntax error in pattern"},
      {"!\n", "illegal exclusion pattern: \"!\""},
      {"!   \n", "illegal exclusion pattern: \"!\""},
      {"!/\n", "illegal exclusion pattern: \"!\""},
  };
  for (const Bad& b : rows) {
    INFO(b.dockerignore);
    auto m = IgnoreMatcher::parse(b.dockerignore);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().kind == dind::base::ErrorKind::kInvalidArgument);
    CHECK(m.error().message == b.message);
  }
}

TEST_CASE("match_component is Go's filepath.Match", "[build][dockerignore]") {
  struct Row {
    std::string pattern;
    std::string name;
    bool match;
  };
  const Row rows[] = {
      {"*", "abc", true},     {"*", "a/b", false},     {"a*", "a", true},
      {"a*b", "axxb", true},  {"a*b", "axxbc", false}, {"a*b*c", "abxbc", true},
      {"*x", "ax/x", false},  {"?", "é", true},        {"??", "é", false},
      {"a?c", "a/c", false},  {"[a-c]", "b", true},    {"[^a-c]", "b", false},
      {"[^a-c]", "d", true},  {"[a-cx-z]", "y", true}, {"\\*", "*", true},
      {"\\*", "a", false},    {"[\\]]", "]", true},    {"[\\-]", "-", true},
      {"*.go", "x.go", true}, {"*.go", ".go", true},   {"", "", true},
      {"", "a", false},       {"abc", "abc", true},    {"abc", "abd", false},
      {"[é-ü]", "ö", true},   {"*[*]", "ab*", true},
  };
  for (const Row& r : rows) {
    INFO(r.pattern << " ~ " << r.name);
    auto m = match_component(r.pattern, r.name);
    REQUIRE(m.ok());
    CHECK(*m == r.match);
  }
  const std::string bad[] = {"[", "[a-", "[]", "a\\", "[x-]", "*[", "[]a]", "a[", "[^"};
  for (const std::string& p : bad) {
    INFO(p);
    auto m = match_component(p, "abc");
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message == "syntax error in pattern");
  }
}
