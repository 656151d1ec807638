#include <catch2/catch.hpp>

#include "dind/build/dockerfile.hpp"

using namespace dind::build;

namespace {

using Flags = std::vector<std::pair<std::string, std::string>>;

struct Expect {
  int line = 0;
  int end_line = 0;
  std::string command;
  std::vector<std::string> args;
  Flags flags = {};
  bool json = false;
  std::vector<Heredoc> heredocs = {};
};

struct Row {
  std::string text;
  std::vector<Expect> want;  // when error is empty
  std::string error = {};    // the whole message
};

std::string describe(const Heredoc& h) {
  return h.name + "|" + h.content + "|" + (h.expand ? "expand" : "raw") + "|" +
         (h.chomp ? "chomp" : "keep");
}

void check_instruction(const Instruction& got, const Expect& want) {
  CHECK(got.line == want.line);
  CHECK(got.end_line == want.end_line);
  CHECK(got.command == want.command);
  CHECK(got.args == want.args);
  CHECK(got.flags == want.flags);
  CHECK(got.json == want.json);
  REQUIRE(got.heredocs.size() == want.heredocs.size());
  for (size_t i = 0; i < got.heredocs.size(); ++i) {
    CHECK(describe(got.heredocs[i]) == describe(want.heredocs[i]));
  }
}

void check_rows(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    INFO(row.text);
    auto parsed = parse_dockerfile(row.text);
    if (!row.error.empty()) {
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.error().kind == dind::base::ErrorKind::kInvalidArgument);
      CHECK(parsed.error().message == row.error);
      continue;
    }
    REQUIRE(parsed.ok());
    REQUIRE(parsed->instructions.size() == row.want.size());
    for (size_t i = 0; i < row.want.size(); ++i) {
      INFO("instruction " << i);
      check_instruction(parsed->instructions[i], row.want[i]);
    }
  }
}

std::string err(int line, const std::string& reason) {
  return "dockerfile parse error line " + std::to_string(line) + ": " + reason;
}

}  // namespace

TEST_CASE("Dockerfile directives, comments and continuations", "[build][dockerfile]") {
  check_rows({
      // escape=` : a backslash is an ordinary character (Windows paths)
      {"# escape=`\nFROM windows\nCOPY testfile.txt c:\\\nRUN dir c:\\\n",
       {{2, 2, "from", {"windows"}},
        {3, 3, "copy", {"testfile.txt", "c:\\"}},
        {4, 4, "run", {"dir c:\\"}}}},
      {"# escape=`\nRUN a `\n  b\n", {{2, 3, "run", {"a   b"}}}},
      {"#   ESCAPE  =  `  \nRUN a `\n b\n", {{2, 3, "run", {"a  b"}}}},
      {"# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n", {{3, 3, "from", {"a"}}}},
      // after a comment, a blank line or an unknown directive, no more directives
      {"# hello\n# escape=`\nRUN a `\nRUN b\n", {{3, 3, "run", {"a `"}}, {4, 4, "run", {"b"}}}},
      {"\n# escape=`\nRUN a `\n", {{3, 3, "run", {"a `"}}}},
      {"# foo=bar\n# escape=`\nRUN a `\n", {{3, 3, "run", {"a `"}}}},
      {"FROM a\n# escape=`\nRUN b `\n", {{1, 1, "from", {"a"}}, {3, 3, "run", {"b `"}}}},
      {"# escape=`\n# escape=\\\nFROM a\n",
       {},
       err(2, "only one escape parser directive can be used")},
      {"# syntax=a\n#syntax=b\n", {}, err(2, "only one syntax parser directive can be used")},
      {"# escape=x\nFROM a\n", {}, err(1, "invalid escape token 'x' does not match ` or \\")},
      // comments: only whole lines
      {"# c1\nRUN a # not a comment\n  # indented comment\nEXPOSE 80 # 81\n",
       {{2, 2, "run", {"a # not a comment"}}, {4, 4, "expose", {"80", "#", "81"}}}},
      // continuation lines keep their leading blanks; comment and blank lines
      // inside a continuation are dropped
      {"RUN echo a \\\n# c\n\n   && echo b  \\   \n  c\n",
       {{1, 5, "run", {"echo a    && echo b    c"}}}},
      {"RUN a \\  \t\n b\n", {{1, 2, "run", {"a  b"}}}},
      {"RUN a \\\n\\\nb\n", {{1, 3, "run", {"a b"}}}},
      {"RUN echo a\\\\\nRUN b\n", {{1, 1, "run", {"echo a\\\\"}}, {2, 2, "run", {"b"}}}},
      {"RUN a \\", {{1, 1, "run", {"a"}}}},
      {"FROM a\r\nRUN b \\\r\n c\r\n", {{1, 1, "from", {"a"}}, {2, 3, "run", {"b  c"}}}},
      {"\xEF\xBB\xBF"
       "FROM a\n",
       {{1, 1, "from", {"a"}}}},
      {"   RUN   a   b  \n", {{1, 1, "run", {"a   b"}}}},
      {"from A as B\nrUn x\n", {{1, 1, "from", {"A", "as", "B"}}, {2, 2, "run", {"x"}}}},
      {"FROM a\n\nRUN a \\\n  b\n\n\nCMD c\n",
       {{1, 1, "from", {"a"}}, {3, 4, "run", {"a   b"}}, {7, 7, "cmd", {"c"}}}},
      {"# only a comment\n\n", {}},
  });
}

