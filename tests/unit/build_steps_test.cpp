#include <catch2/catch.hpp>

#include "../../dind/src/build/steps.hpp"

using namespace dind::build;

namespace {

Instruction ins(std::string command, std::vector<std::string> args, bool json = false,
                std::vector<std::pair<std::string, std::string>> flags = {}) {
  Instruction i;
  i.line = 1;
  i.command = std::move(command);
  i.args = std::move(args);
  i.json = json;
  i.flags = std::move(flags);
  return i;
}

std::string apply(const Instruction& i, StageState& s) {
  std::string maintainer;
  auto r = apply_metadata(i, s, '\\', maintainer);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("Go's duration and quoting, as dockerd's history prints them", "[build][steps]") {
  CHECK(go_duration(0) == "0s");
  CHECK(go_duration(5'000'000'000) == "5s");
  CHECK(go_duration(90'000'000'000) == "1m30s");
  CHECK(go_duration(3'600'000'000'000) == "1h0m0s");
  CHECK(go_duration(1'500'000'000) == "1.5s");
  CHECK(go_duration(1'500'000) == "1.5ms");
  CHECK(go_duration(300) == "300ns");
  CHECK(go_quote("a \"b\"\\\n") == "\"a \\\"b\\\"\\\\\\n\"");
  CHECK(go_quote_list({"cat", "/hello.txt"}) == "[\"cat\" \"/hello.txt\"]");
  CHECK(go_quote_list({}) == "[]");
  CHECK(*parse_go_duration("1m30s") == 90'000'000'000);
  CHECK(*parse_go_duration("1.5h") == 5'400'000'000'000);
  CHECK(*parse_go_duration("300ms") == 300'000'000);
  CHECK(*parse_go_duration("0") == 0);
  CHECK_FALSE(parse_go_duration("10").ok());
  CHECK_FALSE(parse_go_duration("5x").ok());
  CHECK_FALSE(parse_go_duration("").ok());
}

TEST_CASE("WORKDIR paths join and clean", "[build][steps]") {
  CHECK(join_workdir("", "/app") == "/app");
  CHECK(join_workdir("/app", "sub") == "/app/sub");
  CHECK(join_workdir("/app", "../x/./y/") == "/x/y");
  CHECK(join_workdir("", "rel") == "/rel");
  CHECK(join_workdir("/a", "/../..") == "/");
}

TEST_CASE("metadata instructions change the config and give dockerd's comments", "[build][steps]") {
  StageState s;
  s.config.env = dind::model::Strings{"PATH=/bin"};
  CHECK(apply(ins("env", {"A", "1", "B", "\"two words\""}), s) == "ENV A=1 B=two words");
  CHECK(*s.config.env == dind::model::Strings{"PATH=/bin", "A=1", "B=two words"});
  CHECK(apply(ins("env", {"A", "${A}0"}), s) == "ENV A=10");
  CHECK((*s.config.env)[1] == "A=10");
  CHECK(apply(ins("label", {"spy", "1", "x.y", "$A"}), s) == "LABEL spy=1 x.y=10");
  CHECK(s.config.labels.at("x.y") == "10");
  CHECK(apply(ins("cmd", {"cat", "/hello.txt"}, true), s) == "CMD [\"cat\" \"/hello.txt\"]");
  CHECK(apply(ins("entrypoint", {"echo hi"}), s) == "ENTRYPOINT [\"/bin/sh\" \"-c\" \"echo hi\"]");
  CHECK(s.config.cmd.has_value());  // a CMD of this stage survives ENTRYPOINT
  CHECK(apply(ins("expose", {"80 9000-9001/udp"}), s) == "EXPOSE 80 9000-9001/udp");
  CHECK(s.config.exposed_ports == std::set<std::string>{"80/tcp", "9000/udp", "9001/udp"});
  CHECK(apply(ins("volume", {"/data", "/logs"}, true), s) == "VOLUME [/data /logs]");
  CHECK(apply(ins("user", {"app"}), s) == "USER app");
  CHECK(apply(ins("workdir", {"/srv"}), s) == "WORKDIR /srv");
  CHECK(apply(ins("workdir", {"sub"}), s) == "WORKDIR /srv/sub");
  CHECK(apply(ins("stopsignal", {"SIGINT"}), s) == "STOPSIGNAL SIGINT");
  CHECK(apply(ins("shell", {"/bin/bash", "-c"}, true), s) == "SHELL [/bin/bash -c]");
  CHECK(apply(ins("cmd", {"run it"}), s) == "CMD [\"/bin/bash\" \"-c\" \"run it\"]");
  CHECK(apply(ins("onbuild", {"RUN echo hi"}), s) == "ONBUILD RUN echo hi");
  CHECK(apply(ins("healthcheck", {"CMD", "true"}, false, {{"interval", "5s"}, {"retries", "3"}}), s) ==
        "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" '\\x03'}");
  CHECK(apply(ins("healthcheck", {"NONE"}), s) == "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}");
  std::string maintainer;
  CHECK(*apply_metadata(ins("maintainer", {"me <me@x>"}), s, '\\', maintainer) == "MAINTAINER me <me@x>");
  CHECK(maintainer == "me <me@x>");
}

TEST_CASE("ENTRYPOINT without a CMD in the stage drops the image's CMD", "[build][steps]") {
  StageState s;
  s.config.cmd = dind::model::Strings{"sh"};
  apply(ins("entrypoint", {"top"}, true), s);
  CHECK_FALSE(s.config.cmd.has_value());
}

TEST_CASE("metadata errors", "[build][steps]") {
  StageState s;
  std::string m;
  CHECK_FALSE(apply_metadata(ins("expose", {"http"}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("expose", {"70000"}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("shell", {"/bin/sh -c"}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("healthcheck", {"CMD", "x"}, false, {{"interval", "1"}}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("healthcheck", {"CMD", "x"}, false, {{"interval", "10us"}}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("healthcheck", {"BOGUS"}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("healthcheck", {"CMD", "x"}, false, {{"retries", "-1"}}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("volume", {""}, true), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("user", {}), s, '\\', m).ok());
  CHECK_FALSE(apply_metadata(ins("env", {"${A:?must be set}", "x"}), s, '\\', m).ok());
}

TEST_CASE("build arguments: declared, given, builtin, recorded", "[build][steps]") {
  StageState s;
  s.args.given = {{"WHO", "spy"}, {"HTTP_PROXY", "http://p"}, {"UNUSED", "x"}};
  CHECK(apply(ins("arg", {"WHO=world"}), s) == "ARG WHO=world");
  CHECK(apply(ins("arg", {"EMPTY"}), s) == "ARG EMPTY");
  CHECK(apply(ins("arg", {"DEF=${WHO}-d"}), s) == "ARG DEF=spy-d");
  CHECK(*s.args.value("WHO") == "spy");
  CHECK_FALSE(s.args.value("EMPTY").has_value());
  CHECK_FALSE(s.args.value("UNUSED").has_value());
  dind::model::OptStrings env = dind::model::Strings{"DEF=from-env"};
  CHECK(s.args.allowed(env) == std::vector<std::string>{"HTTP_PROXY=http://p", "WHO=spy"});
  CHECK(s.args.recorded(env) == std::vector<std::string>{"WHO=spy"});
  // Expansion sees ENV before ARG.
  s.config.env = env;
  CHECK(*expansion_env(s)("DEF") == "from-env");
  CHECK(*expansion_env(s)("WHO") == "spy");
  // A global ARG redeclared without a value takes the global value.
  StageState t;
  t.args.global = {{"BASE", "busybox"}};
  apply(ins("arg", {"BASE"}), t);
  CHECK(*t.args.value("BASE") == "busybox");
}
