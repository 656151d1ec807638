#include <catch2/catch.hpp>
#include <map>

#include "dind/build/shell_word.hpp"

using namespace dind::build;

namespace {

// The environment of buildkit's own lexer tests, plus a few.
Lookup test_env() {
  static const std::map<std::string, std::string, std::less<>> env = {
      {"PWD", "/home"},        {"SHELL", "bash"},
      {"KOREAN", "한국어"},    {"NULL", ""},
      {"space", "abc  def"},   {"leading", "  ab c"},
      {"trailing", "ab c   "}, {"path", "/usr/local/bin/app.tar.gz"},
  };
  return [](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

struct Row {
  std::string in;
  std::string word;                // expand_word
  std::vector<std::string> words;  // expand_words
};

}  // namespace

TEST_CASE("expand_word and expand_words follow Docker's shell lexer", "[build][shell_word]") {
  const Row rows[] = {
      // plain words, blanks and quotes
      {"hello", "hello", {"hello"}},
      {"hello there     ", "hello there     ", {"hello", "there"}},
      {"hello\\ there", "hello there", {"hello there"}},
      {"hello\" there  \"", "hello there  ", {"hello there  "}},
      {"hello\\\" there", "hello\" there", {"hello\"", "there"}},
      {"he'll'o", "hello", {"hello"}},
      {"he\\'llo", "he'llo", {"he'llo"}},
      {"a \"\" b", "a  b", {"a", "b"}},
      {"\"''\"", "''", {"''"}},
      {"'\"hello\"'", "\"hello\"", {"\"hello\""}},
      {"안'녕'하세요", "안녕하세요", {"안녕하세요"}},
      // escapes: outside quotes any character; in double quotes only " $ and \;
      // in single quotes none
      {"abc\\tdef", "abctdef", {"abctdef"}},
      {"\"abc\\tdef\"", "abc\\tdef", {"abc\\tdef"}},
      {"\"abc\\\\tdef\"", "abc\\tdef", {"abc\\tdef"}},
      {"'abc\\tdef'", "abc\\tdef", {"abc\\tdef"}},
      {"'hello\\'", "hello\\", {"hello\\"}},
      {"hello\\", "hello", {"hello"}},
      {"hello\\\\", "hello\\", {"hello\\"}},
      {"\"he\\$PWD\"", "he$PWD", {"he$PWD"}},
      {"he\\$PWD", "he$PWD", {"he$PWD"}},
      {"'he\\$PWD'", "he\\$PWD", {"he\\$PWD"}},
      {"he\\\\$PWD", "he\\/home", {"he\\/home"}},
      {"\\${}", "${}", {"${}"}},
      // variables: unset is empty, $1 and special parameters are never set
      {"$PWD", "/home", {"/home"}},
      {"he$PWD", "he/home", {"he/home"}},
      {"he${PWD}xx", "he/homexx", {"he/homexx"}},
      {"he${hi}xx", "hexx", {"hexx"}},
      {"he$pwd.", "he.", {"he."}},
      {"he$1x", "hex", {"hex"}},
      {"$.", "$.", {"$."}},
      {"a$", "a$", {"a$"}},
      {"$@$*$#$?$-$$$!$0", "", {}},
      {"$KOREAN", "한국어", {"한국어"}},
      {"'$PWD'", "$PWD", {"$PWD"}},
      {"\"he'$PWD'\"", "he'/home'", {"he'/home'"}},
      {"${aaa}}", "}", {"}"}},
      // an unquoted value splits into words, a quoted one does not
      {"hello${space}bye", "helloabc  defbye", {"helloabc", "defbye"}},
      {"hello\"${space}\"bye", "helloabc  defbye", {"helloabc  defbye"}},
      {"hello${leading}def", "hello  ab cdef", {"hello", "ab", "cdef"}},
      {"hello${trailing}d", "helloab c   d", {"helloab", "c", "d"}},
      {"$NULL", "", {}},
      {"\"$NULL\"", "", {}},
      // ${VAR:-word} ${VAR-word}: word when unset or empty / unset
      {"he${XXX:-000}xx", "he000xx", {"he000xx"}},
      {"he${PWD:-000}xx", "he/homexx", {"he/homexx"}},
      {"he${NULL:-000}xx", "he000xx", {"he000xx"}},
      {"he${NULL-000}xx", "hexx", {"hexx"}},
      {"he${XXX-000}xx", "he000xx", {"he000xx"}},
      {"he${XXX:-$PWD}xx", "he/homexx", {"he/homexx"}},
      {"he${XXX:-${PWD:-yyy}}xx", "he/homexx", {"he/homexx"}},
      {"he${XXX:-${YYY:-yyy}}xx", "heyyyxx", {"heyyyxx"}},
      {"${aaa:-bbb {foo}", "bbb {foo", {"bbb", "{foo"}},
      // Docker splits a substitution's result even when its word was quoted
      {"${aaa:-\"b  c\"}", "b  c", {"b", "c"}},
      {"he${XXX:-\\$PWD:}xx", "he$PWD:xx", {"he$PWD:xx"}},
      {"he${XXX:-\\${PWD}z}xx", "he${PWDz}xx", {"he${PWDz}xx"}},
      {"${1:-bbb}", "bbb", {"bbb"}},
      // ${VAR:+word} ${VAR+word}: word when set and non-empty / set
      {"he${XXX:+000}xx", "hexx", {"hexx"}},
      {"he${PWD:+000}xx", "he000xx", {"he000xx"}},
      {"he${NULL:+000}xx", "hexx", {"hexx"}},
      {"he${NULL+000}xx", "he000xx", {"he000xx"}},
      {"he${PWD:+${SHELL}}xx", "hebashxx", {"hebashxx"}},
      {"he${PWD:+${PWD}:}xx", "he/home:xx", {"he/home:xx"}},
      // ${VAR:?msg} ${VAR?msg}: the value when set (and non-empty)
      {"he${PWD:?}", "he/home", {"he/home"}},
      {"he${NULL?}", "he", {"he"}},
      // ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat} ${VAR/pat/r} ${VAR//pat/r}
      {"${path#*/}", "usr/local/bin/app.tar.gz", {"usr/local/bin/app.tar.gz"}},
      {"${path##*/}", "app.tar.gz", {"app.tar.gz"}},
      {"${path%.*}", "/usr/local/bin/app.tar", {"/usr/local/bin/app.tar"}},
      {"${path%%.*}", "/usr/local/bin/app", {"/usr/local/bin/app"}},
      {"${path#/usr}", "/local/bin/app.tar.gz", {"/local/bin/app.tar.gz"}},
      {"${path%x}", "/usr/local/bin/app.tar.gz", {"/usr/local/bin/app.tar.gz"}},
      {"${path%?z}", "/usr/local/bin/app.tar.", {"/usr/local/bin/app.tar."}},
      {"${XXX#a}", "", {}},
      {"${SHELL/a/X}", "bXsh", {"bXsh"}},
      {"${space// /_}", "abc__def", {"abc__def"}},
      {"${path//\\//:}", ":usr:local:bin:app.tar.gz", {":usr:local:bin:app.tar.gz"}},
      {"${SHELL/*/X}", "X", {"X"}},
      {"${SHELL//x/y}", "bash", {"bash"}},
  };
  const Lookup env = test_env();
  for (const Row& r : rows) {
    INFO(r.in);
    auto word = expand_word(r.in, env);
    REQUIRE(word.ok());
    CHECK(*word == r.word);
    auto words = expand_words(r.in, env);
    REQUIRE(words.ok());
    CHECK(*words == r.words);
  }
}

TEST_CASE("expand_word with the backtick escape", "[build][shell_word]") {
  const Row rows[] = {
      {"c:\\windows", "c:\\windows", {"c:\\windows"}},
      {"a` b", "a b", {"a b"}},
      {"`$PWD", "$PWD", {"$PWD"}},
      {"\"a`\"b\"", "a\"b", {"a\"b"}},
      {"\"a\\\"", "a\\", {"a\\"}},
      {"$PWD\\x", "/home\\x", {"/home\\x"}},
  };
  const Lookup env = test_env();
  for (const Row& r : rows) {
    INFO(r.in);
    auto word = expand_word(r.in, env, '`');
    REQUIRE(word.ok());
    CHECK(*word == r.word);
    auto words = expand_words(r.in, env, '`');
    REQUIRE(words.ok());
    CHECK(*words == r.words);
  }
}

TEST_CASE("expand_word errors carry Docker's messages", "[build][shell_word]") {
  struct Bad {
    std::string in;
    std::string message;
  };
  const Bad rows[] = {
      {"he${XXX:?}", "failed to process \"he${XXX:?}\": XXX: is not allowed to be unset"},
      {"${XXX?}", "failed to process \"${XXX?}\": XXX: is not allowed to be unset"},
      {"${NULL:?}", "failed to process \"${NULL:?}\": NULL: is not allowed to be empty"},
      {"${XXX:?must be set}", "failed to process \"${XXX:?must be set}\": XXX: must be set"},
      {"${XXX?${PWD} needed}", "failed to process \"${XXX?${PWD} needed}\": XXX: /home needed"},
      {"hello\" there",
       "failed to process \"hello\\\" there\": unexpected end of statement while "
       "looking for matching double-quote"},
      {"he'llo",
       "failed to process \"he'llo\": unexpected end of statement while looking for "
       "matching single-quote"},
      {"he\\\\'llo",
       "failed to process \"he\\\\\\\\'llo\": unexpected end of statement while "
       "looking for matching single-quote"},
      {"${}", "failed to process \"${}\": syntax error: bad substitution"},
      {"he${}xx", "failed to process \"he${}xx\": syntax error: bad substitution"},
      {"${:}", "failed to process \"${:}\": syntax error: bad substitution"},
      {"${:-bbb}", "failed to process \"${:-bbb}\": syntax error: bad substitution"},
      {"${{aaa}", "failed to process \"${{aaa}\": syntax error: bad substitution"},
      {"${", "failed to process \"${\": syntax error: missing '}'"},
      {"he${PWD", "failed to process \"he${PWD\": syntax error: missing '}'"},
      {"${aaa:-bbb", "failed to process \"${aaa:-bbb\": syntax error: missing '}'"},
      {"${aaa:-bbb ${foo}", "failed to process \"${aaa:-bbb ${foo}\": syntax error: missing '}'"},
      {"${aaa:-'b}", "failed to process \"${aaa:-'b}\": syntax error: missing '}'"},
      {"he${.}", "failed to process \"he${.}\": unsupported modifier (.) in substitution"},
      {"he${PWD:=000}",
       "failed to process \"he${PWD:=000}\": unsupported modifier (:=) in "
       "substitution"},
      {"he${XXX:YYY}",
       "failed to process \"he${XXX:YYY}\": unsupported modifier (:Y) in "
       "substitution"},
      {"${PWD:#x}", "failed to process \"${PWD:#x}\": unsupported modifier (:#) in substitution"},
      {"${PWD:%x}", "failed to process \"${PWD:%x}\": unsupported modifier (:%) in substitution"},
      {"${PWD#\\x}",
       "failed to process \"${PWD#\\\\x}\": invalid pattern (\\x) in substitution: "
       "invalid escape '\\x'"},
      {"${PWD/a}", "failed to process \"${PWD/a}\": syntax error: missing '/' in ${}"},
      {"${PWD/a/b", "failed to process \"${PWD/a/b\": syntax error: missing '}'"},
  };
  const Lookup env = test_env();
  for (const Bad& r : rows) {
    INFO(r.in);
    auto word = expand_word(r.in, env);
    REQUIRE_FALSE(word.ok());
    CHECK(word.error().kind == dind::base::ErrorKind::kInvalidArgument);
    CHECK(word.error().message == r.message);
    CHECK_FALSE(expand_words(r.in, env).ok());
  }
}

TEST_CASE("expand_word with no environment", "[build][shell_word]") {
  CHECK(expand_word("a${X:-b}$Y", Lookup()).value() == "ab");
  CHECK(expand_words("$X a", Lookup()).value() == std::vector<std::string>{"a"});
}
