#include "dind/image/archive_io.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "dind/base/sha256.hpp"
#include "dind/image/chain_id.hpp"
#include "tar_sink.hpp"

namespace dind::image {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;
using nlohmann::json;

namespace {

constexpr size_t kBlock = 256 * 1024;

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

class Writer {
 public:
  explicit Writer(const ArchiveSink& sink) : w_(sink) {
    archive_write_set_format_pax_restricted(w_.get());
    archive_write_set_bytes_per_block(w_.get(), 0);  // no padding to 10 KiB blocks
    w_.open();
  }

  Status dir(const std::string& path) { return header(path, AE_IFDIR, 0755, 0); }

  Status file(const std::string& path, std::string_view data) {
    DIND_TRY(header(path, AE_IFREG, 0644, data.size()));
    return data_block(data);
  }

  Status file_from(const std::string& path, const std::filesystem::path& src) {
    base::UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return base::sys_error(errno, "open " + src.string());
    }
    const off_t size = ::lseek(fd.get(), 0, SEEK_END);
    ::lseek(fd.get(), 0, SEEK_SET);
    DIND_TRY(header(path, AE_IFREG, 0644, static_cast<uint64_t>(size)));
    std::vector<char> buf(kBlock);
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return base::sys_error(errno, "read " + src.string());
      }
      if (n == 0) {
        return {};
      }
      DIND_TRY(data_block(std::string_view(buf.data(), static_cast<size_t>(n))));
    }
  }

  Status close() { return w_.close("writing the archive"); }

 private:
  Status header(const std::string& path, unsigned type, unsigned mode, uint64_t size) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), 0, 0);  // reproducible archives
    if (archive_write_header(w_.get(), e.get()) != ARCHIVE_OK) {
      return failure();
    }
    return {};
  }

  Status data_block(std::string_view data) {
    if (!data.empty() && archive_write_data(w_.get(), data.data(), data.size()) < 0) {
      return failure();
    }
    return {};
  }

  Status failure() const { return w_.failure("writing the archive"); }

  TarSinkWriter w_;
};

std::string blob_path(const std::string& digest) {
  return "blobs/sha256/" + digest.substr(7);
}

}  // namespace

Status save_images(const std::vector<SaveItem>& items, const ImageStore& images,
                   const ContentStore& content, const ArchiveSink& sink) {
  Writer w(sink);
  DIND_TRY(w.file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
  DIND_TRY(w.dir("blobs"));
  DIND_TRY(w.dir("blobs/sha256"));
  std::set<std::string> written;
  json index_manifests = json::array();
  json legacy = json::array();
  json repositories = json::object();
  for (const auto& item : items) {
    auto summary = images.get(item.id);
    if (!summary) {
      return std::move(summary).error();
    }
    json layers = json::array();
    json layer_paths = json::array();
    for (const auto& diff : summary->diff_ids) {
      if (auto st = ensure_layer_tar(diff, content, images.blob_sources()); !st) {
        return make_error(ErrorKind::kDataLoss, st.error().message);
      }
      if (written.insert(diff).second) {
        DIND_TRY(w.file_from(blob_path(diff), content.path(diff)));
      }
      layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                        {"digest", diff},
                        {"size", std::filesystem::file_size(content.path(diff))}});
      layer_paths.push_back(blob_path(diff));
    }
    if (written.insert(item.id).second) {
      DIND_TRY(w.file(blob_path(item.id), summary->config));
    }
    const json manifest = {{"schemaVersion", 2},
                           {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                           {"config",
                            {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                             {"digest", item.id},
                             {"size", summary->config.size()}}},
                           {"layers", layers}};
    const std::string manifest_text = manifest.dump();
    const std::string manifest_digest = base::sha256_digest(manifest_text);
    if (written.insert(manifest_digest).second) {
      DIND_TRY(w.file(blob_path(manifest_digest), manifest_text));
    }
    json descriptor = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                       {"digest", manifest_digest},
                       {"size", manifest_text.size()}};
    if (item.repo_tags.empty()) {
      index_manifests.push_back(descriptor);
    }
    for (const auto& tag : item.repo_tags) {
      auto ref = parse_reference(tag);
      json d = descriptor;
      if (ref && ref->tag) {
        d["annotations"] = {{"io.containerd.image.name", ref->to_string()},
                            {"org.opencontainers.image.ref.name", *ref->tag}};
        repositories[ref->familiar_name()][*ref->tag] = item.id.substr(7);
      }
      index_manifests.push_back(d);
    }
    legacy.push_back({{"Config", blob_path(item.id)},
                      {"RepoTags", item.repo_tags.empty() ? json(nullptr) : json(item.repo_tags)},
                      {"Layers", layer_paths}});
  }
  const json index = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.index.v1+json"},
                      {"manifests", index_manifests}};
  DIND_TRY(w.file("index.json", index.dump()));
  DIND_TRY(w.file("manifest.json", legacy.dump()));
  if (!repositories.empty()) {
    DIND_TRY(w.file("repositories", repositories.dump()));
  }
  return w.close();
}

