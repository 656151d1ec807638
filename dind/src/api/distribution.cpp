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

std::string error_line(const std::string& message) {
  ordered_json doc;
  doc["errorDetail"] = {{"message", message}};
  doc["error"] = message;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// dockerd answers a registry's refusal with 500 and the registry's words.
Response registry_error_response(const base::Error& e) {
  return e.kind == ErrorKind::kPermissionDenied ? error_response(500, e.message)
                                                : error_response(e);
}

// The bridge between a blocking pull/push and the streamed answer: the head
// goes out with the first line (so an early failure can still be an HTTP
// error), lines written before the writer arrives are kept, and a client
// that leaves makes emit() answer false.
class ProgressStream : public std::enable_shared_from_this<ProgressStream> {
 public:
  explicit ProgressStream(Reply reply) : reply_(std::move(reply)) {}

  bool emit(const std::string& line) {
    std::unique_lock lock(mu_);
    if (closed_) {
      return false;
    }
    if (!started_) {
      started_ = true;
      pending_ += line + "\n";
      lock.unlock();
      Response r;
      r.headers["Content-Type"] = "application/json";
      auto self = shared_from_this();
      r.stream = [self](std::shared_ptr<BodyWriter> w) { self->attach(std::move(w)); };
      reply_(std::move(r));
      return true;
    }
    if (!writer_) {
      pending_ += line + "\n";
      return true;
    }
    writer_->write(line + "\n");
    return true;
  }

  // Ends the answer: an HTTP error when nothing was sent yet.
  void fail(const base::Error& e) {
    std::unique_lock lock(mu_);
    if (!started_) {
      started_ = true;
      finished_ = true;
      lock.unlock();
      reply_(registry_error_response(e));
      return;
    }
    lock.unlock();
    emit(error_line(e.message));
    finish();
  }

  void finish() {
    std::lock_guard lock(mu_);
    finished_ = true;
    if (writer_) {
      writer_->finish();
    }
  }

 private:
  void attach(std::shared_ptr<BodyWriter> w) {
    std::lock_guard lock(mu_);
    writer_ = w;
    auto weak = weak_from_this();
    w->on_close([weak] {
      if (auto self = weak.lock()) {
        std::lock_guard l(self->mu_);
        self->closed_ = true;
      }
    });
    if (!pending_.empty()) {
      w->write(std::move(pending_));
      pending_.clear();
    }
    if (finished_) {
      w->finish();
    }
  }

  std::mutex mu_;
  Reply reply_;
  std::shared_ptr<BodyWriter> writer_;
  std::string pending_;
  bool started_ = false;
  bool finished_ = false;
  bool closed_ = false;
};

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
  auto stream = std::make_shared<ProgressStream>(std::move(reply));
  ctx.threads->post([ctx, pr, stream] {
    auto sink = [stream](const registry::Progress& p) { return stream->emit(progress_line(p)); };
    auto result = ctx.registry->pull(pr, sink);
    if (!result) {
      DIND_LOG(kInfo) << "pull " << pr.ref.to_string() << ": " << result.error().message;
      stream->fail(result.error());
      return;
    }
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
    auto stream = std::make_shared<ProgressStream>(std::move(reply));
    ctx.threads->post([ctx, pr, stream] {
      auto sink = [stream](const registry::Progress& p) { return stream->emit(progress_line(p)); };
      auto result = ctx.registry->push(pr, sink);
      if (!result) {
        DIND_LOG(kInfo) << "push " << pr.ref.to_string() << ": " << result.error().message;
        stream->fail(result.error());
        return;
      }
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
