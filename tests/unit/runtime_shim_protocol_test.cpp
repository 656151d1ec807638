// The shim codec: every message both sides exchange, byte for byte, round
// trips, and what a confused or hostile peer could send.

#include <catch2/catch.hpp>

#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_protocol.hpp"

using namespace dind::runtime;
namespace proto = dind::runtime::shim_protocol;
using dind::base::ErrorKind;

TEST_CASE("sync reports and orders", "[runtime][shim]") {
  CHECK(proto::encode(proto::Created{42, 7}) == "P 42 7");
  CHECK(proto::encode(proto::Failed{"no such file"}) == "E no such file");
  CHECK(proto::encode(proto::Started{}) == "R");
  auto created = proto::decode_report("P 42 7");
  REQUIRE(created);
  REQUIRE(std::holds_alternative<proto::Created>(*created));
  CHECK(std::get<proto::Created>(*created).init_pid == 42);
  CHECK(std::get<proto::Created>(*created).shim_pid == 7);
  auto failed = proto::decode_report("E runc: exec: \"x\": not found");
  REQUIRE(failed);
  CHECK(std::get<proto::Failed>(*failed).reason == "runc: exec: \"x\": not found");
  CHECK(std::holds_alternative<proto::Started>(*proto::decode_report("R")));
  for (const char* bad : {"", "P", "P 1", "P 0 7", "P -1 7", "P 1 x", "P 1 2 3", "P 99999999999 1", "X", "R ",
                          "E", "p 1 2"}) {
    INFO(bad);
    auto r = proto::decode_report(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::kInvalidArgument);
  }
  CHECK(proto::encode(proto::Order::kStart) == "S");
  CHECK(proto::encode(proto::Order::kAbort) == "A");
  CHECK(proto::decode_order("S") == proto::Order::kStart);
  CHECK(proto::decode_order("A") == proto::Order::kAbort);
  CHECK_FALSE(proto::decode_order(""));
  CHECK_FALSE(proto::decode_order("SA"));
}

TEST_CASE("attach socket commands, whole and in pieces", "[runtime][shim]") {
  const std::string id(64, 'a');
  CHECK(proto::encode(proto::Attach{kAttachStdout | kAttachStderr}) == std::string("a\x06", 2));
  CHECK(proto::encode(proto::Resize{0x0102, 0x0304, ""}) == std::string("r\x01\x02\x03\x04\x00", 6));
  const std::string r = proto::encode(proto::Resize{24, 80, id});
  CHECK(r.size() == 6 + 64);
  CHECK(r.substr(6) == id);
  const std::string x = proto::encode(proto::Exec{kAttachStdout | kAttachStderr, kExecTty, id});
  CHECK(x == std::string("x\x06\x01", 3) + id);

  for (const std::string& msg : {proto::encode(proto::Attach{7}), r, x,
                                 proto::encode(proto::Resize{65535, 1, ""})}) {
    // Every prefix is incomplete; the whole message decodes; what follows stays.
    for (size_t n = 0; n < msg.size(); ++n) {
      auto partial = proto::decode_command(msg.substr(0, n));
      REQUIRE(partial);
      CHECK_FALSE(*partial);
    }
    auto whole = proto::decode_command(msg + "stdin bytes");
    REQUIRE(whole);
    REQUIRE(*whole);
    CHECK((*whole)->used == msg.size());
    CHECK(proto::encode((*whole)->command) == msg);
  }
  auto resize = proto::decode_command(proto::encode(proto::Resize{65535, 1, ""}));
  CHECK(std::get<proto::Resize>((**resize).command).rows == 65535);

  auto bad_cmd = proto::decode_command("z");
  REQUIRE_FALSE(bad_cmd);
  auto bad_id = proto::decode_command(std::string("x\x06\x01", 3) + "../" + std::string(61, 'a'));
  REQUIRE_FALSE(bad_id);
  auto bad_resize_id = proto::decode_command(std::string("r\0\1\0\1\3", 6) + "../");
  REQUIRE_FALSE(bad_resize_id);
}

TEST_CASE("exec IDs and answers", "[runtime][shim]") {
  CHECK(proto::valid_exec_id(std::string(64, '0')));
  CHECK_FALSE(proto::valid_exec_id(std::string(63, 'a')));
  CHECK_FALSE(proto::valid_exec_id(std::string(65, 'a')));
  CHECK_FALSE(proto::valid_exec_id(std::string(64, 'A')));
  CHECK(proto::exec_started(1234) == "K1234\n");
  CHECK(proto::exec_refused("exec failed:\nline two") == "Eexec failed: line two\n");
  CHECK(*proto::decode_exec_answer("K1234\n") == 1234);
  auto refused = proto::decode_exec_answer("Eexec: \"nope\": executable file not found in $PATH\n");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::kInternal);
  CHECK(refused.error().message == "exec: \"nope\": executable file not found in $PATH");
  for (const char* bad : {"", "\n", "K\n", "K0\n", "Kx\n", "Z1\n"}) {
    INFO(bad);
    auto r = proto::decode_exec_answer(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::kInvalidArgument);
  }
}
