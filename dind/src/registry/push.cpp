// Push: each layer is found in the target repository (HEAD of a blob we
// know it as), mounted from another repository of the same registry, or
// compressed (parallel, deterministic gzip) and uploaded; then the config,
// then the manifest (Docker schema 2, as dockerd pushes), and the image gets
// the digest reference.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/sha256.hpp"
#include "dind/base/text.hpp"
#include "dind/registry/gzip.hpp"
#include "dind/registry/repository.hpp"
#include "dind/registry/service.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

std::string short_id(const std::string& digest) {
  return digest.substr(digest.find(':') + 1, 12);
}

// "host/path" -> path, when host is `host`.
std::optional<std::string> path_on(const std::string& repository, const std::string& host) {
  if (repository.rfind(host + "/", 0) != 0) {
    return std::nullopt;
  }
  return repository.substr(host.size() + 1);
}

base::Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return base::sys_error(errno, "writing the compressed layer");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

bool gzip_type(const std::string& media_type) {
  return media_type == kDockerLayerGzip ||
         media_type == "application/vnd.oci.image.layer.v1.tar+gzip";
}

struct Compressed {
  std::filesystem::path file;
  std::string digest;
  uint64_t size = 0;
};

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
    // 2. The blob a pull kept, uploaded as it is (the same digest as at its
    // source, nothing to compress).
    if (auto kept = blob_sources_.local(diff);
        kept && gzip_type(kept->media_type) && content_.has(kept->digest)) {
      auto exists = repo.blob_exists(kept->digest);
      if (!exists) {
        return std::move(exists).error();
      }
      const auto total = static_cast<uint64_t>(kept->size);
      if (*exists) {
        progress({id12, "Layer already exists", true, 0, 0});
      } else {
        progress({id12, "Pushing", true, 0, total});
        DIND_TRY(repo.upload_blob(kept->digest, content_.path(kept->digest), total));
        progress({id12, "Pushing", true, total, total});
        progress({id12, "Pushed", true, 0, 0});
      }
      pushed[i] = {kept->digest, kDockerLayerGzip, kept->size, here};
      (void)blob_sources_.add(diff, pushed[i]);
      return {};
    }
    // 3. Compress the layer's tar.
    DIND_TRY(image::ensure_layer_tar(diff, content_, &blob_sources_));
    const auto tar_path = content_.path(diff);
    base::UniqueFd in(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) {
      return make_error(ErrorKind::kDataLoss,
                        "the layer tar of " + diff + " is missing from the store");
    }
    struct stat st {};
    ::fstat(in.get(), &st);
    const uint64_t total = static_cast<uint64_t>(st.st_size);
    std::error_code ec;
    std::filesystem::create_directories(tmp_dir_, ec);
    Compressed out;
    out.file = tmp_dir_ / ("push-" + base::random_hex(16) + ".gz");
    base::UniqueFd fd(::open(out.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      return make_error(ErrorKind::kInternal, "cannot create " + out.file.string());
    }
    struct Unlink {
      std::filesystem::path p;
      ~Unlink() { ::unlink(p.c_str()); }
    } unlink_later{out.file};
    base::Sha256 hash;
    uint64_t read_bytes = 0;
    auto last = std::chrono::steady_clock::now();
    progress({id12, "Pushing", true, 0, total});
    auto source = [&](char* buf, size_t len) -> ssize_t {
      ssize_t n;
      do {
        n = ::read(in.get(), buf, len);
      } while (n < 0 && errno == EINTR);
      if (n > 0) {
        read_bytes += static_cast<uint64_t>(n);
        const auto now = std::chrono::steady_clock::now();
        if (now - last > std::chrono::milliseconds(200)) {
          last = now;
          // Compression is half the work; the upload the other half.
          progress({id12, "Pushing", true, read_bytes / 2, total});
        }
      }
      return n;
    };
    auto sink = [&](std::string_view chunk) -> base::Status {
      hash.update(chunk);
      out.size += chunk.size();
      return write_all(fd.get(), chunk);
    };
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    DIND_TRY(gzip_parallel(source, sink, threads));
    out.digest = hash.digest();
    // 4. Upload unless the registry has these very bytes.
    auto exists = repo.blob_exists(out.digest);
    if (!exists) {
      return std::move(exists).error();
    }
    if (*exists) {
      progress({id12, "Layer already exists", true, 0, 0});
    } else {
      DIND_TRY(repo.upload_blob(out.digest, out.file, out.size));
      progress({id12, "Pushing", true, total, total});
      progress({id12, "Pushed", true, 0, 0});
    }
    pushed[i] = {out.digest, kDockerLayerGzip, static_cast<int64_t>(out.size), here};
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
    std::error_code ec;
    std::filesystem::create_directories(tmp_dir_, ec);
    const auto file = tmp_dir_ / ("config-" + base::random_hex(16) + ".json");
    DIND_TRY(base::write_file_atomic(file, config, 0600));
    auto st = repo.upload_blob(config_digest, file, config.size());
    ::unlink(file.c_str());
    DIND_TRY(st);
  }
  nlohmann::ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = kDockerManifest;
  manifest["config"] = {{"mediaType", kDockerConfig},
                        {"size", config.size()},
                        {"digest", config_digest}};
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
      DIND_LOG(kWarn) << "push: recording " << digest_ref.to_string() << ": "
                      << st.error().message;
    }
  }
  return result;
}

}  // namespace dind::registry
