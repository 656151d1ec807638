// Pull: manifest -> platform -> config -> layers (shared, concurrent,
// streamed into the unpacker) -> adoption in order under the image
// mutation lock -> image, tag, repo digest.

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "dind/base/log.hpp"
#include "dind/base/sha256.hpp"
#include "dind/image/chain_id.hpp"
#include "dind/registry/repository.hpp"
#include "dind/registry/service.hpp"
#include "service_internal.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(100);
constexpr int kResumeAttempts = 5;

}  // namespace

Service::Job::~Job() {
  if (staged && layers) {
    layers->discard(*staged);
  }
}

std::shared_ptr<Service::Job> Service::start_download(const std::string& chain_id,
                                                      const std::string& parent,
                                                      std::shared_ptr<Repository> repo,
                                                      const Descriptor& layer,
                                                      const std::string& diff_id) {
  std::lock_guard lock(jobs_mu_);
  if (auto it = jobs_.find(chain_id); it != jobs_.end()) {
    if (auto job = it->second.lock(); job) {
      std::lock_guard jl(job->mu);
      if (job->state != Job::State::kFailed) {
        job->waiters.fetch_add(1);
        return job;
      }
    }
  }
  auto job = std::make_shared<Job>();
  job->chain_id = chain_id;
  job->parent = parent;
  job->diff_id = diff_id;
  job->layer = layer;
  job->repo = std::move(repo);
  job->layers = &layers_;
  job->total = static_cast<uint64_t>(layer.size);
  job->waiters.store(1);
  jobs_[chain_id] = job;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    it = it->second.expired() ? jobs_.erase(it) : std::next(it);
  }
  downloads_.post([this, job] { download(*job); });
  return job;
}

void Service::download(Job& job) {
  {
    std::lock_guard lock(job.mu);
    job.state = Job::State::kDownloading;
  }
  job.cv.notify_all();
  // The blob as a LayerReader: hashes what passes, resumes with Range after
  // a transport failure, and remembers why it failed.
  base::Sha256 hash;
  uint64_t offset = 0;
  std::unique_ptr<HttpResponse> body;
  std::optional<base::Error> failure;
  int resumes = 0;
  const uint64_t size = static_cast<uint64_t>(job.layer.size);
  auto kept =
      content_.writer(job.layer.digest, size > 0 ? std::optional<uint64_t>(size) : std::nullopt,
                      /*durable=*/false);
  auto pull_bytes = [&](void* buf, size_t len) -> ssize_t {
    for (;;) {
      if (job.waiters.load() == 0) {
        failure = make_error(ErrorKind::kUnavailable, "cancelled: no pull needs this layer now");
        return -1;
      }
      if (!body) {
        auto opened = job.repo->open_blob(job.layer.digest, offset);
        if (!opened) {
          if (opened.error().kind == ErrorKind::kUnavailable && offset > 0 &&
              resumes++ < kResumeAttempts) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200 * resumes));
            continue;
          }
          failure = opened.error();
          return -1;
        }
        body = std::move(*opened);
      }
      auto n = body->read(static_cast<char*>(buf), len);
      if (!n) {
        body.reset();
        if (n.error().kind == ErrorKind::kUnavailable && resumes++ < kResumeAttempts &&
            n.error().message.find("stalled") == std::string::npos) {
          DIND_LOG(kInfo) << "pull: resuming " << short_id(job.layer.digest) << " at byte "
                          << offset << " after: " << n.error().message;
          continue;
        }
        failure = n.error();
        return -1;
      }
      if (*n == 0) {
        if (size > 0 && offset < size) {
          body.reset();
          if (resumes++ < kResumeAttempts) {
            continue;  // the connection ended early: resume
          }
          failure = make_error(ErrorKind::kUnavailable,
                               "the download of " + job.layer.digest + " ended early");
          return -1;
        }
        return 0;
      }
      if (size > 0 && offset + *n > size) {
        failure = make_error(ErrorKind::kDataLoss,
                             "the blob " + job.layer.digest + " is longer than its manifest says");
        return -1;
      }
      hash.update(std::string_view(static_cast<const char*>(buf), *n));
      if (kept) {
        if (auto st = kept->write(std::string_view(static_cast<const char*>(buf), *n)); !st) {
          failure = st.error();
          return -1;
        }
      }
      offset += *n;
      job.current.store(offset, std::memory_order_relaxed);
      return static_cast<ssize_t>(*n);
    }
  };
  const image::LayerReader reader = pull_bytes;
  // Only the compressed blob is kept: save and push get the tar from it.
  auto staged = layers_.stage(reader, nullptr);
  auto fail = [&](base::Error e) {
    {
      std::lock_guard lock(job.mu);
      job.state = Job::State::kFailed;
      job.error = std::move(e);
    }
    job.cv.notify_all();
    std::lock_guard lock(jobs_mu_);
    jobs_.erase(job.chain_id);
  };
  if (!staged) {
    if (!failure) {
      // The unpacker refused the bytes: if they are not the blob the
      // manifest names, say that (as dockerd, which checks before it
      // unpacks), not how they failed to unpack.
      char rest[16384];
      ssize_t n;
      while ((n = pull_bytes(rest, sizeof rest)) > 0) {
      }
      if (n == 0 && hash.digest() != job.layer.digest) {
        fail(make_error(ErrorKind::kDataLoss,
                        "filesystem layer verification failed for digest " + job.layer.digest));
        return;
      }
    }
    fail(failure ? *failure : staged.error());
    return;
  }
  // The unpacker stops at the tar's end: read what follows (padding) so the
  // whole blob is checked.
  {
    std::lock_guard lock(job.mu);
    job.state = Job::State::kVerifying;
  }
  job.cv.notify_all();
  char rest[16384];
  for (;;) {
    const ssize_t n = pull_bytes(rest, sizeof rest);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      layers_.discard(*staged);
      fail(failure ? *failure : make_error(ErrorKind::kUnavailable, "reading the blob failed"));
      return;
    }
  }
  if (hash.digest() != job.layer.digest) {
    layers_.discard(*staged);
    fail(make_error(ErrorKind::kDataLoss,
                    "filesystem layer verification failed for digest " + job.layer.digest));
    return;
  }
  if (staged->diff_id != job.diff_id) {
    layers_.discard(*staged);
    fail(make_error(ErrorKind::kDataLoss, "layer " + job.layer.digest + " unpacks to " +
                                              staged->diff_id + " but the image config says " +
                                              job.diff_id));
    return;
  }
  {
    std::lock_guard lock(job.mu);
    job.staged = *staged;
    if (kept) {
      job.kept.emplace(std::move(*kept));
    }
    job.state = Job::State::kStaged;
  }
  job.cv.notify_all();
}

