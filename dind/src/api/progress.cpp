#include "dind/api/progress.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace dind::api {

std::string human_size(uint64_t bytes) {
  static constexpr std::array<const char*, 7> kUnits = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  auto size = static_cast<double>(bytes);
  size_t unit = 0;
  while (size >= 1000.0 && unit + 1 < kUnits.size()) {
    size /= 1000.0;
    ++unit;
  }
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.4g%s", size, kUnits[unit]);
  return buf.data();
}

std::string progress_bar(uint64_t current, uint64_t total) {
  constexpr uint64_t kWidth = 50;
  if (total == 0) {  // size unknown: just the count, right-aligned like Go's %8v
    std::string n = human_size(current);
    return std::string(n.size() < 8 ? 8 - n.size() : 0, ' ') + n;
  }
  const uint64_t filled = std::min<uint64_t>(kWidth, current * kWidth / total);
  std::string out = "[";
  out.append(filled, '=');
  out += '>';
  out.append(kWidth - filled, ' ');
  // Go's "%8v/%v" after "] ".
  const std::string cur = human_size(current);
  out += "] " + std::string(cur.size() < 8 ? 8 - cur.size() : 0, ' ') + cur + "/" +
         human_size(total);
  return out;
}

std::string progress_message(const std::string& status, const std::string& id, uint64_t current,
                             uint64_t total) {
  nlohmann::ordered_json doc;
  doc["status"] = status;
  doc["progressDetail"] = {{"current", current}, {"total", total}};
  doc["progress"] = progress_bar(current, total);
  doc["id"] = id;
  return doc.dump();
}

std::string error_line(const std::string& message, int code) {
  nlohmann::ordered_json doc;
  doc["errorDetail"] = nlohmann::ordered_json::object();
  if (code != 0) {
    doc["errorDetail"]["code"] = code;
  }
  doc["errorDetail"]["message"] = message;
  doc["error"] = message;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dind::api
