#pragma once
// Reads the members of a JSON object into typed fields the way Go's
// encoding/json does (internal to model/): absent or null keeps the zero
// value, a wrong type is an error naming `Owner.Key` in Go's words.

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/model/container.hpp"

namespace dind::model::detail {

using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

// Go's name for a JSON value's kind in its unmarshal errors.
inline std::string go_kind(const json& v) {
  if (v.is_string()) {
    return "string";
  }
  if (v.is_boolean()) {
    return "bool";
  }
  if (v.is_number()) {
    return "number " + v.dump();
  }
  return v.is_array() ? "array" : "object";
}

// One JSON object's members.
class Reader {
 public:
  Reader(const json& obj, std::string owner) : obj_(obj), owner_(std::move(owner)) {}

  // The member `key` when present and not null.
  const json* find(const char* key) const {
    if (!obj_.is_object()) {
      return nullptr;
    }
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  base::Error mismatch(const char* key, const json& v, const char* go_type) const {
    return make_error(ErrorKind::kInvalidArgument, "json: cannot unmarshal " + go_kind(v) +
                                                       " into Go struct field " + owner_ + "." +
                                                       key + " of type " + go_type);
  }

  base::Status get(const char* key, std::string& out) const {
    if (const json* v = find(key)) {
      if (!v->is_string()) {
        return mismatch(key, *v, "string");
      }
      out = v->get<std::string>();
    }
    return {};
  }
  base::Status get(const char* key, bool& out) const {
    if (const json* v = find(key)) {
      if (!v->is_boolean()) {
        return mismatch(key, *v, "bool");
      }
      out = v->get<bool>();
    }
    return {};
  }
  base::Status get(const char* key, std::optional<bool>& out) const {
    if (find(key) != nullptr) {
      bool b = false;
      DIND_TRY(get(key, b));
      out = b;
    }
    return {};
  }
  base::Status get(const char* key, int64_t& out) const {
    if (const json* v = find(key)) {
      DIND_ASSIGN_OR_RETURN(out, integer(key, *v));
    }
    return {};
  }
  base::Status get(const char* key, std::optional<int64_t>& out) const {
    if (const json* v = find(key)) {
      DIND_ASSIGN_OR_RETURN(out, integer(key, *v));
    }
    return {};
  }
  base::Status get(const char* key, std::vector<int64_t>& out) const {
    if (const json* v = find(key)) {
      if (!v->is_array()) {
        return mismatch(key, *v, "[]uint");
      }
      out.clear();
      for (const auto& e : *v) {
        DIND_ASSIGN_OR_RETURN(auto n, integer(key, e));
        out.push_back(n);
      }
    }
    return {};
  }
  base::Status get(const char* key, Strings& out) const {
    OptStrings list;
    DIND_TRY(get(key, list));
    out = list.value_or(Strings{});
    return {};
  }
  base::Status get(const char* key, OptStrings& out) const {
    if (const json* v = find(key)) {
      if (!v->is_array()) {
        return mismatch(key, *v, "[]string");
      }
      out.emplace();
      for (const auto& e : *v) {
        if (!e.is_string()) {
          return mismatch(key, e, "string");
        }
        out->push_back(e.get<std::string>());
      }
    }
    return {};
  }
  // Docker's StrSlice: a string or a list of strings.
  base::Status get_str_slice(const char* key, OptStrings& out) const {
    if (const json* v = find(key); v != nullptr && v->is_string()) {
      out = Strings{v->get<std::string>()};
      return {};
    }
    return get(key, out);
  }
  base::Status get(const char* key, StringMap& out) const {
    if (const json* v = find(key)) {
      if (!v->is_object()) {
        return mismatch(key, *v, "map[string]string");
      }
      out.clear();
      for (const auto& [k, e] : v->items()) {
        if (!e.is_string() && !e.is_null()) {
          return mismatch(key, e, "string");
        }
        out[k] = e.is_string() ? e.get<std::string>() : "";
      }
    }
    return {};
  }
  // A Go map[string]struct{} (ExposedPorts, Volumes): the keys.
  base::Status get(const char* key, std::set<std::string>& out) const {
    if (const json* v = find(key)) {
      if (!v->is_object()) {
        return mismatch(key, *v, "map[string]struct {}");
      }
      out.clear();
      for (const auto& [k, unused] : v->items()) {
        (void)unused;
        out.insert(k);
      }
    }
    return {};
  }
  // A nested object decoded by `decode(json) -> Result<T>`.
  template <typename T, typename F>
  base::Status object(const char* key, T& out, F decode) const {
    if (const json* v = find(key)) {
      if (!v->is_object()) {
        return mismatch(key, *v, "object");
      }
      DIND_ASSIGN_OR_RETURN(out, decode(*v));
    }
    return {};
  }
  // A list of objects, each decoded by `decode`.
  template <typename T, typename F>
  base::Status list(const char* key, std::vector<T>& out, const char* go_type, F decode) const {
    if (const json* v = find(key)) {
      if (!v->is_array()) {
        return mismatch(key, *v, go_type);
      }
      out.clear();
      for (const auto& e : *v) {
        if (!e.is_object() && !e.is_null()) {
          return mismatch(key, e, go_type);
        }
        DIND_ASSIGN_OR_RETURN(auto item, decode(e));
        out.push_back(std::move(item));
      }
    }
    return {};
  }

 private:
  base::Result<int64_t> integer(const char* key, const json& v) const {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return mismatch(key, v, "int64");
    }
    if (!v.is_number_integer()) {
      return mismatch(key, v, "int64");
    }
    return v.get<int64_t>();
  }

  const json& obj_;
  std::string owner_;
};

}  // namespace dind::model::detail
