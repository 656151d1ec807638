#pragma once
// The registry service: pull, push, login and distribution inspect, writing
// into image/'s stores. A pull fetches the manifest (choosing the platform of
// an index) and the config, then downloads the missing layers concurrently
// (max_downloads at once), each streamed through its digest check straight
// into the unpacker; layers are adopted in order once unpacked. Downloads
// are keyed by chain ID and shared: two pulls of the same image, or of images
// sharing a base, fetch each layer once. Blocking calls: run them on a
// thread of their own.

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/image/blob_sources.hpp"
#include "dind/image/image_store.hpp"
#include "dind/registry/auth.hpp"
#include "dind/registry/hosts.hpp"
#include "dind/registry/http_client.hpp"
#include "dind/registry/manifest.hpp"

namespace dind::registry {

class Repository;

// One line of dockerd's progress stream (pkg/jsonmessage): a status for an
// id ("Downloading" for a layer's short ID) with an optional progress bar, or
// a status without id ("Digest: ...").
struct Progress {
  std::string id;
  std::string status;
  bool detail = false;  // send progressDetail {current,total} (and the bar when total > 0)
  uint64_t current = 0;
  uint64_t total = 0;
};
// Called in order, from the pulling thread; false stops the operation (the
// client went away).
using ProgressSink = std::function<bool(const Progress&)>;

struct PullRequest {
  image::Reference ref;  // tag or digest
  AuthConfig auth;
  std::optional<Platform> platform;
};

struct PullResult {
  std::string image_id;
  std::string digest;  // of the manifest (or index) pulled
  bool up_to_date = false;
};

struct PushRequest {
  image::Reference ref;  // with a tag
  AuthConfig auth;
};

struct PushResult {
  std::string tag;
  std::string digest;
  uint64_t size = 0;
};

struct LoginResult {
  std::string identity_token;
};

class Service {
 public:
  Service(RegistryOptions options, std::string user_agent, image::ImageStore& images,
          image::LayerStore& layers, image::ContentStore& content, image::BlobSources& blob_sources,
          std::shared_ptr<std::mutex> mutations);
  ~Service();

  base::Result<PullResult> pull(const PullRequest& req, const ProgressSink& progress);
  base::Result<PushResult> push(const PushRequest& req, const ProgressSink& progress);
  // Checks the credentials against the registry of `auth.server_address`
  // (Docker Hub when empty).
  base::Result<LoginResult> login(const AuthConfig& auth);
  // GET /distribution/{name}/json: the descriptor and platforms.
  struct Distribution {
    std::string media_type;
    std::string digest;
    int64_t size = 0;
    std::vector<Platform> platforms;
  };
  base::Result<Distribution> inspect(const image::Reference& ref, const AuthConfig& auth);

  const RegistryOptions& options() const { return options_; }

 private:
  struct Job;
  std::shared_ptr<Job> start_download(const std::string& chain_id, const std::string& parent,
                                      std::shared_ptr<Repository> repo, const Descriptor& layer,
                                      const std::string& diff_id);
  base::Status adopt(Job& job);
  void download(Job& job);

  RegistryOptions options_;
  HttpClient http_;
  Authenticator auth_;
  image::ImageStore& images_;
  image::LayerStore& layers_;
  image::ContentStore& content_;
  std::shared_ptr<std::mutex> mutations_;
  image::BlobSources& blob_sources_;
  std::mutex jobs_mu_;
  std::map<std::string, std::weak_ptr<Job>> jobs_;  // by chain ID
  base::WorkerPool downloads_;
};

}  // namespace dind::registry
