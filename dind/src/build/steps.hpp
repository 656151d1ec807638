#pragma once
// Internal to build/: the state of one stage and the metadata instructions
// (ENV, LABEL, CMD, ...) applied to it, with the comment dockerd records for
// each ("ENV A=b" -> created_by "/bin/sh -c #(nop)  ENV A=b"). Pure.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/base/time.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/build/shell_word.hpp"
#include "dind/model/container.hpp"

namespace dind::build {

// The build arguments: what the client gave, what the Dockerfile declared.
struct BuildArgs {
  std::map<std::string, std::optional<std::string>> given;     // the request's buildargs
  std::map<std::string, std::optional<std::string>> declared;  // this stage's ARGs (value)
  std::map<std::string, std::optional<std::string>> global;    // ARGs before the first FROM
  std::set<std::string> referenced;                            // names ARG declared anywhere

  // The value of a declared (or builtin proxy) argument, if it has one.
  std::optional<std::string> value(const std::string& name) const;
  // "K=V" for every argument visible to RUN whose name no ENV sets, sorted.
  std::vector<std::string> allowed(const model::OptStrings& env) const;
  // Of allowed(): those recorded in the RUN's history ("|1 K=V ...").
  std::vector<std::string> recorded(const model::OptStrings& env) const;
};

bool is_builtin_arg(const std::string& name);

struct StageState {
  std::string name;      // `AS name`, lower case; "" when none
  std::string image_id;  // the current image; "" for scratch before a step
  std::string base_config;  // the current image's config JSON ("" for scratch)
  model::Config config;  // the run config, as dockerd's runConfig
  BuildArgs args;
  bool cmd_set = false;  // a CMD in this stage (ENTRYPOINT keeps it then)
};

// The variables instructions expand with: the config's Env, then the
// arguments (ENV wins).
Lookup expansion_env(const StageState& s);

// The default shell (SHELL changes it).
model::Strings shell_of(const model::Config& c);

// Applies a metadata instruction (ENV, LABEL, MAINTAINER, EXPOSE, USER,
// VOLUME, STOPSIGNAL, ARG, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD, SHELL,
// WORKDIR's config part) to the state; returns dockerd's commit comment.
// `maintainer` receives MAINTAINER's value (it goes into the image's author).
base::Result<std::string> apply_metadata(const Instruction& ins, StageState& s, char escape,
                                         std::string& maintainer);

// Go's fmt %q of a string and of a []string (`["a" "b"]`), and a Duration's
// String() ("1m30s").
std::string go_quote(const std::string& s);
std::string go_quote_list(const model::Strings& v);
using base::go_duration;
// Parses a Dockerfile duration flag ("30s", "1m30s", "1.5h"); Go's rules.
using base::parse_go_duration;

// The words joined with spaces (a history's created_by from a step's Cmd).
std::string join_words(const model::Strings& words);

// The config of a step that runs nothing: the shell, then "#(nop) " and the
// comment as two words (metadata steps: created_by gets two spaces) or as
// one (WORKDIR, COPY, ADD: one space), as dockerd writes them.
model::Config nop_probe(const StageState& s, const std::string& comment, bool two_words);

// WORKDIR's path: absolute, joined onto the current one when relative, cleaned.
std::string join_workdir(const std::string& current, const std::string& next);

}  // namespace dind::build
