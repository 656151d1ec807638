#pragma once
// The Dockerfile parser: text -> instructions, as Docker's parser
// (moby/buildkit frontend/dockerfile/parser) splits it. Pure; no file system.
//
// Handles: the `syntax` and `escape` parser directives (only at the top,
// before any instruction, comment or blank line), comments, line
// continuations with the escape character (comment lines inside a
// continuation are dropped, blank ones skipped), case-insensitive
// instruction names, `--flag=value` flags, JSON (exec) and shell forms,
// heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) for RUN and COPY/ADD.
//
// Variables are NOT expanded here (the builder expands with the build's
// environment at dispatch: see shell_word.hpp). Errors are kInvalidArgument
// with Docker's words, and name the line: "dockerfile parse error line 3:
// unknown instruction: FOO".

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::build {

struct Heredoc {
  std::string name;     // the delimiter word, "EOF"
  std::string content;  // the lines between, each ending in "\n"
  bool expand = true;   // false when the delimiter was quoted
  bool chomp = false;   // `<<-`: leading tabs of each line were removed
};

struct Instruction {
  int line = 0;          // 1-based line of the instruction's first line
  int end_line = 0;      // its last line (continuations, heredocs)
  std::string command;   // lower case: "from", "run", "copy", ...
  std::string original;  // as written, continuations joined, trimmed
                         // ("RUN echo a &&   echo b"); heredoc bodies omitted
  // Leading `--name=value` flags in order (`--chown=1:1` -> {"chown","1:1"};
  // a bare or `=true`/`=false` bool flag has value "true"/"false"; a list
  // flag such as `--mount` may repeat). As in Docker, leading `--x` words are
  // flags for every instruction: FROM, RUN, COPY, ADD and HEALTHCHECK accept
  // their own, the others refuse any ("unknown flag: --x"), except that ARG,
  // STOPSIGNAL and HEALTHCHECK NONE keep them unchecked, as Docker ignores them.
  std::vector<std::pair<std::string, std::string>> flags;
  // The arguments, not yet expanded:
  //  - JSON form (RUN/CMD/ENTRYPOINT/SHELL/COPY/ADD/VOLUME with a JSON
  //    array of strings): the array's strings, json = true;
  //  - RUN/CMD/ENTRYPOINT shell form, and USER, WORKDIR, STOPSIGNAL,
  //    MAINTAINER, ARG...: see below;
  //  - RUN/CMD/ENTRYPOINT shell form: one string, the rest of the line;
  //  - ENV and LABEL: name, value, name, value... (the `k=v k2="v 2"` form
  //    and the legacy `ENV k value with spaces` form; quotes and escapes
  //    are still in the values, removed at expansion);
  //  - ARG: one element per name, "NAME" or "NAME=default" (as written);
  //  - FROM: the words ("image", or "image", "AS", "name");
  //  - COPY/ADD shell form, EXPOSE, VOLUME (shell form): the words;
  //  - USER, WORKDIR, STOPSIGNAL, MAINTAINER: one string, the rest of the line;
  //  - HEALTHCHECK: "NONE", or "CMD" followed by the command (one string for
  //    the shell form, the strings for JSON form with json = true);
  //  - ONBUILD: one string, the trigger instruction as written
  //    ("RUN echo hi"; heredoc bodies and delimiters follow on lines of
  //    their own); the builder parses it again when it fires;
  //  - SHELL: JSON form only.
  std::vector<std::string> args;
  bool json = false;
  std::vector<Heredoc> heredocs;  // in the order they appear on the line

  // The flag's value, if given.
  const std::string* flag(std::string_view name) const;
};

struct Dockerfile {
  char escape = '\\';
  std::string syntax;  // the `# syntax=` directive, "" when none
  std::vector<Instruction> instructions;
  std::vector<std::string> warnings;  // e.g. empty continuation lines
};

// Parses a whole Dockerfile. Errors: kInvalidArgument, "Dockerfile parse
// error line N: <reason>" (unknown instruction, unterminated heredoc, bad
// JSON for SHELL, flags an instruction does not take, missing arguments...).
// A file with no instruction: "the Dockerfile (Dockerfile) cannot be empty"
// is the builder's business, not the parser's (it returns no instructions).
base::Result<Dockerfile> parse_dockerfile(std::string_view text);

// Parses one ONBUILD trigger ("RUN echo hi") as a one-line Dockerfile with
// the given escape character; `line` is used for error messages.
base::Result<Instruction> parse_instruction(std::string_view text, char escape, int line);

}  // namespace dind::build
