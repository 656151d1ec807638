#pragma once
// Docker's `?filters=` query value ({"key": ["v", ...]} or the older
// {"key": {"v": true}}) and the ways dockerd matches its values.

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dind/api/http.hpp"
#include "dind/base/result.hpp"

namespace dind::api {

using Filters = std::map<std::string, std::vector<std::string>>;

// The request's filters (none when absent or empty); a value that is not a
// JSON object of lists or sets is refused ("invalid filter: ...").
base::Result<Filters> filters_of(const Request& req);

// Refuses a key outside `allowed` with dockerd's "Invalid filter 'key'".
base::Status check_filter_keys(const Filters& filters, std::initializer_list<std::string_view> allowed);

// Go's filters.Args.Match: a value matches when it equals text or, read as a
// regular expression, matches a part of it.
bool match_any(const std::vector<std::string>& patterns, const std::string& text);

// Every "key" or "key=value" of `wanted` holds in labels.
bool labels_match(const std::vector<std::string>& wanted, const std::map<std::string, std::string>& labels);

// A boolean filter ("true"/"1"/"false"/"0"; the last value wins); refused
// as dockerd does: "Invalid filter 'key=[value]'".
base::Result<bool> bool_filter(const Filters& filters, const std::string& key);

// An `until` filter value as unix seconds: a timestamp ("1700000000[.5]"),
// an RFC 3339 date, or a Go duration before now ("24h", "1h30m").
base::Result<int64_t> until_filter(const std::string& value);

// A prune's `until`, `label` and `label!` filters as a predicate on an
// object's creation time (unix seconds) and labels; keys outside `allowed`
// refused ("Invalid filter 'key'").
using PruneWanted = std::function<bool(int64_t created, const std::map<std::string, std::string>& labels)>;
base::Result<PruneWanted> prune_filter(const Filters& filters, std::initializer_list<std::string_view> allowed);

}  // namespace dind::api
