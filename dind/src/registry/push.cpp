// Push: each layer is found in the target repository (HEAD of a blob we
// know it as), mounted from another repository of the same registry, or
// compressed (parallel, deterministic gzip) and uploaded; then the config,
// then the manifest (Docker schema 2, as dockerd pushes), and the image gets
// the digest reference.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/sha256.hpp"
#include "dind/base/text.hpp"
#include "dind/registry/gzip.hpp"
#include "dind/registry/repository.hpp"
#include "dind/registry/service.hpp"
#include "service_internal.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

// "host/path" -> path, when host is `host`.
std::optional<std::string> path_on(const std::string& repository, const std::string& host) {
  if (repository.rfind(host + "/", 0) != 0) {
    return std::nullopt;
  }
  return repository.substr(host.size() + 1);
}

bool gzip_type(const std::string& media_type) {
  return media_type == kDockerLayerGzip ||
         media_type == "application/vnd.oci.image.layer.v1.tar+gzip";
}

// The layer's tar through the parallel gzip into the content store (a blob
// kept as the layer's local copy, so the next push anywhere sends it as is).
Result<image::BlobSource> compress_layer(const std::string& diff, int level,
                                         image::ContentStore& content, image::BlobSources& sources,
                                         const std::function<void(uint64_t, uint64_t)>& progress) {
  DIND_TRY(image::ensure_layer_tar(diff, content, &sources));
  base::UniqueFd in(::open(content.path(diff).c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    return make_error(ErrorKind::kDataLoss,
                      "the layer tar of " + diff + " is missing from the store");
  }
  struct stat st {};
  ::fstat(in.get(), &st);
  const uint64_t total = static_cast<uint64_t>(st.st_size);
  auto out = content.writer({}, {}, /*durable=*/false);
  if (!out) {
    return std::move(out).error();
  }
  uint64_t read_bytes = 0;
  auto last = std::chrono::steady_clock::now();
  progress(0, total);
  auto source = [&](char* buf, size_t len) -> ssize_t {
    ssize_t n;
    do {
      n = ::read(in.get(), buf, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      read_bytes += static_cast<uint64_t>(n);
      if (const auto now = std::chrono::steady_clock::now();
          now - last > std::chrono::milliseconds(200)) {
        last = now;
        progress(read_bytes, total);
      }
    }
    return n;
  };
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  DIND_TRY(gzip_parallel(
      source, [&](std::string_view chunk) { return out->write(chunk); }, threads, level));
  const uint64_t size = out->size();
  auto digest = out->commit();
  if (!digest) {
    return std::move(digest).error();
  }
  image::BlobSource made{*digest, kDockerLayerGzip, static_cast<int64_t>(size), ""};
  (void)sources.add(diff, made);
  return made;
}

}  // namespace

Result<PushResult> Service::push(const PushRequest& req, const ProgressSink& progress_in) {
  std::mutex progress_mu;
  std::atomic<bool> gone{false};
  auto progress = [&](const Progress& p) {
    std::lock_guard lock(progress_mu);
    if (gone) {
      return false;
    }
    if (!progress_in(p)) {
      gone = true;
    }
    return !gone.load();
  };
  const image::Reference& ref = req.ref;
  auto id = images_.resolve(ref.to_string());
  if (!id) {
    return make_error(ErrorKind::kNotFound,
                      "An image does not exist locally with the tag: " + ref.familiar_name());
  }
  auto summary = images_.get(*id);
  if (!summary) {
    return std::move(summary).error();
  }
  const std::string registry_host = ref.domain;
  Repository repo(http_, auth_, endpoints_for(ref.domain, options_, /*pull=*/false), ref.path,
                  ref.name(), req.auth, /*push=*/true);
  if (!progress({"", "The push refers to repository [" + ref.name() + "]", false, 0, 0})) {
    return make_error(ErrorKind::kUnavailable, "the client went away");
  }
  DIND_TRY(repo.connect());
  const auto& diffs = summary->diff_ids;
  std::vector<image::BlobSource> pushed(diffs.size());
  std::vector<std::optional<base::Error>> errors(diffs.size());
  // Top-most first, as dockerd lists them.
  for (size_t k = diffs.size(); k-- > 0;) {
    if (!progress({short_id(diffs[k]), "Preparing", true, 0, 0})) {
      return make_error(ErrorKind::kUnavailable, "the client went away");
    }
  }
  std::atomic<size_t> next{0};
  auto push_layer = [&](size_t i) -> base::Status {
    const std::string& diff = diffs[i];
    const std::string id12 = short_id(diff);
    const std::string here = ref.name();
    // 1. A blob this layer is known as, already in the repository or
    // mountable from another repository of the registry.
    for (const auto& src : blob_sources_.get(diff)) {
      auto from = path_on(src.repository, registry_host);
      if (!from || !gzip_type(src.media_type)) {
        continue;
      }
      if (src.repository == here) {
        auto exists = repo.blob_exists(src.digest);
        if (exists && *exists) {
          pushed[i] = src;
          pushed[i].media_type = kDockerLayerGzip;
          progress({id12, "Layer already exists", true, 0, 0});
          return {};
        }
        continue;
      }
      auto mounted = repo.mount_blob(src.digest, *from);
      if (mounted && *mounted) {
        pushed[i] = src;
        pushed[i].repository = here;
        pushed[i].media_type = kDockerLayerGzip;
        (void)blob_sources_.add(diff, pushed[i]);
        progress({id12, "Mounted from " + *from, true, 0, 0});
        return {};
      }
    }
    // 2. The layer's gzip blob in the content store: the one a pull kept
    // (the source's bytes and digest), or one made now from the tar and kept
    // for the next push elsewhere.
    auto kept = blob_sources_.local(diff);
    if (!kept || !gzip_type(kept->media_type) || !content_.has(kept->digest)) {
      auto made = compress_layer(diff, options_.gzip_level, content_, blob_sources_,
                                 [&](uint64_t done, uint64_t total) {
                                   // Compression is half the work, the upload the other.
                                   progress({id12, "Pushing", true, done / 2, total});
                                 });
      if (!made) {
        return std::move(made).error();
      }
      kept = *made;
    }
    // 3. Uploaded unless the registry has these very bytes.
    auto exists = repo.blob_exists(kept->digest);
    if (!exists) {
      return std::move(exists).error();
    }
    const auto total = static_cast<uint64_t>(kept->size);
    if (*exists) {
      progress({id12, "Layer already exists", true, 0, 0});
    } else {
      progress({id12, "Pushing", true, total / 2, total});
      DIND_TRY(repo.upload_blob(kept->digest, content_.path(kept->digest), total));
      progress({id12, "Pushing", true, total, total});
      progress({id12, "Pushed", true, 0, 0});
    }
    pushed[i] = {kept->digest, kDockerLayerGzip, kept->size, here};
    (void)blob_sources_.add(diff, pushed[i]);
    return {};
  };
  const size_t workers_n =
      std::min(diffs.size(), static_cast<size_t>(std::max(1, options_.max_uploads)));
  std::vector<std::thread> workers;
  for (size_t w = 0; w < workers_n; ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < diffs.size();) {
        if (gone) {
          errors[i] = make_error(ErrorKind::kUnavailable, "the client went away");
          continue;
        }
        auto st = push_layer(i);
        if (!st) {
          errors[i] = st.error();
        }
      }
    });
  }
  for (auto& t : workers) {
    t.join();
  }
  for (const auto& e : errors) {
    if (e) {
      return *e;
    }
  }
  // The config, then the manifest.
  const std::string& config = summary->config;
  const std::string config_digest = base::sha256_digest(config);
  auto has_config = repo.blob_exists(config_digest);
  if (!has_config) {
    return std::move(has_config).error();
  }
  if (!*has_config) {
    DIND_TRY(repo.upload_blob(config_digest, content_.path(config_digest), config.size()));
  }
  nlohmann::ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = kDockerManifest;
  manifest["config"] = {
      {"mediaType", kDockerConfig}, {"size", config.size()}, {"digest", config_digest}};
  manifest["layers"] = nlohmann::ordered_json::array();
  for (const auto& p : pushed) {
    manifest["layers"].push_back(
        {{"mediaType", p.media_type.empty() ? kDockerLayerGzip : p.media_type},
         {"size", p.size},
         {"digest", p.digest}});
  }
  const std::string bytes = manifest.dump(3);
  const std::string tag = ref.tag.value_or("latest");
  DIND_TRY(repo.put_manifest(tag, bytes, kDockerManifest));
  PushResult result;
  result.tag = tag;
  result.digest = base::sha256_digest(bytes);
  result.size = bytes.size();
  {
    std::lock_guard lock(*mutations_);
    image::Reference digest_ref = ref;
    digest_ref.tag.reset();
    digest_ref.digest = result.digest;
    if (auto st = images_.tag(digest_ref, *id); !st) {
      DIND_LOG(kWarn) << "push: recording " << digest_ref.to_string() << ": " << st.error().message;
    }
  }
  return result;
}

}  // namespace dind::registry