TEST_CASE("Dockerfile FROM, RUN, CMD and ENTRYPOINT", "[build][dockerfile]") {
  check_rows({
      {"FROM --platform=linux/amd64 alpine:3 AS base\n",
       {{1, 1, "from", {"alpine:3", "AS", "base"}, {{"platform", "linux/amd64"}}}}},
      {"FROM scratch\n", {{1, 1, "from", {"scratch"}}}},
      {"FROM\n", {}, err(1, "FROM requires either one or three arguments")},
      {"FROM a b\n", {}, err(1, "FROM requires either one or three arguments")},
      {"FROM a AS 1x\n",
       {},
       err(1,
           "invalid name for build stage: \"1x\", name can't start with a number or contain "
           "symbols")},
      {"FROM --foo=bar a\n", {}, err(1, "unknown flag: --foo")},
      {"FROM --platform a\n", {}, err(1, "missing a value on flag: --platform")},
      {"RUN echo $HOME && ls\n", {{1, 1, "run", {"echo $HOME && ls"}}}},
      {"RUN [\"echo\", \"a b\"]\n", {{1, 1, "run", {"echo", "a b"}, {}, true}}},
      {"RUN []\n", {{1, 1, "run", {}, {}, true}}},
      // not valid JSON: the shell form, as Docker falls back
      {"RUN [ \"echo\", 'a' ]\n", {{1, 1, "run", {"[ \"echo\", 'a' ]"}}}},
      {"CMD [\"a\" \"b\"]\n", {{1, 1, "cmd", {"[\"a\" \"b\"]"}}}},
      {"CMD [\"a\"] x\n", {{1, 1, "cmd", {"[\"a\"] x"}}}},
      {"RUN [\"echo\", 1]\n",
       {},
       err(1, "when using JSON array syntax, arrays must be comprised of strings only")},
      {"RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=a "
       "--network=none --security=insecure make\n",
       {{1,
         1,
         "run",
         {"make"},
         {{"mount", "type=cache,target=/root/.cache"},
          {"mount", "type=secret,id=a"},
          {"network", "none"},
          {"security", "insecure"}}}}},
      {"RUN --network=host -- --x\n", {{1, 1, "run", {"--x"}, {{"network", "host"}}}}},
      {"RUN --mount type=cache make\n", {}, err(1, "missing a value on flag: --mount")},
      {"RUN --network=host --network=none x\n", {}, err(1, "duplicate flag specified: --network")},
      {"RUN --foo x\n", {}, err(1, "unknown flag: --foo")},
      {"RUN\n", {{1, 1, "run", {}}}},
      {"CMD [\"nginx\", \"-g\", \"daemon off;\"]\n",
       {{1, 1, "cmd", {"nginx", "-g", "daemon off;"}, {}, true}}},
      {"CMD echo hi\n", {{1, 1, "cmd", {"echo hi"}}}},
      {"CMD\n", {{1, 1, "cmd", {}}}},
      {"CMD --help\n", {}, err(1, "unknown flag: --help")},
      {"ENTRYPOINT [\"/entry.sh\"]\nENTRYPOINT exec top -b\n",
       {{1, 1, "entrypoint", {"/entry.sh"}, {}, true}, {2, 2, "entrypoint", {"exec top -b"}}}},
  });
}

