// The shell lexer of Dockerfile arguments, written after buildkit's
// frontend/dockerfile/shell/lex.go: the same states, the same quirks (a
// backslash inside double quotes escapes only `"`, `$` and itself; `$1` and
// the special parameters `$@ $* $# $? $- $$ $!` are variable names that are
// never set; `<<` followed by blanks is glued to the next word).

#include <optional>

#include "shell_lex.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace detail {
namespace {

constexpr int kEof = -1;

bool is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_name_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_special_param(int c) {
  switch (c) {
    case '@':
    case '*':
    case '#':
    case '?':
    case '-':
    case '$':
    case '!':
    case '0':
      return true;
    default:
      return false;
  }
}

// Accumulates the words of ProcessWords: blanks from variable values split,
// quoted or escaped text never does; an empty quoted string makes no word.
class Words {
 public:
  void add_char(char c) {
    if (!is_space(c)) {
      buf_ += c;
    } else if (!buf_.empty()) {
      words_.push_back(std::move(buf_));
      buf_.clear();
    }
  }
  void add_raw_char(char c) { buf_ += c; }
  void add_string(std::string_view s) {
    for (char c : s) {
      add_char(c);
    }
  }
  void add_raw_string(std::string_view s) { buf_ += s; }
  std::vector<std::string> take() {
    if (!buf_.empty()) {
      words_.push_back(std::move(buf_));
      buf_.clear();
    }
    return std::move(words_);
  }

 private:
  std::string buf_;
  std::vector<std::string> words_;
};

base::Error lex_error(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::move(message));
}

class Lexer {
 public:
  Lexer(std::string_view text, const Lookup& env, const LexOptions& options)
      : text_(text), env_(env), options_(options), raw_escapes_(options.raw_escapes) {}

  // Reads up to `stop` (consumed) or the end; `words` may be null.
  Result<std::string> run_until(int stop, bool raw_escapes, Words* words);

 private:
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : kEof; }
  int next() { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_++]) : kEof; }
  std::optional<std::string> get(const std::string& name) const {
    return env_ ? env_(name) : std::nullopt;
  }

  Result<std::string> single_quote();
  Result<std::string> double_quote();
  Result<std::string> dollar();
  Result<std::string> braced();
  Result<std::string> modifier(const std::string& name, int op, bool colon);
  Result<std::string> replace(const std::string& name);
  Result<std::string> trim(const std::string& value, std::string word, bool suffix);
  std::string possible_heredoc();
  std::string read_name();

  std::string_view text_;
  size_t pos_ = 0;
  const Lookup& env_;
  LexOptions options_;
  bool raw_escapes_;
};

Result<std::string> Lexer::run_until(int stop, bool raw_escapes, Words* words) {
  const bool saved_raw = raw_escapes_;
  raw_escapes_ = raw_escapes;
  std::string result;
  Words local;
  Words& w = words != nullptr ? *words : local;
  while (peek() != kEof) {
    const int ch = peek();
    if (stop != kEof && ch == stop) {
      next();
      raw_escapes_ = saved_raw;
      return result;
    }
    if (ch == '$' || ch == '<' || ch == '\'' || ch == '"') {
      Result<std::string> part = ch == '$'    ? dollar()
                                 : ch == '<'  ? Result<std::string>(possible_heredoc())
                                 : ch == '\'' ? single_quote()
                                              : double_quote();
      if (!part) {
        return std::move(part).error();
      }
      result += *part;
      if (ch == '$') {
        w.add_string(*part);  // an unquoted value splits on its blanks
      } else {
        w.add_raw_string(*part);
      }
      continue;
    }
    int c = next();
    if (c == options_.escape) {
      if (raw_escapes_) {
        w.add_raw_char(static_cast<char>(c));
        result += static_cast<char>(c);
      }
      c = next();
      if (c == kEof) {
        break;  // a trailing escape character is dropped
      }
      w.add_raw_char(static_cast<char>(c));
    } else {
      w.add_char(static_cast<char>(c));
    }
    result += static_cast<char>(c);
  }
  raw_escapes_ = saved_raw;
  if (stop != kEof) {
    return lex_error("unexpected end of statement while looking for matching " +
                     std::string(1, static_cast<char>(stop)));
  }
  return result;
}