base::Status Service::adopt(Job& job) {
  std::lock_guard lock(job.mu);
  if (job.state == Job::State::kAdopted) {
    return {};
  }
  if (job.state != Job::State::kStaged || !job.staged) {
    return make_error(ErrorKind::kInternal, "layer " + job.chain_id + " is not ready");
  }
  auto info =
      layers_.adopt(*job.staged, job.parent.empty() ? std::nullopt : std::optional(job.parent));
  job.staged.reset();
  if (!info) {
    job.state = Job::State::kFailed;
    job.error = info.error();
    return std::move(info).error();
  }
  job.state = Job::State::kAdopted;
  if (job.kept) {
    // Under the image mutation lock, like the adoption: no blob gc between
    // the blob landing and the image that keeps it.
    if (auto landed = job.kept->commit(); landed) {
      (void)blob_sources_.add(job.diff_id,
                              {job.layer.digest, job.layer.media_type, job.layer.size, ""});
    } else {
      DIND_LOG(kWarn) << "pull: keeping the blob of " << job.chain_id << ": "
                      << landed.error().message;
    }
    job.kept.reset();
  }
  return {};
}

Result<PullResult> Service::pull(const PullRequest& req, const ProgressSink& progress) {
  const image::Reference& ref = req.ref;
  const std::string reference = ref.digest ? *ref.digest : ref.tag.value_or("latest");
  // Mirrors first for Docker Hub, each on its own (a mirror lacking the
  // image falls back to the next), then the origin.
  std::vector<std::vector<Endpoint>> groups;
  {
    auto all = endpoints_for(ref.domain, options_, /*pull=*/true);
    std::vector<Endpoint> origin;
    for (auto& e : all) {
      if (e.mirror) {
        groups.push_back({e});
      } else {
        origin.push_back(e);
      }
    }
    groups.push_back(origin);
  }
  std::shared_ptr<Repository> repo;
  std::optional<FetchedManifest> top;
  std::optional<base::Error> first_error;
  for (size_t g = 0; g < groups.size(); ++g) {
    auto r = std::make_shared<Repository>(http_, auth_, groups[g], ref.path, ref.name(), req.auth,
                                          /*push=*/false);
    auto m = r->manifest(reference);
    if (m) {
      repo = r;
      top = std::move(*m);
      break;
    }
    if (g + 1 < groups.size()) {
      DIND_LOG(kInfo) << "pull: mirror " << groups[g][0].base.origin() << " failed for "
                      << ref.to_string() << ": " << m.error().message << "; trying the next";
      continue;
    }
    first_error = m.error();
  }
  if (!repo) {
    // The message of the origin (a mirror's failure is only logged).
    auto e = *first_error;
    if (e.kind == ErrorKind::kNotFound &&
        e.message.find("repository name not known") != std::string::npos) {
      e.message = "pull access denied for " + ref.familiar_name() +
                  ", repository does not exist or may require 'docker login': " + e.message;
    }
    return e;
  }
  if (!progress(
          {ref.digest ? ref.familiar() : reference, "Pulling from " + ref.path, false, 0, 0})) {
    return make_error(ErrorKind::kUnavailable, "the client went away");
  }
  image::Reference digest_ref = ref;
  digest_ref.tag.reset();
  digest_ref.digest = top->digest;
  // Up to date: this manifest was pulled before and its image is here.
  if (auto known = images_.resolve(digest_ref.to_string()); known && images_.get(*known)) {
    std::lock_guard lock(*mutations_);
    PullResult result{*known, top->digest, true};
    if (ref.tag && !ref.digest) {
      auto before = images_.resolve(ref.to_string());
      result.up_to_date = before && *before == *known;
      DIND_TRY(images_.tag(ref, *known));
    }
    return result;
  }
  auto manifest = parse_manifest(top->bytes, top->content_type);
  if (!manifest) {
    return std::move(manifest).error();
  }
  if (manifest->kind == Manifest::Kind::kIndex) {
    const Platform want = req.platform.value_or(host_platform());
    auto chosen = select_platform(*manifest, want);
    if (!chosen) {
      return std::move(chosen).error();
    }
    auto inner = repo->manifest(chosen->digest);
    if (!inner) {
      return std::move(inner).error();
    }
    auto parsed = parse_manifest(inner->bytes, inner->content_type);
    if (!parsed) {
      return std::move(parsed).error();
    }
    if (parsed->kind != Manifest::Kind::kImage) {
      return make_error(ErrorKind::kInvalidArgument, "a manifest list entry is itself a list");
    }
    manifest = std::move(parsed);
  }
  auto config = repo->read_blob(manifest->config.digest, 8u << 20);
  if (!config) {
    return std::move(config).error();
  }
  auto diff_ids = config_diff_ids(*config, manifest->layers.size());
  if (!diff_ids) {
    return std::move(diff_ids).error();
  }
  if (req.platform) {
    auto cfg = nlohmann::json::parse(*config, nullptr, false);
    const std::string arch = cfg.is_object() ? cfg.value("architecture", "") : "";
    const std::string os = cfg.is_object() ? cfg.value("os", "") : "";
    if (!arch.empty() && (arch != req.platform->architecture || (!os.empty() && os != "linux"))) {
      return make_error(ErrorKind::kNotFound,
                        "image with reference " + ref.familiar() +
                            " was found but does not match the specified platform: wanted " +
                            req.platform->to_string() + ", actual: " + os + "/" + arch);
    }
  }
  const auto chains = image::chain_ids(*diff_ids);
  struct Slot {
    std::string id;            // short blob digest
    std::shared_ptr<Job> job;  // null: the layer is present
    Job::State shown = Job::State::kQueued;
    uint64_t shown_bytes = 0;
    std::chrono::steady_clock::time_point shown_at;
    bool retried = false;
  };
  std::vector<Slot> slots(chains.size());
  // Leaving (done, failed or the client gone) releases the downloads: one
  // nobody waits for any more stops.
  struct Release {
    std::vector<Slot>& slots;
    ~Release() {
      for (auto& s : slots) {
        if (s.job) {
          s.job->waiters.fetch_sub(1);
        }
      }
    }
  } release{slots};
  for (size_t i = 0; i < chains.size(); ++i) {
    slots[i].id = short_id(manifest->layers[i].digest);
    if (layers_.has(chains[i])) {
      if (!progress({slots[i].id, "Already exists", true, 0, 0})) {
        return make_error(ErrorKind::kUnavailable, "the client went away");
      }
      continue;
    }
    slots[i].job = start_download(chains[i], i == 0 ? "" : chains[i - 1], repo, manifest->layers[i],
                                  (*diff_ids)[i]);
    if (!progress({slots[i].id, "Pulling fs layer", true, 0, 0})) {
      return make_error(ErrorKind::kUnavailable, "the client went away");
    }
  }
  // Those beyond the concurrent downloads wait, as dockerd says.
  int started = 0;
  for (auto& s : slots) {
    if (s.job && ++started > options_.max_downloads &&
        !progress({s.id, "Waiting", true, 0, 0})) {
      return make_error(ErrorKind::kUnavailable, "the client went away");
    }
  }
  // Relay the downloads' progress until each is unpacked (or one fails).
  for (;;) {
    bool all_ready = true;
    for (auto& s : slots) {
      if (!s.job) {
        continue;
      }
      Job::State st;
      std::optional<base::Error> err;
      {
        std::lock_guard lock(s.job->mu);
        st = s.job->state;
        err = s.job->error;
      }
      if (st == Job::State::kFailed) {
        if (s.job->repo != repo && !s.retried && err->kind == ErrorKind::kUnavailable) {
          // Another pull's download (from its registry) failed: fetch it
          // from ours.
          s.retried = true;
          const size_t i = static_cast<size_t>(&s - slots.data());
          s.job->waiters.fetch_sub(1);
          s.job = start_download(chains[i], i == 0 ? "" : chains[i - 1], repo, manifest->layers[i],
                                 (*diff_ids)[i]);
          all_ready = false;
          continue;
        }
        return *err;
      }
      std::vector<Progress> out;
      const uint64_t now_bytes = s.job->current.load(std::memory_order_relaxed);
      const auto now = std::chrono::steady_clock::now();
      if (st == Job::State::kDownloading && s.shown == Job::State::kQueued) {
        s.shown = st;
      }
      if ((st == Job::State::kDownloading || st == Job::State::kVerifying) &&
          now_bytes != s.shown_bytes && now - s.shown_at >= kProgressEvery) {
        out.push_back({s.id, "Downloading", true, now_bytes, s.job->total});
        s.shown_bytes = now_bytes;
        s.shown_at = now;
      }
      if (st == Job::State::kStaged || st == Job::State::kAdopted) {
        if (s.shown != Job::State::kStaged) {
          out.push_back({s.id, "Verifying Checksum", true, 0, 0});
          out.push_back({s.id, "Download complete", true, 0, 0});
          out.push_back({s.id, "Extracting", true, s.job->total, s.job->total});
          s.shown = Job::State::kStaged;
        }
      } else {
        all_ready = false;
      }
      for (const auto& p : out) {
        if (!progress(p)) {
          return make_error(ErrorKind::kUnavailable, "the client went away");
        }
      }
    }
    if (all_ready) {
      break;
    }
    // Wake on the first unfinished job's change, or to send progress.
    for (auto& s : slots) {
      if (!s.job) {
        continue;
      }
      std::unique_lock lock(s.job->mu);
      if (s.job->state != Job::State::kStaged && s.job->state != Job::State::kAdopted &&
          s.job->state != Job::State::kFailed) {
        s.job->cv.wait_for(lock, kProgressEvery);
        break;
      }
    }
  }
  // Adopt in order, store the config and the references, under the lock
  // that keeps image garbage collection away from a half-registered image.
  const std::string image_id = manifest->config.digest;
  PullResult result;
  result.image_id = image_id;
  result.digest = top->digest;
  {
    std::lock_guard lock(*mutations_);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].job) {
        DIND_TRY(adopt(*slots[i].job));
      } else if (!layers_.has(chains[i])) {
        return make_error(ErrorKind::kConflict,
                          "layer " + chains[i] + " was removed while pulling; pull again");
      }
    }
    auto id = images_.add(*config);
    if (!id) {
      return std::move(id).error();
    }
    if (*id != image_id) {
      return make_error(ErrorKind::kDataLoss,
                        "the image config stored as " + *id + " instead of " + image_id);
    }
    if (ref.tag && !ref.digest) {
      auto before = images_.resolve(ref.to_string());
      result.up_to_date = before && *before == image_id;
      DIND_TRY(images_.tag(ref, image_id));
    } else {
      auto before = images_.resolve(digest_ref.to_string());
      result.up_to_date = before && *before == image_id;
    }
    DIND_TRY(images_.tag(digest_ref, image_id));
  }
  // Remember which blobs these layers are, for pushes to this registry.
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    const auto& l = manifest->layers[i];
    (void)blob_sources_.add((*diff_ids)[i], {l.digest, l.media_type, l.size, ref.name()});
  }
  for (auto& s : slots) {
    if (s.job && !progress({s.id, "Pull complete", true, 0, 0})) {
      return make_error(ErrorKind::kUnavailable, "the client went away");
    }
  }
  return result;
}

}  // namespace dind::registry
