#pragma once
// One repository on one registry, as the distribution API v2 serves it:
// the endpoint choice (ping /v2/, HTTPS then plain HTTP for an insecure
// registry), authorization (the challenge of the ping, then the header on
// every request; a refused bearer token is fetched again once), manifests,
// blobs (redirects to other hosts followed without credentials, resumable
// with Range) and uploads. Blocking; one instance per pull or push.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/registry/auth.hpp"
#include "dind/registry/hosts.hpp"
#include "dind/registry/http_client.hpp"

namespace dind::registry {

struct FetchedManifest {
  std::string bytes;
  std::string content_type;
  std::string digest;  // sha256 of bytes
};

// The first of `endpoints` whose /v2/ answers (an endpoint that cannot be
// reached, or answers neither 200 nor 401, hands over to the next when
// there is one), with its status and, for a 401, its challenges.
struct Ping {
  Endpoint endpoint;
  int status = 0;
  std::vector<Challenge> challenges;
};
base::Result<Ping> ping_registry(HttpClient& http, const std::vector<Endpoint>& endpoints);

class Repository {
 public:
  // `path` is the repository path ("library/busybox"); `display` the name
  // used in messages ("127.0.0.1:5000/cap/three").
  Repository(HttpClient& http, Authenticator& auth, std::vector<Endpoint> endpoints,
             std::string path, std::string display, AuthConfig credentials, bool push);

  // Picks the endpoint and authorizes. Errors name the registry.
  base::Status connect();
  const Endpoint& endpoint() const { return endpoint_; }
  const std::string& path() const { return path_; }

  // By tag or digest; a digest reference is verified against the bytes.
  // kNotFound with dockerd's "manifest for <name>:<tag> not found: ...".
  base::Result<FetchedManifest> manifest(const std::string& reference);
  // The blob's body from `offset` on (206 for a range); kNotFound, or
  // kUnavailable for transport failures.
  base::Result<std::unique_ptr<HttpResponse>> open_blob(const std::string& digest,
                                                        uint64_t offset = 0);
  // A small blob read whole and checked against its digest (configs).
  base::Result<std::string> read_blob(const std::string& digest, size_t max_bytes);

  // Push side.
  base::Result<bool> blob_exists(const std::string& digest);
  // Cross-repository mount; false when the registry started an upload
  // instead (then upload_blob is needed).
  base::Result<bool> mount_blob(const std::string& digest, const std::string& from_path);
  base::Status upload_blob(const std::string& digest, const std::filesystem::path& file,
                           uint64_t size);
  base::Status put_manifest(const std::string& tag, const std::string& bytes,
                            const std::string& media_type);

 private:
  base::Result<std::unique_ptr<HttpResponse>> send(HttpRequest req, bool follow_redirects = false);
  std::string v2(const std::string& rest) const;  // "/v2/<path>/<rest>"
  base::Error error_from(HttpResponse& resp, const std::string& what);

  HttpClient& http_;
  Authenticator& auth_;
  std::vector<Endpoint> endpoints_;
  Endpoint endpoint_;
  std::string path_;
  std::string display_;
  AuthConfig credentials_;
  bool push_ = false;
  bool connected_ = false;
  std::vector<Challenge> challenges_;
  std::string authorization_;  // "" when the registry asked for none
};

}  // namespace dind::registry
