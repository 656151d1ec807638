// One Dockerfile line -> command, flags and arguments, as buildkit's
// parser/split_command.go and parser/line_parsers.go split it. Nothing is
// expanded here; quotes stay in ENV/LABEL/ARG words for the expansion to
// remove.

#include "dockerfile_line.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "shell_lex.hpp"

namespace dind::build::detail {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

namespace {

base::Error parse_error(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::move(message));
}

// The parser's word separator, the regexp [\t\v\f\r ]+ (no newline).
bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

// strings.Split on [\t\v\f\r ]+ into at most `limit` parts (0: no limit).
std::vector<std::string> split_separators(std::string_view s, size_t limit) {
  std::vector<std::string> parts;
  if (s.empty()) {
    return parts;
  }
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    if (!is_separator(s[i]) || (limit != 0 && parts.size() + 1 == limit)) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < s.size() && is_separator(s[end])) {
      ++end;
    }
    parts.emplace_back(s.substr(start, i - start));
    start = end;
    i = end;
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

// Leading `--flag` words (extractBuilderFlags): quotes and escapes are
// removed from them; a bare `--` ends the flags and is dropped. Returns the
// rest of the line.
std::string_view extract_flags(std::string_view line, char escape,
                               std::vector<std::string>& flags) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    const bool end = pos == line.size();
    char ch = end ? 0 : line[pos];
    if (phase == kSpaces) {
      if (end) {
        break;
      }
      if (is_blank(ch)) {
        continue;
      }
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') {
        return line.substr(pos);
      }
      phase = kWord;
    }
    if (end) {
      if (word != "--" && (blank_ok || !word.empty())) {
        flags.push_back(word);
      }
      break;
    }
    if (phase == kWord) {
      if (is_blank(ch)) {
        phase = kSpaces;
        if (word == "--") {
          return line.substr(pos);
        }
        if (blank_ok || !word.empty()) {
          flags.push_back(word);
        }
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
        continue;
      }
    } else if (ch == quote) {  // kQuote
      phase = kWord;
      continue;
    }
    if (ch == escape) {
      if (pos + 1 == line.size()) {
        phase = kWord;
        continue;  // a trailing escape character is dropped
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return {};
}

// Words separated by blanks, quotes and escapes kept (parseWords): the
// ENV/LABEL `k=v` form and ARG.
std::vector<std::string> parse_words(std::string_view rest, char escape) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    const bool end = pos == rest.size();
    char ch = end ? 0 : rest[pos];
    if (phase == kSpaces) {
      if (end) {
        break;
      }
      if (is_blank(ch)) {
        continue;
      }
      phase = kWord;
    }
    if (end) {
      if (blank_ok || !word.empty()) {
        words.push_back(word);
      }
      break;
    }
    if (phase == kWord) {
      if (is_blank(ch)) {
        phase = kSpaces;
        if (blank_ok || !word.empty()) {
          words.push_back(word);
        }
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
      }
    } else if (ch == quote) {  // kQuote: the closing quote is kept
      phase = kWord;
    }
    // The escape character and what it escapes are both kept; inside single
    // quotes it is an ordinary character.
    if (ch == escape && (phase == kWord || quote != '\'')) {
      if (pos + 1 == rest.size()) {
        phase = kWord;
        continue;
      }
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  return words;
}

enum class JsonForm { kNotJson, kJson, kBadElement };

// parseJSON: a JSON array of strings, or not JSON at all (the caller falls
// back to the shell form); an array holding anything but strings is an error.
JsonForm parse_json(std::string_view rest, std::vector<std::string>& out) {
  while (!rest.empty() && is_blank(rest.front())) {
    rest.remove_prefix(1);
  }
  if (rest.empty() || rest.front() != '[') {
    return JsonForm::kNotJson;
  }
  auto doc = nlohmann::json::parse(rest.begin(), rest.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return JsonForm::kNotJson;
  }
  for (const auto& element : doc) {
    if (!element.is_string()) {
      return JsonForm::kBadElement;
    }
    out.push_back(element.get<std::string>());
  }
  return JsonForm::kJson;
}

base::Error not_string_array() {
  return parse_error("when using JSON array syntax, arrays must be comprised of strings only");
}

// RUN, CMD, ENTRYPOINT, SHELL: JSON, else the rest of the line as one string.
Status parse_maybe_json(std::string_view rest, ParsedLine& pl) {
  if (rest.empty()) {
    return {};
  }
  switch (parse_json(rest, pl.args)) {
    case JsonForm::kJson:
      pl.json = true;
      return {};
    case JsonForm::kBadElement:
      return not_string_array();
    case JsonForm::kNotJson:
      break;
  }
  pl.args = {std::string(rest)};
  return {};
}

// COPY, ADD, VOLUME: JSON, else the blank-separated words.
Status parse_maybe_json_list(std::string_view rest, ParsedLine& pl) {
  switch (parse_json(rest, pl.args)) {
    case JsonForm::kJson:
      pl.json = true;
      return {};
    case JsonForm::kBadElement:
      return not_string_array();
    case JsonForm::kNotJson:
      break;
  }
  pl.args = split_separators(rest, 0);
  return {};
}

// ENV and LABEL: `k=v k2="v 2"`, or the legacy `k value with blanks`.
Status parse_name_value(std::string_view rest, std::string_view key, char escape, ParsedLine& pl) {
  const std::vector<std::string> words = parse_words(rest, escape);
  if (words.empty()) {
    return {};
  }
  if (words[0].find('=') == std::string::npos) {
    std::vector<std::string> parts = split_separators(rest, 2);
    if (parts.size() < 2) {
      return parse_error(std::string(key) + " must have two arguments");
    }
    pl.args = std::move(parts);
    return {};
  }
  for (const std::string& word : words) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos) {
      return parse_error("Syntax error - can't find = in " + go_quote(word) +
                         ". Must be of the form: name=value");
    }
    pl.args.push_back(word.substr(0, eq));
    pl.args.push_back(word.substr(eq + 1));
  }
  return {};
}

