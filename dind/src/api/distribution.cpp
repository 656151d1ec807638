#include "dind/api/distribution.hpp"

#include <nlohmann/json.hpp>

#include "dind/api/errors.hpp"
#include "dind/api/progress.hpp"
#include "dind/base/log.hpp"
#include "dind/image/reference.hpp"

namespace dind::api {
using base::ErrorKind;
using base::make_error;
using nlohmann::ordered_json;

std::string progress_line(const registry::Progress& p) {
  if (p.detail && p.total > 0) {
    return progress_message(p.status, p.id, p.current, p.total);
  }
  ordered_json doc;
  doc["status"] = p.status;
  if (p.detail) {
    doc["progressDetail"] = ordered_json::object();
  }
  if (!p.id.empty()) {
    doc["id"] = p.id;
  }
  return doc.dump();
}

namespace {

// dockerd answers a registry's refusal with 500 and the registry's words.
Response registry_error_response(const base::Error& e) {
  return e.kind == ErrorKind::kPermissionDenied ? error_response(500, e.message)
                                                : error_response(e);
}

registry::AuthConfig request_auth(const Request& req) {
  auto it = req.headers.find("X-Registry-Auth");
  return it == req.headers.end() ? registry::AuthConfig{}
                                 : registry::decode_registry_auth(it->second);
}

}  // namespace

void pull_handler(const DistributionContext& ctx, const Request& req, Reply reply) {
  std::string text = req.query_value("fromImage").value_or("");
  const std::string tag = req.query_value("tag").value_or("");
  if (text.empty()) {
    reply(error_response(400, "fromImage must not be empty"));
    return;
  }
  if (!tag.empty()) {
    text += (image::valid_digest(tag) ? "@" : ":") + tag;
  }
  auto ref = image::parse_reference(text);
  if (!ref) {
    reply(error_response(ref.error()));
    return;
  }
  registry::PullRequest pr;
  pr.ref = *ref;
  pr.auth = request_auth(req);
  if (auto platform = req.query_value("platform"); platform && !platform->empty()) {
    auto p = registry::parse_platform(*platform);
    if (!p) {
      reply(error_response(p.error()));
      return;
    }
    pr.platform = *p;
  }
  auto stream = std::make_shared<ProgressStream>(std::move(reply), registry_error_response);
  ctx.threads->post([ctx, pr, stream] {
    auto sink = [stream](const registry::Progress& p) { return stream->emit(progress_line(p)); };
    auto result = ctx.registry->pull(pr, sink);
    if (!result) {
      DIND_LOG(kInfo) << "pull " << pr.ref.to_string() << ": " << result.error().message;
      stream->fail(result.error());
      return;
    }
    engine::publish_event(ctx.events, "image", "pull", pr.ref.familiar(), {{"name", pr.ref.familiar()}});
    stream->emit(progress_line({"", "Digest: " + result->digest, false, 0, 0}));
    stream->emit(progress_line(
        {"",
         std::string("Status: ") +
             (result->up_to_date ? "Image is up to date for " : "Downloaded newer image for ") +
             pr.ref.familiar(),
         false, 0, 0}));
    stream->finish();
  });
}

void add_distribution_routes(Router& router, DistributionContext ctx) {
  router.add("POST", "/auth", [ctx](Request req, Reply reply) {
    auto auth = registry::parse_auth_body(req.body);
    if (!auth) {
      reply(error_response(auth.error()));
      return;
    }
    ctx.threads->post([ctx, auth = *auth, reply] {
      auto result = ctx.registry->login(auth);
      if (!result) {
        reply(registry_error_response(result.error()));
        return;
      }
      nlohmann::json body = {{"IdentityToken", result->identity_token},
                             {"Status", "Login Succeeded"}};
      reply(Response::json(200, body.dump() + "\n"));
    });
  });
  router.add("POST", "/images/{name*}/push", [ctx](Request req, Reply reply) {
    std::string text = req.params["name"];
    const std::string tag = req.query_value("tag").value_or("");
    if (!tag.empty()) {
      text += ":" + tag;
    }
    auto ref = image::parse_reference(text);
    if (!ref) {
      reply(error_response(ref.error()));
      return;
    }
    if (ref->digest) {
      reply(error_response(400, "cannot push a digest reference"));
      return;
    }
    registry::PushRequest pr{*ref, request_auth(req)};
    auto stream = std::make_shared<ProgressStream>(std::move(reply), registry_error_response);
    ctx.threads->post([ctx, pr, stream] {
      auto sink = [stream](const registry::Progress& p) { return stream->emit(progress_line(p)); };
      auto result = ctx.registry->push(pr, sink);
      if (!result) {
        DIND_LOG(kInfo) << "push " << pr.ref.to_string() << ": " << result.error().message;
        stream->fail(result.error());
        return;
      }
      engine::publish_event(ctx.events, "image", "push", pr.ref.familiar(), {{"name", pr.ref.familiar()}});
      stream->emit(progress_line(
          {"",
           result->tag + ": digest: " + result->digest + " size: " + std::to_string(result->size),
           false, 0, 0}));
      ordered_json aux;
      aux["progressDetail"] = ordered_json::object();
      aux["aux"] = {{"Tag", result->tag}, {"Digest", result->digest}, {"Size", result->size}};
      stream->emit(aux.dump());
      stream->finish();
    });
  });
  router.add("GET", "/distribution/{name*}/json", [ctx](Request req, Reply reply) {
    auto ref = image::parse_reference(req.params["name"]);
    if (!ref) {
      reply(error_response(ref.error()));
      return;
    }
    ctx.threads->post([ctx, ref = *ref, auth = request_auth(req), reply] {
      auto d = ctx.registry->inspect(ref, auth);
      if (!d) {
        reply(registry_error_response(d.error()));
        return;
      }
      ordered_json body;
      body["Descriptor"] = {{"mediaType", d->media_type}, {"digest", d->digest}, {"size", d->size}};
      body["Platforms"] = ordered_json::array();
      for (const auto& p : d->platforms) {
        ordered_json pj = {{"architecture", p.architecture}, {"os", p.os}};
        if (!p.variant.empty()) {
          pj["variant"] = p.variant;
        }
        body["Platforms"].push_back(pj);
      }
      reply(Response::json(200, body.dump() + "\n"));
    });
  });
  router.add("GET", "/images/search", [](Request, Reply reply) {
    reply(error_response(501,
                         "searching a registry is not supported by this daemon: use the "
                         "registry's web interface or its catalog API"));
  });
}

}  // namespace dind::api
