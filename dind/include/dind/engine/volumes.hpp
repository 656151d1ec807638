#pragma once
// Volumes of the local driver: <data-root>/volumes/<name>/{_data/,meta.json}.
// Typed values; Docker's JSON is the API's business. One mutex of its own
// guards creation and removal; who uses a volume is asked of the container
// store through `Users` (lock order: this lock, then the store's).

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "dind/base/result.hpp"

namespace dind::engine {

struct Volume {
  std::string name;
  std::string created_at;  // RFC 3339
  std::map<std::string, std::string> labels;
  std::filesystem::path mountpoint;  // .../_data
};

class Volumes {
 public:
  // IDs of the containers that mount a volume.
  using Users = std::function<std::vector<std::string>(const std::string& name)>;

  explicit Volumes(std::filesystem::path root);  // <data-root>/volumes, created
  Volumes(const Volumes&) = delete;
  Volumes& operator=(const Volumes&) = delete;

  void set_users(Users users);
  // The containers that mount the volume (none when no users function is set).
  std::vector<std::string> users_of(const std::string& name) const;

  // Creates (or returns the existing) volume; "" draws an anonymous name
  // (64 hex digits). Docker's message for an invalid name.
  base::Result<Volume> create(const std::string& name, const std::map<std::string, std::string>& labels);
  base::Result<Volume> inspect(const std::string& name) const;  // 404 "get X: no such volume"
  std::vector<Volume> list() const;                              // sorted by name
  // 409 "remove X: volume is in use - [ids]"; force: a missing volume is fine.
  base::Status remove(const std::string& name, bool force);
  // Unused volumes (anonymous ones unless all): the names removed.
  // Removes unused volumes (anonymous ones unless all) that `wanted` keeps.
  std::vector<std::string> prune(bool all, std::function<bool(const Volume&)> wanted = {});

  static bool anonymous(const std::string& name);

 private:
  base::Result<Volume> read(const std::string& name) const;
  std::filesystem::path root_;
  Users users_;
  mutable std::mutex mu_;
};

}  // namespace dind::engine
