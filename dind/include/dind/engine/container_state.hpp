#pragma once
// The container lifecycle as one state machine: the states a container can be
// in, which operation each state admits (with dockerd's refusal messages),
// and which state an event leads to. Pure; the table is unit-tested.
//
//   created --start--> starting --started--> running --exited--> exited
//      ^                  |                  |  ^ pause/unpause       |
//      |               failed               paused                    |
//      +------------------+      running --exited+policy--> restarting --start--> starting
//   any but removing --remove--> removing --removed--> (gone)

#include <optional>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::engine {

enum class State { kCreated, kStarting, kRunning, kPaused, kRestarting, kExited, kRemoving };

// Docker's State.Status for a state ("starting" shows as "created" as dockerd
// does until the process runs; an exited container that never ran stays
// "created" in Docker's eyes but we keep what the record says).
std::string_view docker_status(State s);

// What a container's record keeps of the lifecycle (its State.Status on
// disk); starting, paused and removing are marks of the operation under way
// on top of it.
enum class RunStatus { kCreated, kRunning, kRestarting, kExited };
std::string_view run_status_name(RunStatus s);
// The record's text; a legacy "removing" reads as running (the shim is
// checked at load); nullopt for anything else.
std::optional<RunStatus> parse_run_status(std::string_view text);

enum class Op {
  kStart, kStop, kKill, kPause, kUnpause, kExec, kAttach, kResize, kTop, kUpdate, kRemove,
  kForceRemove, kRename,
};

// What an operation does in a state.
enum class Admission {
  kProceed,    // go ahead
  kUnchanged,  // nothing to do: the API's 304 (start a running, stop a stopped one)
};
// kProceed/kUnchanged, or the Conflict dockerd answers (409) for `id`;
// `ref` is the name the client used where dockerd's message repeats it
// (kill), `id` when empty.
base::Result<Admission> admit(State s, Op op, const std::string& id, const std::string& ref = "");

enum class Event {
  kStartBegun,      // a start (user's or policy's) took the container
  kStarted,         // the process runs
  kStartFailed,     // back to created (never ran) or exited (ran before)
  kExited,          // the process ended, no restart
  kRestartPending,  // ended, the policy restarts it after a delay
  kRestartCancelled,
  kPaused,
  kUnpaused,
  kRemoveBegun,
};
// The next state, or nullopt when the event cannot happen in `s` (a bug in
// the caller: it is logged and the state kept).
std::optional<State> next(State s, Event e, bool ran_before = false);

}  // namespace dind::engine
