#include "dind/registry/blob_sources.hpp"

#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/image/reference.hpp"

namespace dind::registry {
using nlohmann::json;

std::filesystem::path BlobSources::file(const std::string& diff_id) const {
  return dir_ / (diff_id.substr(diff_id.find(':') + 1) + ".json");
}

std::vector<BlobSource> BlobSources::get(const std::string& diff_id) const {
  std::vector<BlobSource> out;
  if (!image::valid_digest(diff_id)) {
    return out;
  }
  std::lock_guard lock(mu_);
  auto text = base::read_file(file(diff_id));
  if (!text) {
    return out;
  }
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_array()) {
    return out;
  }
  for (const auto& e : j) {
    if (!e.is_object()) {
      continue;
    }
    BlobSource s;
    s.digest = e.value("digest", "");
    s.media_type = e.value("mediaType", "");
    s.size = e.value("size", int64_t{0});
    s.repository = e.value("repository", "");
    if (image::valid_digest(s.digest) && !s.repository.empty()) {
      out.push_back(std::move(s));
    }
  }
  return out;
}

base::Status BlobSources::add(const std::string& diff_id, const BlobSource& source) {
  if (!image::valid_digest(diff_id)) {
    return {};
  }
  auto current = get(diff_id);
  std::lock_guard lock(mu_);
  json arr = json::array();
  arr.push_back({{"digest", source.digest},
                 {"mediaType", source.media_type},
                 {"size", source.size},
                 {"repository", source.repository}});
  for (const auto& s : current) {
    if (arr.size() >= 16) {
      break;
    }
    if (s.digest == source.digest && s.repository == source.repository) {
      continue;
    }
    arr.push_back({{"digest", s.digest},
                   {"mediaType", s.media_type},
                   {"size", s.size},
                   {"repository", s.repository}});
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  return base::write_file_atomic(file(diff_id), arr.dump() + "\n", 0600);
}

}  // namespace dind::registry
