#include "dind/engine/container_state.hpp"

namespace dind::engine {

using base::ErrorKind;
using base::make_error;

std::string_view docker_status(State s) {
  switch (s) {
    case State::kCreated:
    case State::kStarting:
      return "created";
    case State::kRunning:
      return "running";
    case State::kPaused:
      return "paused";
    case State::kRestarting:
      return "restarting";
    case State::kExited:
      return "exited";
    case State::kRemoving:
      return "removing";
  }
  return "dead";
}

std::string_view run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::kCreated:
      return "created";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kRestarting:
      return "restarting";
    case RunStatus::kExited:
      return "exited";
  }
  return "exited";
}

std::optional<RunStatus> parse_run_status(std::string_view text) {
  for (RunStatus s :
       {RunStatus::kCreated, RunStatus::kRunning, RunStatus::kRestarting, RunStatus::kExited}) {
    if (text == run_status_name(s)) {
      return s;
    }
  }
  if (text == "removing") {
    return RunStatus::kRunning;
  }
  return std::nullopt;
}

base::Result<Admission> admit(State s, Op op, const std::string& id, const std::string& ref) {
  auto conflict = [](std::string m) { return make_error(ErrorKind::kConflict, std::move(m)); };
  const std::string not_running = "Container " + id + " is not running";
  const bool live = s == State::kRunning || s == State::kPaused;
  switch (op) {
    case Op::kStart:
      if (s == State::kRunning) {
        return Admission::kUnchanged;
      }
      if (s == State::kPaused) {
        return conflict("cannot start a paused container, try unpause instead");
      }
      if (s == State::kRemoving) {
        return conflict("container is marked for removal and cannot be started");
      }
      if (s == State::kStarting) {
        return conflict("container " + id + " is being started or removed");
      }
      return Admission::kProceed;
    case Op::kStop:
      return live || s == State::kRestarting ? Admission::kProceed : Admission::kUnchanged;
    case Op::kKill:
      // A restarting container: the kill cancels the pending restart (as
      // dockerd tells its monitor not to restart).
      if (!live && s != State::kRestarting) {
        return conflict("Cannot kill container: " + (ref.empty() ? id : ref) + ": " + not_running);
      }
      return Admission::kProceed;
    case Op::kPause:
      if (s == State::kPaused) {
        return conflict("Container " + id + " is already paused");
      }
      if (s != State::kRunning) {
        return conflict(not_running);
      }
      return Admission::kProceed;
    case Op::kUnpause:
      if (s != State::kPaused) {
        return conflict("Container " + id + " is not paused");
      }
      return Admission::kProceed;
    case Op::kExec:
      if (s == State::kPaused) {
        return conflict("Container " + id + " is paused, unpause the container before exec");
      }
      if (s != State::kRunning) {
        return conflict(not_running);
      }
      return Admission::kProceed;
    case Op::kAttach:
      if (s == State::kPaused) {
        return conflict("You cannot attach to a paused container, unpause it first");
      }
      if (s == State::kRemoving) {
        return conflict("You cannot attach to a container that is being removed");
      }
      return Admission::kProceed;
    case Op::kResize:
    case Op::kTop:
      if (!live) {
        return conflict(not_running);
      }
      return Admission::kProceed;
    case Op::kUpdate:
    case Op::kRename:
      if (s == State::kRemoving) {
        return conflict("removal of container " + id + " is already in progress");
      }
      return Admission::kProceed;
    case Op::kRemove:
    case Op::kForceRemove:
      if (s == State::kRemoving) {
        return conflict("removal of container " + id + " is already in progress");
      }
      if (op == Op::kRemove && (live || s == State::kStarting)) {
        return conflict("You cannot remove a running container " + id +
                        ". Stop the container before attempting removal or force remove");
      }
      if (op == Op::kRemove && s == State::kRestarting) {
        return conflict("You cannot remove a restarting container " + id +
                        ". Stop the container before attempting removal or force remove");
      }
      return Admission::kProceed;
  }
  return make_error(ErrorKind::kInternal, "unknown operation");
}

std::optional<State> next(State s, Event e, bool ran_before) {
  switch (e) {
    case Event::kStartBegun:
      if (s == State::kCreated || s == State::kExited || s == State::kRestarting) {
        return State::kStarting;
      }
      break;
    case Event::kStarted:
      if (s == State::kStarting) {
        return State::kRunning;
      }
      break;
    case Event::kStartFailed:
      if (s == State::kStarting) {
        return ran_before ? State::kExited : State::kCreated;
      }
      break;
    case Event::kExited:
      if (s == State::kRunning || s == State::kPaused || s == State::kRemoving) {
        return s == State::kRemoving ? State::kRemoving : State::kExited;
      }
      break;
    case Event::kRestartPending:
      if (s == State::kRunning || s == State::kPaused || s == State::kStarting) {
        return State::kRestarting;
      }
      break;
    case Event::kRestartCancelled:
      if (s == State::kRestarting) {
        return State::kExited;
      }
      break;
    case Event::kPaused:
      if (s == State::kRunning) {
        return State::kPaused;
      }
      break;
    case Event::kUnpaused:
      if (s == State::kPaused) {
        return State::kRunning;
      }
      break;
    case Event::kRemoveBegun:
      if (s != State::kRemoving) {
        return State::kRemoving;
      }
      break;
  }
  return std::nullopt;
}

}  // namespace dind::engine