namespace {


std::string clean(std::string p) {
  while (p.rfind("./", 0) == 0) {
    p = p.substr(2);
  }
  while (!p.empty() && p[0] == '/') {
    p = p.substr(1);
  }
  return p;
}

}  // namespace

Result<std::vector<Loaded>> load_images(const LayerReader& reader, ImageStore& images,
                                        LayerStore& layers, ContentStore& content) {
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  ArchiveSource rs{&reader, "the archive"};
  if (open_archive_source(a.get(), rs) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    return make_error(ErrorKind::kInvalidArgument,
                      std::string("not a docker save archive: ") + (e ? e : ""));
  }
  std::map<std::string, std::string> small;          // path -> JSON-ish file content
  std::map<std::string, LayerStore::Staged> staged;  // path -> unpacked layer
  auto cleanup = [&] {
    for (auto& [p, s] : staged) {
      layers.discard(s);
    }
  };
  constexpr int64_t kSmall = 16 << 20;
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      cleanup();
      const char* msg = archive_error_string(a.get());
      return make_error(ErrorKind::kInvalidArgument,
                        std::string("the archive is corrupt or not a tar: ") + (msg ? msg : ""));
    }
    if (archive_entry_filetype(e) != AE_IFREG) {
      continue;
    }
    const std::string path = clean(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    const int64_t size = archive_entry_size(e);
    // Peek at the first bytes: JSON documents are kept, everything else is a
    // layer and is unpacked right away.
    std::string head(static_cast<size_t>(std::min<int64_t>(size, 1)), '\0');
    la_ssize_t got = head.empty() ? 0 : archive_read_data(a.get(), head.data(), head.size());
    if (got < 0) {
      cleanup();
      return make_error(ErrorKind::kInvalidArgument, "the archive is truncated at " + path);
    }
    head.resize(static_cast<size_t>(got));
    const bool json_like =
        size < kSmall &&
        (head.empty() || head[0] == '{' || head[0] == '[' || path == "oci-layout" ||
         path == "repositories" || (path.size() > 8 && path.substr(path.size() - 8) == "/VERSION"));
    if (json_like) {
      std::string data = head;
      std::vector<char> buf(kBlock);
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) {
          cleanup();
          return make_error(ErrorKind::kInvalidArgument, "the archive is truncated at " + path);
        }
        if (n == 0) {
          break;
        }
        data.append(buf.data(), static_cast<size_t>(n));
      }
      small[path] = std::move(data);
      continue;
    }
    // A layer: feed the peeked bytes first, then the rest of the entry.
    std::string pending = head;
    LayerReader entry_reader = [&](void* buf, size_t len) -> ssize_t {
      if (!pending.empty()) {
        const size_t n = std::min(len, pending.size());
        std::memcpy(buf, pending.data(), n);
        pending.erase(0, n);
        return static_cast<ssize_t>(n);
      }
      return archive_read_data(a.get(), buf, len);
    };
    auto s = layers.stage(entry_reader, &content);
    if (!s) {
      cleanup();
      return std::move(s).error().with_context(path);
    }
    staged[path] = std::move(*s);
  }

  // What the archive says it contains.
  struct Entry {
    std::string config_path;
    std::vector<std::string> layer_paths;
    std::vector<std::string> tags;
  };
  std::vector<Entry> entries;
  if (auto m = small.find("manifest.json"); m != small.end()) {
    auto doc = json::parse(m->second, nullptr, false);
    if (doc.is_discarded() || !doc.is_array()) {
      cleanup();
      return make_error(ErrorKind::kInvalidArgument, "manifest.json is not a JSON array");
    }
    for (const auto& item : doc) {
      Entry en;
      en.config_path = clean(item.value("Config", ""));
      for (const auto& l : item.value("Layers", json::array())) {
        en.layer_paths.push_back(clean(l.get<std::string>()));
      }
      if (item.contains("RepoTags") && item["RepoTags"].is_array()) {
        for (const auto& t : item["RepoTags"]) {
          en.tags.push_back(t.get<std::string>());
        }
      }
      entries.push_back(std::move(en));
    }
  } else if (auto idx = small.find("index.json"); idx != small.end()) {
    auto doc = json::parse(idx->second, nullptr, false);
    for (const auto& d : doc.value("manifests", json::array())) {
      const std::string digest = d.value("digest", "");
      auto mf =
          small.find(blob_path(digest.size() == 71 ? digest : "sha256:" + std::string(64, '0')));
      if (mf == small.end()) {
        cleanup();
        return make_error(ErrorKind::kInvalidArgument,
                          "index.json names a manifest the archive lacks: " + digest);
      }
      auto manifest = json::parse(mf->second, nullptr, false);
      Entry en;
      en.config_path =
          blob_path(manifest.value("config", json::object()).value("digest", std::string(71, '0')));
      for (const auto& l : manifest.value("layers", json::array())) {
        en.layer_paths.push_back(blob_path(l.value("digest", std::string(71, '0'))));
      }
      if (auto name = d.value("annotations", json::object()).value("io.containerd.image.name", "");
          !name.empty()) {
        if (auto ref = parse_reference(name)) {
          en.tags.push_back(ref->familiar());
        }
      }
      entries.push_back(std::move(en));
    }
  } else {
    cleanup();
    return make_error(ErrorKind::kInvalidArgument,
                      "not a docker save archive: neither manifest.json nor index.json found");
  }

  std::vector<Loaded> out;
  for (const auto& en : entries) {
    auto cfg = small.find(en.config_path);
    if (cfg == small.end()) {
      cleanup();
      return make_error(ErrorKind::kInvalidArgument,
                        "the image config " + en.config_path + " is missing");
    }
    auto doc = json::parse(cfg->second, nullptr, false);
    std::vector<std::string> diffs;
    for (const auto& d : doc.value("rootfs", json::object()).value("diff_ids", json::array())) {
      diffs.push_back(d.is_string() ? d.get<std::string>() : "");
    }
    if (diffs.size() != en.layer_paths.size()) {
      cleanup();
      return make_error(
          ErrorKind::kInvalidArgument,
          "the manifest and the config of " + en.config_path + " disagree on the number of layers");
    }
    Loaded l{};
    std::optional<std::string> parent;
    for (size_t i = 0; i < diffs.size(); ++i) {
      const auto chain = chain_ids(std::vector<std::string>(
                                       diffs.begin(), diffs.begin() + static_cast<long>(i) + 1))
                             .back();
      if (layers.has(chain)) {
        parent = chain;
        continue;
      }
      auto s = staged.find(en.layer_paths[i]);
      if (s == staged.end()) {
        cleanup();
        return make_error(ErrorKind::kInvalidArgument,
                          "layer " + en.layer_paths[i] + " is missing from the archive");
      }
      if (s->second.diff_id != diffs[i]) {
        cleanup();
        return make_error(ErrorKind::kInvalidArgument, "layer " + en.layer_paths[i] +
                                                           " has diff ID " + s->second.diff_id +
                                                           " but the config says " + diffs[i]);
      }
      // One staged copy may serve several images: adopt a hard copy only once.
      const uint64_t bytes = s->second.size;
      auto info = layers.adopt(s->second, parent);
      staged.erase(s);
      if (!info) {
        cleanup();
        return std::move(info).error();
      }
      parent = info->chain_id;
      l.new_layers.push_back({info->chain_id, bytes});
    }
    auto id = images.add(cfg->second);
    if (!id) {
      cleanup();
      return std::move(id).error();
    }
    l.id = *id;
    for (const auto& t : en.tags) {
      auto ref = parse_reference(t);
      if (ref && images.tag(*ref, *id)) {
        l.repo_tags.push_back(ref->familiar());
      }
    }
    out.push_back(std::move(l));
  }
  cleanup();
  return out;
}

}  // namespace dind::image