TEST_CASE("Dockerfile heredocs", "[build][dockerfile]") {
  check_rows({
      {"RUN <<EOF\necho hi\necho there\nEOF\n",
       {{1, 4, "run", {"<<EOF"}, {}, false, {{"EOF", "echo hi\necho there\n", true, false}}}}},
      {"RUN <<-EOT\n\techo a\n\t\techo b\n\tEOT\n",
       {{1, 4, "run", {"<<-EOT"}, {}, false, {{"EOT", "echo a\necho b\n", true, true}}}}},
      {"RUN <<\"EOF\" bash\necho $x\nEOF\n",
       {{1, 3, "run", {"<<\"EOF\" bash"}, {}, false, {{"EOF", "echo $x\n", false, false}}}}},
      {"RUN python3 <<'EOF'\nprint(1)\nEOF\n",
       {{1, 3, "run", {"python3 <<'EOF'"}, {}, false, {{"EOF", "print(1)\n", false, false}}}}},
      {"RUN <<A <<B\na\nA\nb\nB\nRUN c\n",
       {{1,
         5,
         "run",
         {"<<A <<B"},
         {},
         false,
         {{"A", "a\n", true, false}, {"B", "b\n", true, false}}},
        {6, 6, "run", {"c"}}}},
      {"RUN << EOF\nx\nEOF\n",
       {{1, 3, "run", {"<< EOF"}, {}, false, {{"EOF", "x\n", true, false}}}}},
      {"RUN 3<<EOF\nx\nEOF\n",
       {{1, 3, "run", {"3<<EOF"}, {}, false, {{"EOF", "x\n", true, false}}}}},
      {"RUN <<EOF\nEOF\n", {{1, 2, "run", {"<<EOF"}, {}, false, {{"EOF", "", true, false}}}}},
      {"RUN cat <<EOF > /f \\\n && true\nbody\nEOF\n",
       {{1, 4, "run", {"cat <<EOF > /f  && true"}, {}, false, {{"EOF", "body\n", true, false}}}}},
      {"RUN --mount=type=cache,target=/c <<EOF\nls\nEOF\n",
       {{1,
         3,
         "run",
         {"<<EOF"},
         {{"mount", "type=cache,target=/c"}},
         false,
         {{"EOF", "ls\n", true, false}}}}},
      {"RUN echo \"<<EOF\"\n", {{1, 1, "run", {"echo \"<<EOF\""}}}},
      {"USER <<EOF\n", {{1, 1, "user", {"<<EOF"}}}},
      {"COPY <<EOF /etc/conf\nkey=value\n# not a comment\nEOF\n",
       {{1,
         4,
         "copy",
         {"<<EOF", "/etc/conf"},
         {},
         false,
         {{"EOF", "key=value\n# not a comment\n", true, false}}}}},
      {"ADD <<one <<two /dst/\n1\none\n2\ntwo\n",
       {{1,
         5,
         "add",
         {"<<one", "<<two", "/dst/"},
         {},
         false,
         {{"one", "1\n", true, false}, {"two", "2\n", true, false}}}}},
      {"RUN <<EOF\necho\n", {}, err(1, "unterminated heredoc")},
      // JSON form has no heredocs: the body line is an instruction of its own
      {"RUN [\"cat\", \"<<EOF\"]\nEOF\n", {}, err(2, "unknown instruction: EOF")},
      {"COPY a <<EOF\nx\nEOF\n", {}, err(1, "COPY cannot accept a heredoc as a destination")},
  });
}

