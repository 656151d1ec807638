#include "dind/registry/service.hpp"

#include <nlohmann/json.hpp>

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
  auto ping = ping_registry(http_, endpoints_for(server, options_, /*pull=*/false));
  if (!ping) {
    return std::move(ping).error();
  }
  const std::string v2 = ping->endpoint.base.origin() + "/v2/";
  if (ping->status == 200) {
    return LoginResult{};  // the registry asks for no authentication
  }
  if (ping->status != 401) {
    return make_error(ErrorKind::kUnavailable, "login attempt to " + v2 + " failed with status: " +
                                                   std::to_string(ping->status));
  }
  bool bearer = false;
  for (const auto& c : ping->challenges) {
    bearer = bearer || c.scheme == "bearer";
  }
  if (!bearer) {
    // Basic: try the credentials on /v2/ itself.
    HttpRequest again;
    again.url = ping->endpoint.base;
    again.url.target = "/v2/";
    again.headers.emplace_back("Authorization",
                               "Basic " + base::base64_encode(auth.username + ":" + auth.password));
    auto checked = http_.send(again, ping->endpoint.trust);
    if (!checked) {
      return std::move(checked).error();
    }
    if ((*checked)->status() == 200) {
      return LoginResult{};
    }
    return make_error(ErrorKind::kPermissionDenied,
                      "login attempt to " + v2 + " failed with status: " +
                          std::to_string((*checked)->status()) + " Unauthorized");
  }
  std::string refresh;
  auto authz =
      auth_.authorize(ping->challenges, {}, auth, ping->endpoint.trust, /*offline=*/true, &refresh);
  if (!authz) {
    return std::move(authz).error();
  }
  return LoginResult{refresh};
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
