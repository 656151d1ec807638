#pragma once
// Docker's JSON progress messages (pkg/jsonmessage): the lines `docker load`,
// `docker pull` and `docker import` print while bytes move.

#include <cstdint>
#include <string>

namespace dind::api {

// Docker's go-units HumanSize: decimal units, four significant digits
// ("32.77kB", "1.996MB", "512B").
std::string human_size(uint64_t bytes);

// The bar text dockerd sends in "progress": a 50-wide bar then current/total.
std::string progress_bar(uint64_t current, uint64_t total);

// One JSON message line (no trailing newline) such as
// {"status":"Loading layer","progressDetail":{"current":..,"total":..},
//  "progress":"[==>  ]  1MB/2MB","id":"3f43d6934766"}
std::string progress_message(const std::string& status, const std::string& id, uint64_t current,
                             uint64_t total);

}  // namespace dind::api
