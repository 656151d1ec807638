#include "dind/registry/repository.hpp"

#include "dind/base/log.hpp"
#include "dind/base/sha256.hpp"
#include "dind/image/reference.hpp"
#include "dind/registry/manifest.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;

Repository::Repository(HttpClient& http, Authenticator& auth, std::vector<Endpoint> endpoints,
                       std::string path, std::string display, AuthConfig credentials, bool push)
    : http_(http),
      auth_(auth),
      endpoints_(std::move(endpoints)),
      path_(std::move(path)),
      display_(std::move(display)),
      credentials_(std::move(credentials)),
      push_(push) {}

std::string Repository::v2(const std::string& rest) const {
  return "/v2/" + path_ + "/" + rest;
}

base::Error Repository::error_from(HttpResponse& resp, const std::string& what) {
  const int status = resp.status();
  auto body = resp.read_all(64 << 10);
  std::string text = body ? registry_error_text(*body) : "";
  if (status == 401) {
    return make_error(ErrorKind::kPermissionDenied,
                      text.empty() ? "unauthorized: authentication required" : text);
  }
  if (status == 403) {
    return make_error(ErrorKind::kPermissionDenied,
                      text.empty() ? "denied: requested access to the resource is denied" : text);
  }
  if (status == 404) {
    return make_error(ErrorKind::kNotFound, text.empty() ? what + ": not found" : text);
  }
  if (text.empty()) {
    text = what + ": the registry answered " + std::to_string(status);
  }
  return make_error(status >= 500 ? ErrorKind::kUnavailable : ErrorKind::kInvalidArgument, text);
}

Result<Ping> ping_registry(HttpClient& http, const std::vector<Endpoint>& endpoints) {
  std::optional<base::Error> first;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    const bool more = i + 1 < endpoints.size();
    HttpRequest req;
    req.url = e.base;
    req.url.target = "/v2/";
    auto resp = http.send(req, e.trust);
    if (!resp) {
      DIND_LOG(kDebug) << "registry: " << e.base.origin() << ": " << resp.error().message;
      if (!first) {
        first = resp.error();
      }
      if (e.fallback && more) {
        continue;
      }
      return make_error(ErrorKind::kUnavailable,
                        "Get \"" + e.base.origin() + "/v2/\": " + resp.error().message);
    }
    Ping p{e, (*resp)->status(), {}};
    if (p.status == 401) {
      p.challenges = parse_challenges((*resp)->headers("WWW-Authenticate"));
    } else if (p.status != 200 && more && (e.fallback || p.status >= 500)) {
      // A mirror that is down, a plain-HTTP server answering TLS bytes.
      continue;
    }
    return p;
  }
  return first ? *first : make_error(ErrorKind::kUnavailable, "no registry endpoint to try");
}

base::Status Repository::connect() {
  if (connected_) {
    return {};
  }
  {
    auto ping = ping_registry(http_, endpoints_);
    if (!ping) {
      return std::move(ping).error();
    }
    endpoint_ = ping->endpoint;
    challenges_ = ping->challenges;
    connected_ = true;
    if (!challenges_.empty()) {
      std::vector<std::string> scopes{repository_scope(path_, push_)};
      auto authz = auth_.authorize(challenges_, scopes, credentials_, endpoint_.trust);
      if (!authz) {
        if (authz.error().kind == ErrorKind::kPermissionDenied &&
            authz.error().message == "no basic auth credentials") {
          return make_error(ErrorKind::kPermissionDenied, "Head \"" + endpoint_.base.origin() +
                                                              v2("manifests/") +
                                                              "\": no basic auth credentials");
        }
        return std::move(authz).error();
      }
      authorization_ = *authz;
    }
    return {};
  }
}

