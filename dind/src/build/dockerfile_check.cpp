// The checks buildkit's frontend/dockerfile/instructions package makes when
// it turns a parsed line into a command (parse.go, bflag.go): which
// instructions exist, how many arguments each needs, which `--flags` each
// takes and of which type. Messages are Docker's; the checks run in Docker's
// order so that a line with two faults reports the same one.

#include <algorithm>

#include "dockerfile_line.hpp"
#include "shell_lex.hpp"

namespace dind::build::detail {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

namespace {

enum class FlagType { kBool, kString, kStrings };

struct FlagSpec {
  std::string_view name;
  FlagType type;
};

using FlagSpecs = std::vector<FlagSpec>;

const FlagSpecs kNoFlags;
const FlagSpecs kFromFlags = {{"platform", FlagType::kString}};
// --mount, --network and --security are buildkit's; the builder refuses them.
const FlagSpecs kRunFlags = {
    {"mount", FlagType::kStrings}, {"network", FlagType::kString}, {"security", FlagType::kString}};
const FlagSpecs kCopyFlags = {{"chown", FlagType::kString},    {"from", FlagType::kString},
                              {"chmod", FlagType::kString},    {"link", FlagType::kBool},
                              {"exclude", FlagType::kStrings}, {"parents", FlagType::kBool}};
const FlagSpecs kAddFlags = {{"chown", FlagType::kString},    {"chmod", FlagType::kString},
                             {"link", FlagType::kBool},       {"keep-git-dir", FlagType::kBool},
                             {"checksum", FlagType::kString}, {"unpack", FlagType::kBool},
                             {"exclude", FlagType::kStrings}};
const FlagSpecs kHealthFlags = {{"interval", FlagType::kString},
                                {"timeout", FlagType::kString},
                                {"start-period", FlagType::kString},
                                {"start-interval", FlagType::kString},
                                {"retries", FlagType::kString}};

base::Error check_error(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::move(message));
}

base::Error at_least_one(std::string_view command) {
  return check_error(std::string(command) + " requires at least one argument");
}

base::Error exactly_one(std::string_view command) {
  return check_error(std::string(command) + " requires exactly one argument");
}

// BFlags.Parse: every word must be a flag the instruction declares; a bool
// flag may be bare (`--link`) or `=true`/`=false`, the others need `=value`;
// only list flags (`--mount`) repeat.
Status parse_flags(const std::vector<std::string>& words, const FlagSpecs& specs,
                   Instruction& out) {
  for (const std::string& word : words) {
    if (word.rfind("--", 0) != 0) {
      return check_error("arg should start with -- : " + word);
    }
    const size_t eq = word.find('=');
    const std::string flag = word.substr(0, eq);
    const bool has_value = eq != std::string::npos;
    std::string value = has_value ? word.substr(eq + 1) : std::string();
    const std::string name = flag.substr(2);
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) {
        spec = &s;
      }
    }
    if (spec == nullptr) {
      return check_error("unknown flag: " + flag);
    }
    if (spec->type != FlagType::kStrings && out.flag(name) != nullptr) {
      return check_error("duplicate flag specified: " + flag);
    }
    if (spec->type == FlagType::kBool) {
      if (has_value && value.empty()) {
        return check_error("missing a value on flag: " + flag);
      }
      const std::string v = lower(value);
      if (v != "true" && v != "" && v != "false") {
        return check_error("expecting boolean value for flag " + flag + ", not: " + value);
      }
      value = v == "false" ? "false" : "true";
    } else if (!has_value) {
      return check_error("missing a value on flag: " + flag);
    }
    out.flags.emplace_back(name, std::move(value));
  }
  return {};
}

// The flags of an instruction Docker does not check (ARG, STOPSIGNAL,
// HEALTHCHECK NONE), kept as written: `--x=y` -> {"x","y"}, `--x` -> "true".
void keep_flags(const std::vector<std::string>& words, Instruction& out) {
  for (const std::string& word : words) {
    const size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    name.erase(0, name.find_first_not_of('-'));
    out.flags.emplace_back(name, eq == std::string::npos ? "true" : word.substr(eq + 1));
  }
}

Status check_key_values(const ParsedLine& pl, std::string_view command, Instruction& out) {
  DIND_TRY(parse_flags(pl.flag_words, kNoFlags, out));
  if (pl.args.empty()) {
    return at_least_one(command);
  }
  for (size_t i = 0; i < pl.args.size(); i += 2) {
    if (pl.args[i].empty()) {
      return check_error(std::string(command) + " names can not be blank");
    }
  }
  return {};
}

Status check_copy(const ParsedLine& pl, std::string_view command, const FlagSpecs& specs,
                  Instruction& out) {
  if (pl.args.size() < 2) {
    return check_error(std::string(command) +
                       " requires at least two arguments, but only one was provided. "
                       "Destination could not be determined");
  }
  DIND_TRY(parse_flags(pl.flag_words, specs, out));
  if (is_heredoc_word(pl.args.back())) {
    return check_error(std::string(command) + " cannot accept a heredoc as a destination");
  }
  return {};
}

bool valid_stage_name(std::string_view name) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') {
    return false;
  }
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Status check_from(const ParsedLine& pl, Instruction& out) {
  const auto& a = pl.args;
  if (a.size() == 3 && lower(a[1]) == "as") {
    if (!valid_stage_name(lower(a[2]))) {
      return check_error("invalid name for build stage: " + go_quote(a[2]) +
                         ", name can't start with a number or contain symbols");
    }
  } else if (a.size() != 1) {
    return check_error("FROM requires either one or three arguments");
  }
  return parse_flags(pl.flag_words, kFromFlags, out);
}