TEST_CASE("Dockerfile ENV, ARG, LABEL", "[build][dockerfile]") {
  check_rows({
      {"ENV A=1 B=\"two words\" C=three\\ words\n",
       {{1, 1, "env", {"A", "1", "B", "\"two words\"", "C", "three\\ words"}}}},
      {"ENV PATH /usr/bin:$PATH\n", {{1, 1, "env", {"PATH", "/usr/bin:$PATH"}}}},
      {"ENV A  \"x y\"   z\n", {{1, 1, "env", {"A", "\"x y\"   z"}}}},
      {"ENV A=\n", {{1, 1, "env", {"A", ""}}}},
      {"ENV A='single $x' B=\"a\\\"b\"\n",
       {{1, 1, "env", {"A", "'single $x'", "B", "\"a\\\"b\""}}}},
      {"ENV\n", {}, err(1, "ENV requires at least one argument")},
      {"FROM a\nENV A\n", {}, err(2, "ENV must have two arguments")},
      {"ENV A=1 B\n",
       {},
       err(1, "Syntax error - can't find = in \"B\". Must be of the form: name=value")},
      {"ENV =x\n", {}, err(1, "ENV names can not be blank")},
      {"ENV --x=1 A=1\n", {}, err(1, "unknown flag: --x")},
      {"ARG VERSION\n", {{1, 1, "arg", {"VERSION"}}}},
      {"ARG A=1 B C=\"x y\"\n", {{1, 1, "arg", {"A=1", "B", "C=\"x y\""}}}},
      {"ARG\n", {}, err(1, "ARG requires at least one argument")},
      {"ARG =x\n", {}, err(1, "ARG names can not be blank")},
      {"LABEL a=b \"c d\"=\"e f\" g=h\\ i\n",
       {{1, 1, "label", {"a", "b", "\"c d\"", "\"e f\"", "g", "h\\ i"}}}},
      {"LABEL version 1.0\n", {{1, 1, "label", {"version", "1.0"}}}},
      {"LABEL\n", {}, err(1, "LABEL requires at least one argument")},
      {"LABEL a\n", {}, err(1, "LABEL must have two arguments")},
      {"LABEL a=b c\n",
       {},
       err(1, "Syntax error - can't find = in \"c\". Must be of the form: name=value")},
  });
}

TEST_CASE("Dockerfile COPY, ADD, VOLUME, EXPOSE and one-argument instructions",
          "[build][dockerfile]") {
  check_rows({
      {"COPY --chown=1000:1000 --chmod=0755 src/ /app/\n",
       {{1, 1, "copy", {"src/", "/app/"}, {{"chown", "1000:1000"}, {"chmod", "0755"}}}}},
      {"COPY --from=build /out/bin /usr/local/bin/\n",
       {{1, 1, "copy", {"/out/bin", "/usr/local/bin/"}, {{"from", "build"}}}}},
      {"COPY --link --chown=\"app user\" a b\n",
       {{1, 1, "copy", {"a", "b"}, {{"link", "true"}, {"chown", "app user"}}}}},
      {"COPY --link=False a b\n", {{1, 1, "copy", {"a", "b"}, {{"link", "false"}}}}},
      {"COPY [\"a b\", \"/dst/\"]\n", {{1, 1, "copy", {"a b", "/dst/"}, {}, true}}},
      {"COPY a\n",
       {},
       err(1,
           "COPY requires at least two arguments, but only one was provided. Destination "
           "could not be determined")},
      {"COPY --checksum=sha256:x a b\n", {}, err(1, "unknown flag: --checksum")},
      {"COPY --link= a b\n", {}, err(1, "missing a value on flag: --link")},
      {"ADD --checksum=sha256:abc https://x/y.tgz /y\n",
       {{1, 1, "add", {"https://x/y.tgz", "/y"}, {{"checksum", "sha256:abc"}}}}},
      {"ADD --keep-git-dir=true https://github.com/x/y.git /src\n",
       {{1, 1, "add", {"https://github.com/x/y.git", "/src"}, {{"keep-git-dir", "true"}}}}},
      {"ADD --link=maybe a b\n", {}, err(1, "expecting boolean value for flag --link, not: maybe")},
      {"ADD --from=x a b\n", {}, err(1, "unknown flag: --from")},
      {"VOLUME [\"/data\", \"/logs\"]\n", {{1, 1, "volume", {"/data", "/logs"}, {}, true}}},
      {"VOLUME /data /logs\n", {{1, 1, "volume", {"/data", "/logs"}}}},
      {"VOLUME [\" \"]\n", {}, err(1, "VOLUME specified can not be an empty string")},
      {"VOLUME\n", {}, err(1, "VOLUME requires at least one argument")},
      {"EXPOSE 80/tcp 443 53/udp\n", {{1, 1, "expose", {"80/tcp", "443", "53/udp"}}}},
      {"EXPOSE\n", {}, err(1, "EXPOSE requires at least one argument")},
      {"WORKDIR /app/$NAME\n", {{1, 1, "workdir", {"/app/$NAME"}}}},
      {"WORKDIR\n", {}, err(1, "WORKDIR requires exactly one argument")},
      {"WORKDIR --x /a\n", {}, err(1, "unknown flag: --x")},
      {"USER app:app\n", {{1, 1, "user", {"app:app"}}}},
      {"USER\n", {}, err(1, "USER requires exactly one argument")},
      {"STOPSIGNAL SIGTERM\n", {{1, 1, "stopsignal", {"SIGTERM"}}}},
      {"STOPSIGNAL\n", {}, err(1, "STOPSIGNAL requires exactly one argument")},
      {"MAINTAINER Jane Doe <jane@example.com>\n",
       {{1, 1, "maintainer", {"Jane Doe <jane@example.com>"}}}},
      {"MAINTAINER\n", {}, err(1, "MAINTAINER requires exactly one argument")},
  });
}

