#include "dind/registry/service.hpp"

#include <nlohmann/json.hpp>

#include "dind/base/log.hpp"
#include "dind/base/text.hpp"
#include "dind/registry/repository.hpp"
#include "service_internal.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;

Service::Service(RegistryOptions options, std::string user_agent, image::ImageStore& images,
                 image::LayerStore& layers, image::ContentStore& content,
                 image::BlobSources& blob_sources, std::shared_ptr<std::mutex> mutations)
    : options_(std::move(options)),
      http_(std::move(user_agent), options_.timeouts),
      auth_(http_),
      images_(images),
      layers_(layers),
      content_(content),
      mutations_(std::move(mutations)),
      blob_sources_(blob_sources),
      downloads_(static_cast<size_t>(std::max(1, options_.max_downloads))) {}

Service::~Service() = default;

Result<LoginResult> Service::login(const AuthConfig& auth) {
  std::string server = auth.server_address;
  for (const char* scheme : {"https://", "http://"}) {
    if (server.rfind(scheme, 0) == 0) {
      server = server.substr(std::string_view(scheme).size());
    }
  }
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  if (auto slash = server.find('/'); slash != std::string::npos) {
    server = server.substr(0, slash);  // "index.docker.io/v1" and the like
  }
  if (server.empty() || server == "index.docker.io" || server == "registry-1.docker.io" ||
      server == "docker.io") {
    server = kDockerHubDomain;
  }
  const auto endpoints = endpoints_for(server, options_, /*pull=*/false);
  std::optional<base::Error> last;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    HttpRequest ping;
    ping.url = e.base;
    ping.url.target = "/v2/";
    auto resp = http_.send(ping, e.trust);
    if (!resp) {
      last = resp.error();
      DIND_LOG(kDebug) << "registry: " << e.base.origin() << ": " << resp.error().message;
      if (e.fallback && i + 1 < endpoints.size()) {
        continue;
      }
      return make_error(ErrorKind::kUnavailable,
                        "Get \"" + e.base.origin() + "/v2/\": " + resp.error().message);
    }
    if ((*resp)->status() == 200) {
      return LoginResult{};  // no authentication asked for
    }
    if ((*resp)->status() != 401) {
      if (e.fallback && i + 1 < endpoints.size()) {
        continue;
      }
      return make_error(ErrorKind::kUnavailable,
                        "login attempt to " + e.base.origin() +
                            "/v2/ failed with status: " + std::to_string((*resp)->status()));
    }
    auto challenges = parse_challenges((*resp)->headers("WWW-Authenticate"));
    bool bearer = false;
    for (const auto& c : challenges) {
      bearer = bearer || c.scheme == "bearer";
    }
    if (!bearer) {
      // Basic: try the credentials on /v2/ itself.
      HttpRequest again = ping;
      again.headers.emplace_back(
          "Authorization", "Basic " + base::base64_encode(auth.username + ":" + auth.password));
      auto checked = http_.send(again, e.trust);
      if (!checked) {
        return std::move(checked).error();
      }
      if ((*checked)->status() == 200) {
        return LoginResult{};
      }
      return make_error(ErrorKind::kPermissionDenied,
                        "login attempt to " + e.base.origin() + "/v2/ failed with status: " +
                            std::to_string((*checked)->status()) + " Unauthorized");
    }
    std::string refresh;
    auto authz = auth_.authorize(challenges, {}, auth, e.trust, /*offline=*/true, &refresh);
    if (!authz) {
      return std::move(authz).error();
    }
    return LoginResult{refresh};
  }
  return last ? *last : make_error(ErrorKind::kUnavailable, "no endpoint for " + server);
}

Result<Service::Distribution> Service::inspect(const image::Reference& ref,
                                               const AuthConfig& auth) {
  Repository repo(http_, auth_, endpoints_for(ref.domain, options_, /*pull=*/false), ref.path,
                  ref.name(), auth, /*push=*/false);
  auto m = repo.manifest(ref.digest ? *ref.digest : ref.tag.value_or("latest"));
  if (!m) {
    return std::move(m).error();
  }
  auto parsed = parse_manifest(m->bytes, m->content_type);
  if (!parsed) {
    return std::move(parsed).error();
  }
  Distribution d;
  d.media_type = parsed->media_type;
  d.digest = m->digest;
  d.size = static_cast<int64_t>(m->bytes.size());
  if (parsed->kind == Manifest::Kind::kIndex) {
    for (const auto& e : parsed->manifests) {
      if (e.platform) {
        d.platforms.push_back(*e.platform);
      }
    }
  } else {
    auto config = repo.read_blob(parsed->config.digest, 8u << 20);
    if (config) {
      auto j = nlohmann::json::parse(*config, nullptr, false);
      if (j.is_object()) {
        Platform p;
        p.os = j.value("os", "linux");
        p.architecture = j.value("architecture", "");
        p.variant = j.value("variant", "");
        d.platforms.push_back(p);
      }
    }
  }
  return d;
}

}  // namespace dind::registry