// The trigger is kept as written, without ONBUILD, heredoc bodies appended
// as Docker's OnbuildCommand.Expression does, for the builder to parse again.
Status check_onbuild(const ParsedLine& pl, const std::vector<Heredoc>& heredocs, Instruction& out) {
  if (pl.args.empty()) {
    return at_least_one("ONBUILD");
  }
  DIND_TRY(parse_flags(pl.flag_words, kNoFlags, out));
  const std::string trigger = upper(trim_blanks(pl.args[0]));
  if (trigger == "ONBUILD") {
    return check_error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  }
  if (trigger == "MAINTAINER" || trigger == "FROM") {
    return check_error(trigger + " isn't allowed as an ONBUILD trigger");
  }
  std::string_view expression = trim_blanks(pl.original);
  expression.remove_prefix(std::min<size_t>(7, expression.size()));  // "ONBUILD"
  std::string text(trim_blanks(expression));
  for (const Heredoc& doc : heredocs) {
    text += "\n" + doc.content + doc.name;
  }
  out.args = {std::move(text)};
  return {};
}

Status check_healthcheck(const ParsedLine& pl, Instruction& out) {
  if (pl.args.empty()) {
    return at_least_one("HEALTHCHECK");
  }
  const std::string type = upper(pl.args[0]);
  out.args[0] = type;
  if (type == "NONE") {
    if (pl.args.size() != 1) {
      return check_error("HEALTHCHECK NONE takes no arguments");
    }
    keep_flags(pl.flag_words, out);  // Docker never looks at them
    return {};
  }
  DIND_TRY(parse_flags(pl.flag_words, kHealthFlags, out));
  if (type != "CMD") {
    return check_error("Unknown type " + go_quote(type) + " in HEALTHCHECK (try CMD)");
  }
  if (pl.args.size() == 1) {
    return check_error("Missing command after HEALTHCHECK CMD");
  }
  return {};
}

Status check_volume(const ParsedLine& pl, Instruction& out) {
  if (pl.args.empty()) {
    return at_least_one("VOLUME");
  }
  DIND_TRY(parse_flags(pl.flag_words, kNoFlags, out));
  for (std::string& v : out.args) {
    v = std::string(trim_blanks(v));
    if (v.empty()) {
      return check_error("VOLUME specified can not be an empty string");
    }
  }
  return {};
}

Status check_arg(const ParsedLine& pl, Instruction& out) {
  if (pl.args.empty()) {
    return at_least_one("ARG");
  }
  for (const std::string& a : pl.args) {
    if (a.find('=') == 0) {
      return check_error("ARG names can not be blank");
    }
  }
  keep_flags(pl.flag_words, out);  // Docker never looks at them
  return {};
}

Status check_shell(const ParsedLine& pl, Instruction& out) {
  DIND_TRY(parse_flags(pl.flag_words, kNoFlags, out));
  if (pl.args.empty()) {
    return at_least_one("SHELL");
  }
  if (!pl.json) {
    return check_error("SHELL requires the arguments to be in JSON form");
  }
  return {};
}

// USER, WORKDIR, MAINTAINER and STOPSIGNAL take the rest of the line.
Status check_one_argument(const ParsedLine& pl, std::string_view command, bool flags,
                          Instruction& out) {
  if (pl.args.size() != 1) {
    return exactly_one(command);
  }
  if (!flags) {
    keep_flags(pl.flag_words, out);
    return {};
  }
  return parse_flags(pl.flag_words, kNoFlags, out);
}

Status check_command(const std::string& c, const ParsedLine& pl,
                     const std::vector<Heredoc>& heredocs, Instruction& out) {
  const std::string name = upper(c);
  if (c == "env" || c == "label") {
    return check_key_values(pl, name, out);
  }
  if (c == "add" || c == "copy") {
    return check_copy(pl, name, c == "add" ? kAddFlags : kCopyFlags, out);
  }
  if (c == "user" || c == "workdir" || c == "maintainer" || c == "stopsignal") {
    return check_one_argument(pl, name, c != "stopsignal", out);
  }
  if (c == "expose") {
    return pl.args.empty() ? at_least_one(name) : parse_flags(pl.flag_words, kNoFlags, out);
  }
  if (c == "run" || c == "cmd" || c == "entrypoint") {
    return parse_flags(pl.flag_words, c == "run" ? kRunFlags : kNoFlags, out);
  }
  if (c == "from") {
    return check_from(pl, out);
  }
  if (c == "onbuild") {
    return check_onbuild(pl, heredocs, out);
  }
  if (c == "healthcheck") {
    return check_healthcheck(pl, out);
  }
  if (c == "volume") {
    return check_volume(pl, out);
  }
  if (c == "arg") {
    return check_arg(pl, out);
  }
  if (c == "shell") {
    return check_shell(pl, out);
  }
  // Docker 20.10's wording (later releases append "did you mean ...?").
  return check_error("unknown instruction: " + name);
}

}  // namespace

Result<Instruction> check_line(const ParsedLine& line, std::vector<Heredoc> heredocs) {
  Instruction out;
  out.command = lower(line.command);
  out.original = line.original;
  out.args = line.args;
  out.json = line.json;
  DIND_TRY(check_command(out.command, line, heredocs, out));
  out.heredocs = std::move(heredocs);
  return out;
}

}  // namespace dind::build::detail
