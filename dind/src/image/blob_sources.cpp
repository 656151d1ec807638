#include "dind/image/blob_sources.hpp"

#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "dind/base/fs.hpp"
#include "dind/image/content_store.hpp"
#include "dind/image/layer_unpack.hpp"
#include "dind/image/reference.hpp"

namespace dind::image {
using nlohmann::json;

BlobSources::BlobSources(std::filesystem::path dir) : dir_(std::move(dir)) {
  base::remove_interrupted_writes(dir_);
}

std::filesystem::path BlobSources::file(const std::string& diff_id) const {
  return dir_ / (diff_id.substr(diff_id.find(':') + 1) + ".json");
}

std::vector<BlobSource> BlobSources::get(const std::string& diff_id) const {
  std::vector<BlobSource> out;
  if (!valid_digest(diff_id)) {
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
    if (valid_digest(s.digest)) {
      out.push_back(std::move(s));
    }
  }
  return out;
}

void BlobSources::gc(const std::set<std::string>& live_diff_ids) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() == 64 + 5 && name.substr(64) == ".json" &&
        !live_diff_ids.count("sha256:" + name.substr(0, 64))) {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

std::optional<BlobSource> BlobSources::local(const std::string& diff_id) const {
  for (auto& s : get(diff_id)) {
    if (s.repository.empty()) {
      return s;
    }
  }
  return std::nullopt;
}

base::Status BlobSources::add(const std::string& diff_id, const BlobSource& source) {
  if (!valid_digest(diff_id)) {
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

base::Status ensure_layer_tar(const std::string& diff_id, const ContentStore& content,
                              const BlobSources* sources) {
  if (content.has(diff_id)) {
    return {};
  }
  auto kept = sources ? sources->local(diff_id) : std::nullopt;
  if (!kept || !content.has(kept->digest)) {
    return base::make_error(base::ErrorKind::kNotFound,
                            "the layer tar of " + diff_id + " is missing from the store");
  }
  base::UniqueFd fd(::open(content.path(kept->digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return base::sys_error(errno, "open blob " + kept->digest);
  }
  auto w = content.writer(diff_id, std::nullopt, /*durable=*/false);
  if (!w) {
    return std::move(w).error();
  }
  DIND_TRY(decompress_stream(fd_reader(fd.get()),
                             [&](std::string_view chunk) { return w->write(chunk); }));
  auto landed = w->commit();
  if (!landed) {
    return std::move(landed).error().with_context("the layer " + diff_id);
  }
  return {};
}

}  // namespace dind::image
