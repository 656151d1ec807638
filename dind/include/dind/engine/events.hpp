#pragma once
// The engine's event bus (docker events): every object family publishes
// here; GET /events subscribes. A bounded history (the newest kHistory
// events) serves `since`. Thread-safe; sinks run under the bus's lock, so
// they must only queue (a BodyWriter write) and never publish.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dind::engine {

struct EventMessage {
  std::string type;    // container, image, network, volume, daemon
  std::string action;  // create, start, die, "exec_start: sh -c ...", ...
  std::string id;      // Actor.ID
  std::map<std::string, std::string> attributes;
  int64_t time_nano = 0;
};

// dockerd's events.Message: Type, Action, Actor, scope, time, timeNano, and
// the legacy status/id/from for containers (status/id for images).
nlohmann::json event_json(const EventMessage& e);

// dockerd's event filters: type, event (an exec's action matches by its
// name before ':'), container/image/network/volume (ID or name), label
// (key or key=value on the attributes), daemon, scope. The keys must have
// been checked (check_event_filters).
bool event_matches(const EventMessage& e, const std::map<std::string, std::vector<std::string>>& filters);
extern const std::vector<std::string> kEventFilterKeys;

class EventBus;
// Publishes on `bus` when there is one.
void publish_event(EventBus* bus, std::string type, std::string action, std::string id,
                   std::map<std::string, std::string> attributes = {});

class EventBus {
 public:
  static constexpr size_t kHistory = 1024;
  // A sink answers false to be dropped (its client went away).
  using Sink = std::function<bool(const EventMessage&)>;

  void publish(EventMessage e);  // time_nano set now when zero
  // Registers `sink` for the events after now and returns, in the same
  // moment, the kept events from since_nano to until_nano (0: unbounded)
  // that `filter` keeps, oldest first.
  uint64_t subscribe(const std::function<bool(const EventMessage&)>& filter, Sink sink, int64_t since_nano,
                     int64_t until_nano, std::vector<EventMessage>& history);
  void unsubscribe(uint64_t id);
  size_t subscribers() const;

 private:
  mutable std::mutex mu_;
  std::deque<EventMessage> history_;
  std::map<uint64_t, std::pair<std::function<bool(const EventMessage&)>, Sink>> sinks_;
  uint64_t next_ = 1;
};

}  // namespace dind::engine
