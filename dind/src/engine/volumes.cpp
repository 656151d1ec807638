#include "dind/engine/volumes.hpp"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/base/text.hpp"
#include "dind/base/time.hpp"
#include "dind/engine/container_config.hpp"

namespace dind::engine {

namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using nlohmann::json;

namespace {

constexpr int kMetaSchema = 1;

bool plain_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

}  // namespace

Volumes::Volumes(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  // Writes the last run's end cut: beside the volumes and in their metadata
  // (never inside _data, the volume's content).
  base::remove_interrupted_writes(root_);
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    base::remove_interrupted_writes(e.path());
  }
}

void Volumes::set_users(Users users) {
  std::lock_guard lock(mu_);
  users_ = std::move(users);
}

bool Volumes::anonymous(const std::string& name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

base::Result<Volume> Volumes::read(const std::string& name) const {
  const fs::path dir = root_ / name;
  if (!plain_name(name) || !fs::is_directory(dir / "_data")) {
    return make_error(ErrorKind::kNotFound, "get " + name + ": no such volume");
  }
  Volume v{name, "", {}, dir / "_data"};
  auto meta = base::read_file(dir / "meta.json", 1u << 20);
  json doc = meta ? json::parse(*meta, nullptr, false) : json::object();
  if (doc.is_object()) {
    v.created_at = doc.value("CreatedAt", "");
    if (auto it = doc.find("Labels"); it != doc.end() && it->is_object()) {
      for (const auto& [k, val] : it->items()) {
        if (val.is_string()) {
          v.labels[k] = val.get<std::string>();
        }
      }
    }
  }
  return v;
}

base::Result<Volume> Volumes::create(const std::string& name_in,
                                     const std::map<std::string, std::string>& labels) {
  const std::string name = name_in.empty() ? base::random_hex(64) : name_in;
  // Container names may start with '/', volume names never (a path join with
  // "/x" would leave the data root).
  if (!plain_name(name) || !validate_container_name(name).ok()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "create " + name + ": \"" + name +
                          "\" includes invalid characters for a local volume name, only "
                          "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                          "are allowed. If you intended to pass a host directory, use absolute path");
  }
  const fs::path dir = root_ / name;
  std::lock_guard lock(mu_);
  if (!fs::exists(dir / "meta.json")) {
    std::error_code ec;
    fs::create_directories(dir / "_data", ec);
    if (ec) {
      return make_error(base::kind_from_errno(ec.value()), "create volume " + name + ": " + ec.message());
    }
    json meta = {{"SchemaVersion", kMetaSchema},
                 {"CreatedAt", base::rfc3339(std::chrono::system_clock::now())},
                 {"Labels", labels}};
    DIND_TRY(base::write_file_atomic(dir / "meta.json", meta.dump() + "\n", 0600));
  }
  return read(name);
}

base::Result<Volume> Volumes::inspect(const std::string& name) const {
  return read(name);
}

std::vector<Volume> Volumes::list() const {
  std::vector<Volume> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    if (auto v = read(e.path().filename().string())) {
      out.push_back(std::move(*v));
    }
  }
  std::sort(out.begin(), out.end(), [](const Volume& a, const Volume& b) { return a.name < b.name; });
  return out;
}

base::Status Volumes::remove(const std::string& name, bool force) {
  std::lock_guard lock(mu_);  // held across the check and the removal
  if (auto v = read(name); !v) {
    return force ? base::Status{} : base::Status{std::move(v).error()};
  }
  if (auto users = users_ ? users_(name) : std::vector<std::string>{}; !users.empty()) {
    std::string list;
    for (const auto& u : users) {
      list += (list.empty() ? "" : " ") + u;
    }
    return make_error(ErrorKind::kConflict, "remove " + name + ": volume is in use - [" + list + "]");
  }
  std::error_code ec;
  fs::remove_all(root_ / name, ec);
  if (ec) {
    return make_error(base::kind_from_errno(ec.value()), "remove " + name + ": " + ec.message());
  }
  return {};
}

std::vector<std::string> Volumes::prune(bool all, std::function<bool(const Volume&)> wanted) {
  std::vector<std::string> deleted;
  for (const auto& v : list()) {
    if ((all || anonymous(v.name)) && (!wanted || wanted(v)) && remove(v.name, false)) {
      deleted.push_back(v.name);
    }
  }
  return deleted;
}

std::vector<std::string> Volumes::users_of(const std::string& name) const {
  return users_ ? users_(name) : std::vector<std::string>{};
}

}  // namespace dind::engine
