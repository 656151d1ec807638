#include "dind/api/filters.hpp"

#include <nlohmann/json.hpp>
#include <cstdlib>
#include <regex>

#include "dind/base/time.hpp"

namespace dind::api {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

base::Result<Filters> filters_of(const Request& req) {
  Filters out;
  auto f = req.query_value("filters");
  if (!f || f->empty()) {
    return out;
  }
  auto j = json::parse(*f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
  }
  for (auto& [k, v] : j.items()) {
    auto& list = out[k];
    if (v.is_array()) {
      for (auto& e : v) {
        if (!e.is_string()) {
          return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
        }
        list.push_back(e.get<std::string>());
      }
    } else if (v.is_object()) {
      for (auto& [e, on] : v.items()) {
        if (!on.is_boolean()) {
          return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
        }
        if (on.get<bool>()) {
          list.push_back(e);
        }
      }
    } else {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter: " + *f);
    }
  }
  return out;
}

base::Status check_filter_keys(const Filters& filters, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, unused] : filters) {
    (void)unused;
    bool ok = false;
    for (auto a : allowed) {
      ok = ok || a == k;
    }
    if (!ok) {
      return make_error(ErrorKind::kInvalidArgument, "Invalid filter '" + k + "'");
    }
  }
  return {};
}

bool match_any(const std::vector<std::string>& patterns, const std::string& text) {
  for (const auto& p : patterns) {
    if (p == text) {
      return true;
    }
    try {
      if (std::regex_search(text, std::regex(p, std::regex::ECMAScript))) {
        return true;
      }
    } catch (const std::regex_error&) {
      // Not a pattern: only the exact comparison above.
    }
  }
  return false;
}

bool labels_match(const std::vector<std::string>& wanted, const std::map<std::string, std::string>& labels) {
  for (const auto& w : wanted) {
    const auto eq = w.find('=');
    const auto it = labels.find(w.substr(0, eq));
    if (it == labels.end() || (eq != std::string::npos && it->second != w.substr(eq + 1))) {
      return false;
    }
  }
  return true;
}

base::Result<bool> bool_filter(const Filters& filters, const std::string& key) {
  const auto it = filters.find(key);
  bool value = false;
  if (it == filters.end()) {
    return value;
  }
  for (const auto& v : it->second) {
    if (v == "true" || v == "1") {
      value = true;
    } else if (v == "false" || v == "0") {
      value = false;
    } else {
      return make_error(ErrorKind::kInvalidArgument, "Invalid filter '" + key + "=[" + v + "]'");
    }
  }
  return value;
}

base::Result<int64_t> until_filter(const std::string& value) {
  auto bad = [&] {
    return make_error(ErrorKind::kInvalidArgument,
                      "failed to parse value as time or duration: \"" + value + "\"");
  };
  if (value.empty()) {
    return bad();
  }
  char* end = nullptr;
  const double secs = std::strtod(value.c_str(), &end);
  if (*end == '\0' && std::isdigit(static_cast<unsigned char>(value[0]))) {
    return static_cast<int64_t>(secs);
  }
  if (value.size() >= 10 && value[4] == '-' && value[7] == '-') {
    const int64_t t = base::parse_time_secs(value.size() == 10 ? value + "T00:00:00Z" : value);
    if (t <= 0) {
      return bad();
    }
    return t;
  }
  // A Go duration: number+unit pairs.
  double total = 0;
  size_t i = 0;
  while (i < value.size()) {
    const char* start = value.c_str() + i;
    const double n = std::strtod(start, &end);
    if (end == start) {
      return bad();
    }
    i = static_cast<size_t>(end - value.c_str());
    size_t j = i;
    while (j < value.size() && std::isalpha(static_cast<unsigned char>(value[j]))) {
      ++j;
    }
    const std::string unit = value.substr(i, j - i);
    static const std::map<std::string, double> kUnits = {
        {"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
    auto u = kUnits.find(unit);
    if (u == kUnits.end()) {
      return bad();
    }
    total += n * u->second;
    i = j;
  }
  return base::now_secs() - static_cast<int64_t>(total);
}

base::Result<PruneWanted> prune_filter(const Filters& f, std::initializer_list<std::string_view> allowed) {
  DIND_TRY(check_filter_keys(f, allowed));
  std::optional<int64_t> until;
  if (auto it = f.find("until"); it != f.end() && !it->second.empty()) {
    DIND_ASSIGN_OR_RETURN(until, until_filter(it->second.back()));
  }
  auto labels = f.count("label") ? f.at("label") : std::vector<std::string>{};
  auto not_labels = f.count("label!") ? f.at("label!") : std::vector<std::string>{};
  return PruneWanted([until, labels, not_labels](int64_t created, const std::map<std::string, std::string>& l) {
    if (until && created >= *until) {
      return false;
    }
    for (const auto& n : not_labels) {
      if (labels_match({n}, l)) {
        return false;
      }
    }
    return labels_match(labels, l);
  });
}

}  // namespace dind::api