Result<std::string> Lexer::single_quote() {
  std::string result;
  int c = next();
  if (options_.raw_quotes) {
    result += static_cast<char>(c);
  }
  while (true) {
    c = next();
    if (c == kEof) {
      return lex_error("unexpected end of statement while looking for matching single-quote");
    }
    if (c == '\'') {
      if (options_.raw_quotes) {
        result += '\'';
      }
      return result;
    }
    result += static_cast<char>(c);
  }
}

Result<std::string> Lexer::double_quote() {
  std::string result;
  int c = next();
  if (options_.raw_quotes) {
    result += static_cast<char>(c);
  }
  while (true) {
    const int p = peek();
    if (p == kEof) {
      return lex_error("unexpected end of statement while looking for matching double-quote");
    }
    if (p == '"') {
      next();
      if (options_.raw_quotes) {
        result += '"';
      }
      return result;
    }
    if (p == '$') {
      DIND_ASSIGN_OR_RETURN(std::string value, dollar());
      result += value;
      continue;
    }
    c = next();
    if (c == options_.escape) {
      if (raw_escapes_) {
        result += static_cast<char>(c);
      }
      const int after = peek();
      if (after == kEof) {
        continue;  // the loop then reports the missing quote
      }
      // Only these are escaped; any other escape character stays (Docker
      // even doubles it in raw mode).
      if (after == '"' || after == '$' || after == options_.escape) {
        c = next();
      }
    }
    result += static_cast<char>(c);
  }
}

// $NAME reads the longest run of letters, digits and '_'; a leading digit
// reads digits only; a special parameter is one character.
std::string Lexer::read_name() {
  std::string name;
  while (peek() != kEof) {
    const int c = peek();
    if (name.empty() && c >= '0' && c <= '9') {
      while (peek() >= '0' && peek() <= '9') {
        name += static_cast<char>(next());
      }
      return name;
    }
    if (name.empty() && is_special_param(c)) {
      name += static_cast<char>(next());
      return name;
    }
    if (!is_name_char(c)) {
      break;
    }
    name += static_cast<char>(next());
  }
  return name;
}

Result<std::string> Lexer::dollar() {
  next();  // '$'
  if (peek() == '{') {
    next();
    return braced();
  }
  const std::string name = read_name();
  if (name.empty()) {
    return std::string("$");
  }
  auto value = get(name);
  if (!value && options_.skip_unset) {
    return "$" + name;
  }
  return value.value_or("");
}

Result<std::string> Lexer::braced() {
  const int first = peek();
  if (first == kEof) {
    return lex_error("syntax error: missing '}'");
  }
  if (first == '{' || first == '}' || first == ':') {
    return lex_error("syntax error: bad substitution");
  }
  const std::string name = read_name();
  const int op = next();
  switch (op) {
    case '}': {
      auto value = get(name);
      if (!value && options_.skip_unset) {
        return "${" + name + "}";
      }
      return value.value_or("");
    }
    case ':':
      return modifier(name, next(), true);
    case '+':
    case '-':
    case '?':
    case '#':
    case '%':
      return modifier(name, op, false);
    case '/':
      return replace(name);
    case kEof:
      // Docker names the end of input as an unsupported modifier U+FFFD.
      return lex_error("syntax error: missing '}'");
    default:
      return lex_error("unsupported modifier (" + std::string(1, static_cast<char>(op)) +
                       ") in substitution");
  }
}

