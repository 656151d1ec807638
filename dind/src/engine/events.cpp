#include "dind/engine/events.hpp"

#include <algorithm>
#include <chrono>

namespace dind::engine {
using nlohmann::json;

const std::vector<std::string> kEventFilterKeys = {"config", "container", "daemon", "event", "image",
                                                   "label", "network", "node", "plugin", "scope",
                                                   "secret", "service", "type", "volume"};

json event_json(const EventMessage& e) {
  json j = json::object();
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (e.type == "container") {
      auto image = e.attributes.find("image");
      if (image != e.attributes.end()) {
        j["from"] = image->second;
      }
    }
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  json attrs = json::object();
  for (const auto& [k, v] : e.attributes) {
    attrs[k] = v;
  }
  j["Actor"] = {{"ID", e.id}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time_nano / 1'000'000'000;
  j["timeNano"] = e.time_nano;
  return j;
}

namespace {

std::string attribute(const EventMessage& e, const char* key) {
  auto it = e.attributes.find(key);
  return it == e.attributes.end() ? "" : it->second;
}

// An ID (or its prefix, as dockerd's filter takes full IDs and names) or a name.
bool names_actor(const std::vector<std::string>& wanted, const std::string& id, const std::string& name) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
    return (!w.empty() && id.rfind(w, 0) == 0) || (!name.empty() && w == name);
  });
}

bool has(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

bool event_matches(const EventMessage& e, const std::map<std::string, std::vector<std::string>>& filters) {
  for (const auto& [key, values] : filters) {
    if (values.empty()) {
      continue;
    }
    if (key == "type" && !has(values, e.type)) {
      return false;
    }
    if (key == "event") {
      const std::string action = e.action.substr(0, e.action.find(':'));
      if (!has(values, e.action) && !has(values, action)) {
        return false;
      }
    }
    if (key == "scope" && !has(values, "local")) {
      return false;
    }
    if (key == "daemon" && e.type != "daemon") {
      return false;
    }
    if (key == "container") {
      // Container events by actor; network/volume events naming a container by attribute.
      const bool own = e.type == "container" && names_actor(values, e.id, attribute(e, "name"));
      const bool mentioned = e.type != "container" && !attribute(e, "container").empty() &&
                             names_actor(values, attribute(e, "container"), "");
      if (!own && !mentioned) {
        return false;
      }
    }
    if (key == "image") {
      const std::string image = e.type == "container" ? attribute(e, "image") : "";
      const bool match = std::any_of(values.begin(), values.end(), [&](const std::string& w) {
        return (e.type == "image" && (e.id == w || attribute(e, "name") == w)) ||
               (!image.empty() && (image == w || image == w + ":latest"));
      });
      if (!match) {
        return false;
      }
    }
    if (key == "network" && !(e.type == "network" && names_actor(values, e.id, attribute(e, "name")))) {
      return false;
    }
    if (key == "volume" && !(e.type == "volume" && has(values, e.id))) {
      return false;
    }
    if (key == "label") {
      for (const auto& want : values) {
        const auto eq = want.find('=');
        auto it = e.attributes.find(want.substr(0, eq));
        if (it == e.attributes.end() || (eq != std::string::npos && it->second != want.substr(eq + 1))) {
          return false;
        }
      }
    }
    if (key == "node" || key == "plugin" || key == "service" || key == "secret" || key == "config") {
      return false;  // none of these exist here
    }
  }
  return true;
}

void publish_event(EventBus* bus, std::string type, std::string action, std::string id,
                   std::map<std::string, std::string> attributes) {
  if (bus != nullptr) {
    bus->publish(EventMessage{std::move(type), std::move(action), std::move(id), std::move(attributes), 0});
  }
}

void EventBus::publish(EventMessage e) {
  if (e.time_nano == 0) {
    e.time_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  }
  std::lock_guard lock(mu_);
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    if (it->second.first && !it->second.first(e)) {
      ++it;
      continue;
    }
    it = it->second.second(e) ? std::next(it) : sinks_.erase(it);
  }
  history_.push_back(std::move(e));
  if (history_.size() > kHistory) {
    history_.pop_front();
  }
}

uint64_t EventBus::subscribe(const std::function<bool(const EventMessage&)>& filter, Sink sink,
                             int64_t since_nano, int64_t until_nano, std::vector<EventMessage>& history) {
  std::lock_guard lock(mu_);
  for (const auto& e : history_) {
    if (e.time_nano >= since_nano && (until_nano == 0 || e.time_nano <= until_nano) &&
        (!filter || filter(e))) {
      history.push_back(e);
    }
  }
  const uint64_t id = next_++;
  sinks_.emplace(id, std::make_pair(filter, std::move(sink)));
  return id;
}

void EventBus::unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  sinks_.erase(id);
}

size_t EventBus::subscribers() const {
  std::lock_guard lock(mu_);
  return sinks_.size();
}

}  // namespace dind::engine