TEST_CASE("Dockerfile HEALTHCHECK, SHELL, ONBUILD and unknown instructions",
          "[build][dockerfile]") {
  check_rows({
      {"HEALTHCHECK NONE\n", {{1, 1, "healthcheck", {"NONE"}}}},
      {"healthcheck none\n", {{1, 1, "healthcheck", {"NONE"}}}},
      {"HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s "
       "--retries=3 CMD curl -f http://localhost/ || exit 1\n",
       {{1,
         1,
         "healthcheck",
         {"CMD", "curl -f http://localhost/ || exit 1"},
         {{"interval", "30s"},
          {"timeout", "3s"},
          {"start-period", "5s"},
          {"start-interval", "1s"},
          {"retries", "3"}}}}},
      {"HEALTHCHECK CMD [\"curl\", \"-f\", \"x\"]\n",
       {{1, 1, "healthcheck", {"CMD", "curl", "-f", "x"}, {}, true}}},
      {"HEALTHCHECK NONE extra\n", {}, err(1, "HEALTHCHECK NONE takes no arguments")},
      {"HEALTHCHECK CMD\n", {}, err(1, "Missing command after HEALTHCHECK CMD")},
      {"HEALTHCHECK foo bar\n", {}, err(1, "Unknown type \"FOO\" in HEALTHCHECK (try CMD)")},
      {"HEALTHCHECK --foo=1 CMD x\n", {}, err(1, "unknown flag: --foo")},
      {"HEALTHCHECK\n", {}, err(1, "HEALTHCHECK requires at least one argument")},
      {"SHELL [\"powershell\", \"-command\"]\n",
       {{1, 1, "shell", {"powershell", "-command"}, {}, true}}},
      {"SHELL /bin/bash -c\n", {}, err(1, "SHELL requires the arguments to be in JSON form")},
      {"SHELL []\n", {}, err(1, "SHELL requires at least one argument")},
      {"ONBUILD RUN echo hi\n", {{1, 1, "onbuild", {"RUN echo hi"}}}},
      {"onbuild  copy --from=x a b\n", {{1, 1, "onbuild", {"copy --from=x a b"}}}},
      {"ONBUILD RUN <<EOF\nhi\nEOF\n",
       {{1, 3, "onbuild", {"RUN <<EOF\nhi\nEOF"}, {}, false, {{"EOF", "hi\n", true, false}}}}},
      {"ONBUILD ONBUILD RUN x\n",
       {},
       err(1, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")},
      {"ONBUILD FROM x\n", {}, err(1, "FROM isn't allowed as an ONBUILD trigger")},
      {"ONBUILD maintainer me\n", {}, err(1, "MAINTAINER isn't allowed as an ONBUILD trigger")},
      {"ONBUILD\n", {}, err(1, "ONBUILD requires at least one argument")},
      {"ONBUILD ENV a\n", {}, err(1, "ENV must have two arguments")},
      {"FROM a\nFOO bar\n", {}, err(2, "unknown instruction: FOO")},
      {"FROM a\nfoo\n", {}, err(2, "unknown instruction: FOO")},
      // the parser reads the whole file before the instructions are checked
      {"FOO\nENV a\n", {}, err(2, "ENV must have two arguments")},
  });
}

TEST_CASE("Dockerfile directives are reported", "[build][dockerfile]") {
  auto windows = parse_dockerfile("# syntax = docker/dockerfile:1.4 \n# escape=`\nFROM a\n");
  REQUIRE(windows.ok());
  CHECK(windows->escape == '`');
  CHECK(windows->syntax == "docker/dockerfile:1.4");
  auto plain = parse_dockerfile("FROM a\n");
  REQUIRE(plain.ok());
  CHECK(plain->escape == '\\');
  CHECK(plain->syntax.empty());
  CHECK(plain->warnings.empty());

  auto blank = parse_dockerfile("RUN a \\\n\n  b\n");
  REQUIRE(blank.ok());
  REQUIRE(blank->warnings.size() == 1);
  CHECK(blank->warnings[0] == "Empty continuation line found in: RUN a   b");
}

TEST_CASE("Dockerfile lines longer than Docker's scanner allows", "[build][dockerfile]") {
  auto r = parse_dockerfile("FROM a\nRUN " + std::string(70000, 'x') + "\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "dockerfile parse error line 2: dockerfile line greater than max allowed size of 65535");
}

TEST_CASE("Instruction::flag finds a flag's value", "[build][dockerfile]") {
  auto r = parse_dockerfile("COPY --from=a --chown=1:2 x y\n");
  REQUIRE(r.ok());
  const Instruction& copy = r->instructions.at(0);
  REQUIRE(copy.flag("chown") != nullptr);
  CHECK(*copy.flag("chown") == "1:2");
  CHECK(*copy.flag("from") == "a");
  CHECK(copy.flag("chmod") == nullptr);
  CHECK(copy.original == "COPY --from=a --chown=1:2 x y");
}

TEST_CASE("ONBUILD triggers parse again with parse_instruction", "[build][dockerfile]") {
  auto file = parse_dockerfile("ONBUILD RUN <<EOF\necho $A\nEOF\nONBUILD COPY --from=b a c\n");
  REQUIRE(file.ok());
  auto run = parse_instruction(file->instructions.at(0).args.at(0), '\\', 1);
  REQUIRE(run.ok());
  CHECK(run->command == "run");
  CHECK(run->args == std::vector<std::string>{"<<EOF"});
  REQUIRE(run->heredocs.size() == 1);
  CHECK(run->heredocs[0].content == "echo $A\n");

  auto copy = parse_instruction(file->instructions.at(1).args.at(0), '\\', 4);
  REQUIRE(copy.ok());
  CHECK(copy->line == 4);
  CHECK(copy->flags == Flags{{"from", "b"}});
  CHECK(copy->args == std::vector<std::string>{"a", "c"});

  auto bad = parse_instruction("WORKDIR", '\\', 7);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message ==
        "dockerfile parse error line 7: WORKDIR requires exactly one argument");
  auto windows = parse_instruction("RUN dir c:\\", '`', 2);
  REQUIRE(windows.ok());
  CHECK(windows->args == std::vector<std::string>{"dir c:\\"});
  // parse_instruction sees no parser directive
  auto comment = parse_instruction("# escape=`\nRUN a `\n", '\\', 1);
  REQUIRE(comment.ok());
  CHECK(comment->args == std::vector<std::string>{"a `"});
}