Result<std::unique_ptr<HttpResponse>> Repository::send(HttpRequest req, bool follow_redirects) {
  DIND_TRY(connect());
  req.url.tls = endpoint_.base.tls;
  req.url.host = endpoint_.base.host;
  req.url.port = endpoint_.base.port;
  const HttpRequest original = req;
  bool retried = false;
  for (;;) {
    HttpRequest r = original;
    if (!authorization_.empty()) {
      r.headers.emplace_back("Authorization", authorization_);
    }
    auto resp = http_.send(r, endpoint_.trust);
    if (!resp) {
      return resp;
    }
    if ((*resp)->status() == 401 && !retried) {
      // A token that expired or has a narrower scope: ask again once.
      retried = true;
      auto ch = parse_challenges((*resp)->headers("WWW-Authenticate"));
      if (ch.empty()) {
        return resp;
      }
      auth_.forget(authorization_);
      challenges_ = ch;
      std::vector<std::string> scopes{repository_scope(path_, push_)};
      if (auto it = ch[0].params.find("scope");
          it != ch[0].params.end() && it->second != scopes[0]) {
        scopes.push_back(it->second);
      }
      auto authz = auth_.authorize(challenges_, scopes, credentials_, endpoint_.trust);
      if (!authz) {
        return std::move(authz).error();
      }
      authorization_ = *authz;
      continue;
    }
    const int status = (*resp)->status();
    if (!follow_redirects ||
        (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)) {
      return resp;
    }
    // Blob storage elsewhere (S3, a CDN): follow, without our credentials
    // once the host changes.
    Url at = r.url;
    for (int hops = 0; hops < 10; ++hops) {
      auto loc = (*resp)->header("Location");
      if (!loc) {
        return make_error(ErrorKind::kUnavailable, "a redirect without a Location");
      }
      auto next = resolve_url(at, *loc);
      if (!next) {
        return std::move(next).error();
      }
      HttpRequest hop;
      hop.url = *next;
      for (const auto& [k, v] : original.headers) {
        hop.headers.emplace_back(k, v);  // Range, Accept; never Authorization
      }
      if (next->host == endpoint_.base.host && next->port == endpoint_.base.port &&
          !authorization_.empty()) {
        hop.headers.emplace_back("Authorization", authorization_);
      }
      const TlsTrust trust = next->host == endpoint_.base.host ? endpoint_.trust : TlsTrust{};
      resp = http_.send(hop, trust);
      if (!resp) {
        return resp;
      }
      const int s = (*resp)->status();
      if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) {
        return resp;
      }
      at = *next;
    }
    return make_error(ErrorKind::kUnavailable, "too many redirects fetching " + r.url.target);
  }
}

Result<FetchedManifest> Repository::manifest(const std::string& reference) {
  HttpRequest req;
  req.url.target = v2("manifests/" + reference);
  for (const auto& a : manifest_accept()) {
    req.headers.emplace_back("Accept", a);
  }
  auto resp = send(req);
  if (!resp) {
    return std::move(resp).error();
  }
  const bool by_digest = reference.rfind("sha256:", 0) == 0;
  const std::string shown = display_ + (by_digest ? "@" : ":") + reference;
  if ((*resp)->status() != 200) {
    auto err = error_from(**resp, "manifest for " + shown);
    if (err.kind == ErrorKind::kNotFound) {
      err.message = "manifest for " + shown + " not found: " + err.message;
    }
    return err;
  }
  if (auto len = (*resp)->content_length(); len && *len > kMaxManifestBytes) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the manifest for " + shown + " is larger than 4 MiB");
  }
  auto bytes = (*resp)->read_all(kMaxManifestBytes);
  if (!bytes) {
    return std::move(bytes).error().with_context("manifest for " + shown);
  }
  FetchedManifest m;
  m.bytes = std::move(*bytes);
  m.content_type = (*resp)->header("Content-Type").value_or("");
  m.digest = base::sha256_digest(m.bytes);
  if (by_digest && m.digest != reference) {
    return make_error(ErrorKind::kDataLoss, "the manifest served for " + shown +
                                                " has the digest " + m.digest + ": refused");
  }
  return m;
}