// HEALTHCHECK: a type word, then the command in JSON or shell form.
Status parse_healthcheck(std::string_view rest, ParsedLine& pl) {
  size_t sep = 0;
  while (sep < rest.size() && !is_blank(rest[sep])) {
    ++sep;
  }
  if (sep == 0) {
    return {};
  }
  size_t next = sep;
  while (next < rest.size() && is_blank(rest[next])) {
    ++next;
  }
  ParsedLine cmd;
  DIND_TRY(parse_maybe_json(rest.substr(next), cmd));
  pl.args.emplace_back(rest.substr(0, sep));
  pl.args.insert(pl.args.end(), cmd.args.begin(), cmd.args.end());
  pl.json = cmd.json;
  return {};
}

// ONBUILD: its trigger is split like a line of its own.
Status parse_trigger(std::string_view rest, char escape, ParsedLine& pl) {
  if (rest.empty()) {
    return {};
  }
  DIND_ASSIGN_OR_RETURN(ParsedLine child, parse_line(rest, escape));
  pl.args.push_back(child.command);
  pl.args.insert(pl.args.end(), child.args.begin(), child.args.end());
  pl.trigger.push_back(std::move(child));
  return {};
}

Status parse_arguments(const std::string& command, std::string_view rest, char escape,
                       ParsedLine& pl) {
  if (command == "add" || command == "copy" || command == "volume") {
    return parse_maybe_json_list(rest, pl);
  }
  if (command == "run" || command == "cmd" || command == "entrypoint" || command == "shell") {
    return parse_maybe_json(rest, pl);
  }
  if (command == "env" || command == "label") {
    return parse_name_value(rest, upper(command), escape, pl);
  }
  if (command == "arg") {
    pl.args = parse_words(rest, escape);
  } else if (command == "expose" || command == "from") {
    pl.args = split_separators(rest, 0);
  } else if (command == "healthcheck") {
    return parse_healthcheck(rest, pl);
  } else if (command == "maintainer" || command == "stopsignal" || command == "user" ||
             command == "workdir") {
    if (!rest.empty()) {
      pl.args.emplace_back(rest);
    }
  } else if (command == "onbuild") {
    return parse_trigger(rest, escape, pl);
  }
  return {};  // an unknown instruction keeps no arguments; check_line refuses it
}

