// docker top's planners: ps_args become an argument vector (no shell), the
// output is cut to the container's processes.

#include <catch2/catch.hpp>

#include "engine/top.hpp"

using namespace dind::engine;

TEST_CASE("ps_args are an argument vector, never shell text", "[engine][top]") {
  CHECK(*ps_argv("") == std::vector<std::string>{"ps", "-ef"});
  CHECK(*ps_argv("  aux ") == std::vector<std::string>{"ps", "aux"});
  CHECK(*ps_argv("-o pid,args") == std::vector<std::string>{"ps", "-o", "pid,args"});
  // Shell syntax stays inert text in ps's arguments.
  CHECK(*ps_argv("-ef\nid") == std::vector<std::string>{"ps", "-ef", "id"});
  CHECK(*ps_argv("-ef;id") == std::vector<std::string>{"ps", "-ef;id"});
  CHECK(*ps_argv("-ef $(id) `id`") == std::vector<std::string>{"ps", "-ef", "$(id)", "`id`"});
  CHECK(*ps_argv("-o pid=PID") == std::vector<std::string>{"ps", "-o", "pid=PID"});
  auto renamed = ps_argv("-o user=PID");
  REQUIRE_FALSE(renamed);
  CHECK(renamed.error().message == "specifying \"user=PID\" is not allowed");
}

TEST_CASE("ps output is cut to the container's processes", "[engine][top]") {
  const std::string out =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
      "root         100       1  0 10:01 ?        00:00:00 sleep 100\n"
      "root         101     100  0 10:01 ?        00:00:00 sh -c echo  two  spaces\n";
  auto top = parse_ps(out, {100, 101});
  REQUIRE(top);
  CHECK(top->titles == std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"});
  REQUIRE(top->processes.size() == 2);
  CHECK(top->processes[0][7] == "sleep 100");
  CHECK(top->processes[1][7] == "sh -c echo  two  spaces");
  auto none = parse_ps("USER COMMAND\nroot init\n", {1});
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "Couldn't find PID field in ps output");
  // Short or malformed rows are skipped, not misread.
  auto odd = parse_ps("PID CMD\n\nabc x\n7\n", {7});
  REQUIRE(odd);
  CHECK(odd->processes == std::vector<std::vector<std::string>>{{"7", ""}});
}
