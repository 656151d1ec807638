// The container lifecycle table: every (state, operation) pair admitted,
// unchanged (304) or refused with dockerd's message; every (state, event)
// transition.

#include <catch2/catch.hpp>

#include "dind/engine/container_state.hpp"

using namespace dind::engine;

namespace {

constexpr State kStates[] = {State::kCreated, State::kStarting,   State::kRunning, State::kPaused,
                             State::kRestarting, State::kExited, State::kRemoving};

// P proceed, U unchanged (304), C conflict (409)
struct Row {
  Op op;
  const char* expect;  // one letter per state, in kStates order
};

}  // namespace

TEST_CASE("each state admits or refuses each operation", "[engine][state]") {
  //                         cre sta run pau rst exi rem
  const Row table[] = {
      {Op::kStart,       "PCUCPPC"},
      {Op::kStop,        "UUPPPUU"},
      {Op::kKill,        "CCPPPCC"},
      {Op::kPause,       "CCPCCCC"},
      {Op::kUnpause,     "CCCPCCC"},
      {Op::kExec,        "CCPCCCC"},
      {Op::kAttach,      "PPPCPPC"},
      {Op::kResize,      "CCPPCCC"},
      {Op::kTop,         "CCPPCCC"},
      {Op::kUpdate,      "PPPPPPC"},
      {Op::kRename,      "PPPPPPC"},
      {Op::kRemove,      "PCCCCPC"},
      {Op::kForceRemove, "PPPPPPC"},
  };
  for (const auto& row : table) {
    for (size_t i = 0; i < std::size(kStates); ++i) {
      INFO("op " << static_cast<int>(row.op) << " in " << docker_status(kStates[i]) << " (#" << i << ")");
      auto r = admit(kStates[i], row.op, "abc");
      const char got = !r ? 'C' : *r == Admission::kUnchanged ? 'U' : 'P';
      CHECK(got == row.expect[i]);
      if (!r) {
        CHECK(r.error().kind == dind::base::ErrorKind::kConflict);
        CHECK_FALSE(r.error().message.empty());
      }
    }
  }
}

TEST_CASE("refusals carry dockerd's messages", "[engine][state]") {
  CHECK(admit(State::kPaused, Op::kExec, "abc").error().message ==
        "Container abc is paused, unpause the container before exec");
  CHECK(admit(State::kExited, Op::kExec, "abc").error().message == "Container abc is not running");
  CHECK(admit(State::kPaused, Op::kPause, "abc").error().message == "Container abc is already paused");
  CHECK(admit(State::kRunning, Op::kUnpause, "abc").error().message == "Container abc is not paused");
  CHECK(admit(State::kRemoving, Op::kStart, "abc").error().message ==
        "container is marked for removal and cannot be started");
  CHECK(admit(State::kPaused, Op::kStart, "abc").error().message ==
        "cannot start a paused container, try unpause instead");
  CHECK(admit(State::kRunning, Op::kRemove, "abc").error().message ==
        "You cannot remove a running container abc. Stop the container before attempting removal or "
        "force remove");
  CHECK(admit(State::kExited, Op::kKill, "abc").error().message ==
        "Cannot kill container: abc: Container abc is not running");
}

TEST_CASE("events move the lifecycle, impossible ones are refused", "[engine][state]") {
  CHECK(next(State::kCreated, Event::kStartBegun) == State::kStarting);
  CHECK(next(State::kExited, Event::kStartBegun) == State::kStarting);
  CHECK(next(State::kRestarting, Event::kStartBegun) == State::kStarting);
  CHECK(next(State::kRunning, Event::kStartBegun) == std::nullopt);
  CHECK(next(State::kRemoving, Event::kStartBegun) == std::nullopt);
  CHECK(next(State::kStarting, Event::kStarted) == State::kRunning);
  CHECK(next(State::kCreated, Event::kStarted) == std::nullopt);
  CHECK(next(State::kStarting, Event::kStartFailed, false) == State::kCreated);
  CHECK(next(State::kStarting, Event::kStartFailed, true) == State::kExited);
  CHECK(next(State::kRunning, Event::kExited) == State::kExited);
  CHECK(next(State::kPaused, Event::kExited) == State::kExited);
  CHECK(next(State::kRemoving, Event::kExited) == State::kRemoving);
  CHECK(next(State::kCreated, Event::kExited) == std::nullopt);
  CHECK(next(State::kRunning, Event::kRestartPending) == State::kRestarting);
  CHECK(next(State::kRestarting, Event::kRestartCancelled) == State::kExited);
  CHECK(next(State::kRunning, Event::kPaused) == State::kPaused);
  CHECK(next(State::kPaused, Event::kPaused) == std::nullopt);
  CHECK(next(State::kPaused, Event::kUnpaused) == State::kRunning);
  CHECK(next(State::kExited, Event::kRemoveBegun) == State::kRemoving);
  CHECK(next(State::kRemoving, Event::kRemoveBegun) == std::nullopt);
  for (State s : kStates) {
    CHECK_FALSE(docker_status(s).empty());
  }
  CHECK(docker_status(State::kStarting) == "created");
  CHECK(docker_status(State::kPaused) == "paused");
}

TEST_CASE("the record's status: names round-trip, a legacy removing reads as running",
          "[engine][state]") {
  for (RunStatus s :
       {RunStatus::kCreated, RunStatus::kRunning, RunStatus::kRestarting, RunStatus::kExited}) {
    CHECK(parse_run_status(run_status_name(s)) == s);
  }
  CHECK(parse_run_status("removing") == RunStatus::kRunning);
  for (const char* bad : {"", "paused", "dead", "Running", "starting"}) {
    INFO(bad);
    CHECK_FALSE(parse_run_status(bad).has_value());
  }
}