size_t count_quotes(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    n += (c == '\'' || c == '"') ? 1 : 0;
  }
  return n;
}

// heredocFromMatch: a word matching ^(\d*)<<(-?)\s*([^<]*)$ whose tail lexes
// to one word. Quotes anywhere in the delimiter turn expansion off.
Result<std::optional<Heredoc>> heredoc_from_word(std::string_view word) {
  size_t i = 0;
  while (i < word.size() && word[i] >= '0' && word[i] <= '9') {
    ++i;
  }
  if (word.substr(i, 2) != "<<") {
    return std::optional<Heredoc>();
  }
  i += 2;
  Heredoc doc;
  if (i < word.size() && word[i] == '-') {
    doc.chomp = true;
    ++i;
  }
  while (i < word.size() && (word[i] == ' ' || word[i] == '\t' || word[i] == '\n' ||
                             word[i] == '\f' || word[i] == '\r')) {
    ++i;
  }
  const std::string_view rest = word.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) {
    return std::optional<Heredoc>();
  }
  LexOptions options;
  options.skip_unset = true;
  DIND_ASSIGN_OR_RETURN(Lexed plain, lex(rest, Lookup(), options));
  if (plain.words.size() != 1) {
    return std::optional<Heredoc>();
  }
  options.raw_quotes = true;
  DIND_ASSIGN_OR_RETURN(Lexed raw, lex(rest, Lookup(), options));
  if (raw.words.size() != 1) {
    return parse_error("internal lexing of heredoc produced inconsistent results: " +
                       std::string(rest));
  }
  doc.name = plain.words[0];
  doc.expand = count_quotes(plain.words[0]) == count_quotes(raw.words[0]);
  return std::optional<Heredoc>(std::move(doc));
}

}  // namespace

Result<ParsedLine> parse_line(std::string_view line, char escape) {
  ParsedLine pl;
  const std::string_view trimmed = trim_blanks(line);
  pl.original = std::string(trimmed);
  size_t cut = 0;
  while (cut < trimmed.size() && !is_separator(trimmed[cut])) {
    ++cut;
  }
  pl.command = std::string(trimmed.substr(0, cut));
  std::string_view rest;
  if (cut < trimmed.size()) {
    while (cut < trimmed.size() && is_separator(trimmed[cut])) {
      ++cut;
    }
    rest = trim_blanks(extract_flags(trimmed.substr(cut), escape, pl.flag_words));
  }
  DIND_TRY(parse_arguments(lower(pl.command), rest, escape, pl));
  return pl;
}

bool may_have_heredocs(const ParsedLine& line) {
  const ParsedLine& target =
      lower(line.command) == "onbuild" && !line.trigger.empty() ? line.trigger[0] : line;
  const std::string command = lower(target.command);
  return (command == "run" || command == "copy" || command == "add") && !target.json;
}

Result<std::vector<Heredoc>> heredocs_in_line(std::string_view line) {
  LexOptions options;
  options.raw_quotes = true;
  options.raw_escapes = true;
  options.skip_unset = true;
  auto words = lex(line, Lookup(), options);
  std::vector<Heredoc> docs;
  if (!words) {
    return docs;  // Docker ignores a line its lexer cannot read: no heredocs
  }
  for (const std::string& word : words->words) {
    DIND_ASSIGN_OR_RETURN(std::optional<Heredoc> doc, heredoc_from_word(word));
    if (doc) {
      docs.push_back(std::move(*doc));
    }
  }
  return docs;
}

bool is_heredoc_word(std::string_view word) {
  auto doc = heredoc_from_word(word);
  return doc.ok() && doc->has_value();
}

}  // namespace dind::build::detail
