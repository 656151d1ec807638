// Dockerfile text -> logical lines -> instructions, after buildkit's
// frontend/dockerfile/parser/parser.go (Parse) and directives.go: parser
// directives at the top, comments, continuations with the escape character,
// heredoc bodies after their instruction line.

#include "dind/build/dockerfile.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "dockerfile_line.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;
using detail::is_blank;

const std::string* Instruction::flag(std::string_view name) const {
  for (const auto& [key, value] : flags) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

namespace {

// bufio.Scanner's limit: Docker fails on a longer line.
constexpr size_t kMaxLine = size_t{64} * 1024;

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view trim_leading_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

bool is_comment(std::string_view line) {
  line = trim_leading_blanks(line);
  return !line.empty() && line[0] == '#';
}

// Go's regexp \s: no vertical tab.
bool is_re_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

// Parser directives (`# escape=``, `# syntax=...`, `# check=...`): only in
// the comment lines that open the file. Any other line, or a comment that is
// not a known directive, ends them.
class Directives {
 public:
  explicit Directives(char escape, bool enabled) : escape_(escape), done_(!enabled) {}

  // Looks at a line (newline trimmed). True when it was a directive.
  Result<bool> check(std::string_view line);
  char escape() const { return escape_; }
  const std::string& syntax() const { return syntax_; }

 private:
  char escape_;
  bool done_;
  std::set<std::string> seen_;
  std::string syntax_;
};

Result<bool> Directives::check(std::string_view line) {
  if (done_) {
    return false;
  }
  done_ = true;  // until the line proves to be a directive
  if (line.empty() || line[0] != '#') {
    return false;
  }
  line = trim_leading_blanks(line.substr(1));
  // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
  size_t i = 0;
  while (i < line.size() && (std::isalpha(static_cast<unsigned char>(line[i])) ||
                             (i > 0 && std::isdigit(static_cast<unsigned char>(line[i]))))) {
    ++i;
  }
  const std::string name = detail::lower(line.substr(0, i));
  while (i < line.size() && is_re_space(line[i])) {
    ++i;
  }
  if (name.empty() || i == line.size() || line[i] != '=') {
    return false;
  }
  std::string_view value = line.substr(i + 1);
  while (value.size() > 1 && is_re_space(value.front())) {
    value.remove_prefix(1);
  }
  while (value.size() > 1 && is_re_space(value.back())) {
    value.remove_suffix(1);
  }
  if (value.empty() || (name != "syntax" && name != "escape" && name != "check")) {
    return false;
  }
  if (!seen_.insert(name).second) {
    return make_error(ErrorKind::kInvalidArgument,
                      "only one " + name + " parser directive can be used");
  }
  if (name == "escape") {
    if (value != "`" && value != "\\") {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid escape token '" + std::string(value) + "' does not match ` or \\");
    }
    escape_ = value[0];
  } else if (name == "syntax") {
    syntax_ = std::string(value);
  }
  done_ = false;
  return true;
}

// The pending result of the first pass: a split line and where it was.
struct Pending {
  detail::ParsedLine line;
  std::vector<Heredoc> heredocs;
  int start = 0;
  int end = 0;
};

class Parser {
 public:
  Parser(std::string_view text, char escape, bool directives, int first_line)
      : text_(text), directives_(escape, directives), first_line_(first_line) {}

  Result<Dockerfile> run();

 private:
  base::Error error_at(int line, const base::Error& e) const {
    return make_error(ErrorKind::kInvalidArgument,
                      "dockerfile parse error line " + std::to_string(line) + ": " + e.message);
  }
  int line_number() const { return first_line_ + consumed_ - 1; }  // of the last line taken
  bool more() const { return pos_ < text_.size(); }
  Result<std::string_view> take_line();
  Result<std::string_view> process(std::string_view raw, bool strip_left);
  std::string_view trim_continuation(std::string_view line, bool& end) const;
  Result<std::string> logical_line(std::string_view first, bool& skip);
  base::Status read_heredocs(std::vector<Heredoc>& docs, int start);

  std::string_view text_;
  size_t pos_ = 0;
  int consumed_ = 0;
  Directives directives_;
  int first_line_;
  std::vector<std::string> warnings_;
};

// One line with its ending, as Go's scanner with a line-keeping split gives it.
Result<std::string_view> Parser::take_line() {
  size_t nl = text_.find('\n', pos_);
  const size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
  std::string_view raw = text_.substr(pos_, end - pos_);
  pos_ = end;
  ++consumed_;
  if (consumed_ == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF") {
    raw.remove_prefix(3);
  }
  if (trim_newline(raw).size() >= kMaxLine) {
    return error_at(line_number(),
                    make_error(ErrorKind::kInvalidArgument,
                               "dockerfile line greater than max allowed size of 65535"));
  }
  return raw;
}

// processLine: the newline dropped, the directive parser shown the line, a
// comment emptied.
Result<std::string_view> Parser::process(std::string_view raw, bool strip_left) {
  std::string_view token = trim_newline(raw);
  if (strip_left) {
    token = trim_leading_blanks(token);
  }
  auto directive = directives_.check(token);
  if (!directive) {
    return error_at(line_number(), directive.error());
  }
  return is_comment(token) ? std::string_view() : token;
}

// A line ending in the escape character (blanks after it allowed) continues;
// an escaped escape character (`\\`) does not.
std::string_view Parser::trim_continuation(std::string_view line, bool& end) const {
  const char escape = directives_.escape();
  std::string_view t = line;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) {
    t.remove_suffix(1);
  }
  end = !(!t.empty() && t.back() == escape && (t.size() == 1 || t[t.size() - 2] != escape));
  if (end) {
    return line;
  }
  t.remove_suffix(1);
  return t;
}

// Joins a line with its continuation lines: comment lines inside are
// dropped, blank ones skipped with a warning. `skip`: the line was blank or a
// comment.
Result<std::string> Parser::logical_line(std::string_view first, bool& skip) {
  bool end = true;
  std::string_view part = trim_continuation(first, end);
  skip = end && part.empty();
  if (skip) {
    return std::string();
  }
  std::string line(part);
  bool blank_continuation = false;
  while (!end && more()) {
    DIND_ASSIGN_OR_RETURN(std::string_view raw, take_line());
    DIND_ASSIGN_OR_RETURN(std::string_view token, process(raw, false));
    if (is_comment(raw)) {
      continue;
    }
    if (trim_leading_blanks(token).empty()) {
      blank_continuation = true;
      continue;
    }
    line += trim_continuation(token, end);
  }
  if (blank_continuation) {
    warnings_.push_back("Empty continuation line found in: " + line);
  }
  return line;
}

// Reads each heredoc's body from the lines that follow, up to its
// delimiter (tab-indented for `<<-`, whose body loses its leading tabs).
base::Status Parser::read_heredocs(std::vector<Heredoc>& docs, int start) {
  for (Heredoc& doc : docs) {
    bool terminated = false;
    std::string content;
    while (more()) {
      DIND_ASSIGN_OR_RETURN(std::string_view raw, take_line());
      std::string_view candidate = trim_newline(raw);
      if (doc.chomp) {
        candidate.remove_prefix(std::min(candidate.find_first_not_of('\t'), candidate.size()));
      }
      if (candidate == doc.name) {
        terminated = true;
        break;
      }
      if (doc.chomp) {
        raw.remove_prefix(std::min(raw.find_first_not_of('\t'), raw.size()));
      }
      content += raw;
    }
    if (!terminated) {
      return error_at(start, make_error(ErrorKind::kInvalidArgument, "unterminated heredoc"));
    }
    doc.content = std::move(content);
  }
  return {};
}

Result<Dockerfile> Parser::run() {
  std::vector<Pending> pending;
  while (more()) {
    DIND_ASSIGN_OR_RETURN(std::string_view raw, take_line());
    DIND_ASSIGN_OR_RETURN(std::string_view first, process(raw, true));
    const int start = line_number();
    bool skip = false;
    DIND_ASSIGN_OR_RETURN(std::string line, logical_line(first, skip));
    if (skip) {
      continue;
    }
    auto parsed = detail::parse_line(line, directives_.escape());
    if (!parsed) {
      return error_at(start, parsed.error());
    }
    std::vector<Heredoc> docs;
    if (detail::may_have_heredocs(*parsed) && line.find("<<") != std::string::npos) {
      auto found = detail::heredocs_in_line(line);
      if (!found) {
        return error_at(start, found.error());
      }
      docs = std::move(*found);
      DIND_TRY(read_heredocs(docs, start));
    }
    pending.push_back({std::move(*parsed), std::move(docs), start, line_number()});
  }
  Dockerfile out;
  out.escape = directives_.escape();
  out.syntax = directives_.syntax();
  out.warnings = std::move(warnings_);
  for (Pending& p : pending) {
    auto instruction = detail::check_line(p.line, std::move(p.heredocs));
    if (!instruction) {
      return error_at(p.start, instruction.error());
    }
    instruction->line = p.start;
    instruction->end_line = p.end;
    out.instructions.push_back(std::move(*instruction));
  }
  return out;
}

}  // namespace

Result<Dockerfile> parse_dockerfile(std::string_view text) {
  return Parser(text, '\\', true, 1).run();
}

Result<Instruction> parse_instruction(std::string_view text, char escape, int line) {
  DIND_ASSIGN_OR_RETURN(Dockerfile file, Parser(text, escape, false, line).run());
  if (file.instructions.size() != 1) {
    return make_error(ErrorKind::kInvalidArgument, "dockerfile parse error line " +
                                                       std::to_string(line) +
                                                       ": expected one instruction, found " +
                                                       std::to_string(file.instructions.size()));
  }
  return std::move(file.instructions[0]);
}

}  // namespace dind::build