Result<std::unique_ptr<HttpResponse>> Repository::open_blob(const std::string& digest,
                                                            uint64_t offset) {
  HttpRequest req;
  req.url.target = v2("blobs/" + digest);
  if (offset > 0) {
    req.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
  }
  auto resp = send(req, /*follow_redirects=*/true);
  if (!resp) {
    return resp;
  }
  const int status = (*resp)->status();
  if (status == 200 && offset == 0) {
    return resp;
  }
  if (status == 206 && offset > 0) {
    return resp;
  }
  if (status == 200 && offset > 0) {
    return make_error(ErrorKind::kUnavailable,
                      "the registry does not resume downloads of " + digest.substr(0, 19));
  }
  return error_from(**resp, "blob " + digest);
}

Result<std::string> Repository::read_blob(const std::string& digest, size_t max_bytes) {
  auto resp = open_blob(digest);
  if (!resp) {
    return std::move(resp).error();
  }
  auto body = (*resp)->read_all(max_bytes);
  if (!body) {
    return std::move(body).error().with_context("blob " + digest);
  }
  if (base::sha256_digest(*body) != digest) {
    return make_error(ErrorKind::kDataLoss,
                      "the blob " + digest + " served by the registry does not match its digest");
  }
  return body;
}

Result<bool> Repository::blob_exists(const std::string& digest) {
  HttpRequest req;
  req.method = "HEAD";
  req.url.target = v2("blobs/" + digest);
  auto resp = send(req);
  if (!resp) {
    return std::move(resp).error();
  }
  if ((*resp)->status() == 200) {
    return true;
  }
  if ((*resp)->status() == 404) {
    return false;
  }
  return error_from(**resp, "blob " + digest);
}

Result<bool> Repository::mount_blob(const std::string& digest, const std::string& from_path) {
  HttpRequest req;
  req.method = "POST";
  req.url.target =
      v2("blobs/uploads/?mount=" + digest + "&from=" + url_escape(from_path, /*keep_slash=*/true));
  auto resp = send(req);
  if (!resp) {
    return std::move(resp).error();
  }
  if ((*resp)->status() == 201) {
    return true;
  }
  if ((*resp)->status() == 202) {
    // The registry started an upload instead; let it expire (dockerd cancels
    // it with a DELETE, which registries may refuse anyway).
    if (auto loc = (*resp)->header("Location"); loc) {
      if (auto u = resolve_url(endpoint_.base, *loc); u) {
        HttpRequest del;
        del.method = "DELETE";
        del.url = *u;
        (void)send(del);
      }
    }
    return false;
  }
  return error_from(**resp, "mounting blob " + digest);
}

base::Status Repository::upload_blob(const std::string& digest, const std::filesystem::path& file,
                                     uint64_t size) {
  HttpRequest start;
  start.method = "POST";
  start.url.target = v2("blobs/uploads/");
  auto resp = send(start);
  if (!resp) {
    return std::move(resp).error();
  }
  if ((*resp)->status() != 202) {
    return error_from(**resp, "starting an upload");
  }
  auto loc = (*resp)->header("Location");
  if (!loc) {
    return make_error(ErrorKind::kUnavailable, "the registry started an upload without a Location");
  }
  auto url = resolve_url(endpoint_.base, *loc);
  if (!url) {
    return std::move(url).error();
  }
  // Monolithic: one PUT with the digest and the whole blob.
  HttpRequest put;
  put.method = "PUT";
  put.url = *url;
  put.url.target += (put.url.target.find('?') == std::string::npos ? "?" : "&");
  put.url.target += "digest=" + url_escape(digest);
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.body_file = file;
  (void)size;
  auto done = send(put);
  if (!done) {
    return std::move(done).error();
  }
  if ((*done)->status() != 201) {
    return error_from(**done, "uploading blob " + digest);
  }
  return {};
}

base::Status Repository::put_manifest(const std::string& tag, const std::string& bytes,
                                      const std::string& media_type) {
  HttpRequest req;
  req.method = "PUT";
  req.url.target = v2("manifests/" + tag);
  req.headers.emplace_back("Content-Type", media_type);
  req.body = bytes;
  auto resp = send(req);
  if (!resp) {
    return std::move(resp).error();
  }
  if ((*resp)->status() != 201) {
    return error_from(**resp, "putting the manifest");
  }
  return {};
}

}  // namespace dind::registry
