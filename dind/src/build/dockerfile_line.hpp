#pragma once
// Internal to dind/build: the two steps behind parse_dockerfile, as buildkit
// splits them. parse_line is the parser's (frontend/dockerfile/parser: the
// command, its `--flag` words, the arguments per instruction); check_line is
// the instructions package's (which instructions exist, argument counts,
// which flags each takes). Docker runs the first over the whole file before
// the second, and so do we: a later line's syntax error wins over an earlier
// line's unknown instruction.

#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/build/dockerfile.hpp"

namespace dind::build::detail {

struct ParsedLine {
  std::string command;                  // as written: "Run"
  std::string original;                 // the whole line, trimmed
  std::vector<std::string> flag_words;  // "--chown=1:1", quotes and escapes removed
  std::vector<std::string> args;        // see Instruction::args
  bool json = false;
  std::vector<ParsedLine> trigger;  // ONBUILD: its instruction (none when empty)
};

// Splits one logical line (continuations joined). Errors are the parser's:
// "ENV must have two arguments", "Syntax error - can't find = in ...", a JSON
// array with a non-string.
base::Result<ParsedLine> parse_line(std::string_view line, char escape);

// RUN, COPY and ADD in shell form, directly or as an ONBUILD trigger.
bool may_have_heredocs(const ParsedLine& line);

// The heredocs a line announces (`<<EOF`, `<<-"EOF"`, `3<<EOF`), in order,
// their content not yet read.
base::Result<std::vector<Heredoc>> heredocs_in_line(std::string_view line);

// Whether one word is a heredoc marker, as COPY's destination check sees it.
bool is_heredoc_word(std::string_view word);

// Validates a parsed line and builds the instruction (line numbers unset).
base::Result<Instruction> check_line(const ParsedLine& line, std::vector<Heredoc> heredocs);

// ASCII helpers shared by the parser's files.
bool is_blank(char c);  // Go's unicode.IsSpace, ASCII part
std::string_view trim_blanks(std::string_view s);
std::string lower(std::string_view s);
std::string upper(std::string_view s);

}  // namespace dind::build::detail