Result<std::string> Lexer::modifier(const std::string& name, int op, bool colon) {
  std::string shown = colon ? ":" : "";
  if (op != kEof) {
    shown += static_cast<char>(op);
  }
  const bool pattern_op = op == '#' || op == '%';
  if (colon && pattern_op) {
    return lex_error("unsupported modifier (" + shown + ") in substitution");
  }
  // The word is read (and expanded) before the modifier is judged.
  auto word_or = run_until('}', pattern_op, nullptr);
  if (!word_or) {
    if (peek() == kEof) {
      return lex_error("syntax error: missing '}'");
    }
    return std::move(word_or).error();
  }
  std::string word = std::move(*word_or);
  auto value = get(name);
  if (!value && options_.skip_unset) {
    return "${" + name + shown + word + "}";
  }
  const bool unset_or_null = !value || (colon && value->empty());
  switch (op) {
    case '-':
      return unset_or_null ? word : *value;
    case '+':
      return unset_or_null ? std::string() : word;
    case '?':
      if (!value) {
        return lex_error(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
      }
      if (colon && value->empty()) {
        return lex_error(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
      }
      return *value;
    case '#':
    case '%':
      return trim(value.value_or(""), word, op == '%');
    default:
      return lex_error("unsupported modifier (" + shown + ") in substitution");
  }
}

// ${VAR#pat} ${VAR##pat} drop the shortest/longest matching prefix,
// ${VAR%pat} ${VAR%%pat} the shortest/longest matching suffix.
Result<std::string> Lexer::trim(const std::string& value, std::string word, bool suffix) {
  const char op = suffix ? '%' : '#';
  const bool greedy = !word.empty() && word[0] == op;
  if (greedy) {
    word.erase(0, 1);
  }
  auto pattern = ShellPattern::compile(word, greedy);
  if (!pattern) {
    return lex_error("invalid pattern (" + word + ") in substitution: " + pattern.error().message);
  }
  std::vector<std::string> chars = utf8_chars(value);
  if (!suffix) {
    const long end = pattern->match_at(chars, 0);
    return end < 0 ? value : join_chars(chars, static_cast<size_t>(end), chars.size());
  }
  std::vector<std::string> rev(chars.rbegin(), chars.rend());
  const long end = pattern->reversed().match_at(rev, 0);
  if (end < 0) {
    return value;
  }
  return join_chars(chars, 0, chars.size() - static_cast<size_t>(end));
}

// ${VAR/pat/repl} replaces the first match, ${VAR//pat/repl} every match
// (Go's Regexp.ReplaceAllString, without its `$1` templates).
Result<std::string> Lexer::replace(const std::string& name) {
  const bool all = peek() == '/';
  if (all) {
    next();
  }
  auto pattern_text = run_until('/', true, nullptr);
  if (!pattern_text) {
    if (peek() == kEof) {
      return lex_error("syntax error: missing '/' in ${}");
    }
    return std::move(pattern_text).error();
  }
  auto replacement = run_until('}', true, nullptr);
  if (!replacement) {
    if (peek() == kEof) {
      return lex_error("syntax error: missing '}'");
    }
    return std::move(replacement).error();
  }
  auto value = get(name);
  if (!value && options_.skip_unset) {
    return "${" + name + "/" + *pattern_text + "/" + *replacement + "}";
  }
  auto pattern = ShellPattern::compile(*pattern_text, true);
  if (!pattern) {
    return lex_error("invalid pattern (" + *pattern_text +
                     ") in substitution: " + pattern.error().message);
  }
  return pattern->replace(value.value_or(""), *replacement, all);
}

std::string Lexer::possible_heredoc() {
  next();  // '<'
  if (peek() != '<') {
    return "<";
  }
  next();
  std::string result = "<<";
  while (peek() == ' ' || peek() == '\t' || peek() == '\r') {
    result += static_cast<char>(next());
  }
  return result;
}

}  // namespace

Result<Lexed> lex(std::string_view text, const Lookup& env, const LexOptions& options) {
  Lexer lexer(text, env, options);
  Words words;
  auto word = lexer.run_until(kEof, options.raw_escapes, &words);
  if (!word) {
    return lex_error("failed to process " + go_quote(text) + ": " + word.error().message);
  }
  return Lexed{std::move(*word), words.take()};
}

std::string go_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;  // printable ASCII, and UTF-8 taken as printable
        }
    }
  }
  return out + "\"";
}

}  // namespace detail

Result<std::string> expand_word(std::string_view word, const Lookup& env, char escape) {
  detail::LexOptions options;
  options.escape = escape;
  DIND_ASSIGN_OR_RETURN(detail::Lexed lexed, detail::lex(word, env, options));
  return std::move(lexed.word);
}

Result<std::vector<std::string>> expand_words(std::string_view text, const Lookup& env,
                                              char escape) {
  detail::LexOptions options;
  options.escape = escape;
  DIND_ASSIGN_OR_RETURN(detail::Lexed lexed, detail::lex(text, env, options));
  return std::move(lexed.words);
}

}  // namespace dind::build
