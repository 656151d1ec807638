#include "dind/api/containers.hpp"

#include <cerrno>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>
#include <utility>

#include "dind/api/container_views.hpp"
#include "dind/api/errors.hpp"
#include "dind/api/filters.hpp"
#include "dind/base/time.hpp"
#include "dind/api/route_util.hpp"
#include "dind/engine/shim_client.hpp"
#include "dind/model/container_json.hpp"

namespace dind::api {

namespace {

// 204, or 304 Not Modified when the container already was in the state asked for.
Response change_response(const base::Result<engine::Change>& r) {
  if (!r) {
    return error_response(r.error());
  }
  return Response::empty(*r == engine::Change::kUnchanged ? 304 : 204);
}

}  // namespace
using base::ErrorKind;
using base::make_error;
using engine::Containers;
using json = nlohmann::json;

namespace {

std::optional<int64_t> log_time(const std::string& v) {
  if (v.empty()) {
    return 0;
  }
  // Unix seconds with an optional fraction (what the CLI sends).
  char* end = nullptr;
  const double secs = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0') {
    return std::nullopt;
  }
  return static_cast<int64_t>(secs * 1e9);
}

// A BodyWriter that either the producer or the disconnect takes, once.
class WriterSlot {
 public:
  explicit WriterSlot(std::shared_ptr<BodyWriter> w) : w_(std::move(w)) {}
  std::shared_ptr<BodyWriter> take() {
    std::lock_guard lock(mu_);
    return std::exchange(w_, nullptr);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<BodyWriter> w_;
};

}  // namespace

void add_container_routes(Router& router, ContainerContext ctx) {
  auto c = ctx.containers;
  auto workers = ctx.workers;
  auto queries = ctx.queries != nullptr ? ctx.queries : ctx.workers;

  router.add("POST", "/containers/create", [c, workers](Request req, Reply reply) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      reply(error_response(400, req.body.empty()
                                    ? "config cannot be empty in order to create a container"
                                    : "invalid JSON in the request body"));
      return;
    }
    auto request = model::decode_create_request(body);
    if (!request) {
      reply(error_response(request.error()));
      return;
    }
    const std::string name = req.query_value("name").value_or("");
    workers->post([c, name, request = std::move(*request), reply]() mutable {
      auto created = c->create(name, std::move(request));
      if (!created) {
        reply(error_response(created.error()));
        return;
      }
      reply(Response::json(201, dump({{"Id", created->id}, {"Warnings", created->warnings}})));
    });
  });

  router.add("POST", "/containers/{id}/start", [c, workers](Request req, Reply reply) {
    workers->post([c, id = req.params["id"], reply] { reply(change_response(c->start(id))); });
  });

  router.add("POST", "/containers/{id}/attach", [c, workers](Request req, Reply reply) {
    auto info = c->inspect(req.params["id"], false);
    if (!info) {
      reply(error_response(info.error()));
      return;
    }
    Containers::AttachOptions o;
    o.stdin = req.query_bool("stdin").value_or(false);
    o.stdout = req.query_bool("stdout").value_or(false);
    o.stderr = req.query_bool("stderr").value_or(false);
    o.logs = req.query_bool("logs").value_or(false);
    o.stream = req.query_bool("stream").value_or(false);
    if (auto keys = req.query_value("detachKeys"); keys && !keys->empty()) {
      auto bytes = engine::parse_detach_keys(*keys);
      if (!bytes) {
        reply(error_response(400, "Invalid detach keys (" + *keys + ") provided"));
        return;
      }
      o.detach_keys = std::move(*bytes);
    }
    const bool tty = info->config.tty;
    Response r = Response::empty(200);
    r.headers["Content-Type"] = stream_content_type(req, tty);
    r.hijack = [c, workers, id = info->id, o](std::shared_ptr<RawStream> stream) {
      auto attach = [c, id, o, stream] {
        if (auto st = c->attach(id, o, stream); !st) {
          stream->write(st.error().message + "\n");
          stream->shutdown_write();
        }
      };
      if (!o.logs) {
        attach();
        return;
      }
      // The replay is read off the I/O threads, and a moment after the 101:
      // clients that read the upgrade's headers through a buffer and the
      // stream from the raw socket (the python SDK) lose bytes that arrive
      // with the headers.
      workers->post([attach] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        attach();
      });
    };
    reply(std::move(r));
  });

  router.add("POST", "/containers/{id}/wait", [c](Request req, Reply reply) {
    const std::string cond_text = req.query_value("condition").value_or("");
    Containers::WaitCondition cond = Containers::WaitCondition::kNotRunning;
    if (cond_text == "next-exit") {
      cond = Containers::WaitCondition::kNextExit;
    } else if (cond_text == "removed") {
      cond = Containers::WaitCondition::kRemoved;
    } else if (!cond_text.empty() && cond_text != "not-running") {
      reply(error_response(400, "invalid condition: \"" + cond_text + "\""));
      return;
    }
    if (auto info = c->inspect(req.params["id"], false); !info) {
      reply(error_response(info.error()));
      return;
    }
    // Headers at once, the body at the exit (the CLI relies on both).
    Response r;
    r.headers["Content-Type"] = "application/json";
    r.stream = [c, id = req.params["id"], cond](std::shared_ptr<BodyWriter> writer) {
      // The waiter may wait long; a client that leaves releases its
      // connection at once (the waiter then finds the slot empty).
      auto slot = std::make_shared<WriterSlot>(writer);
      writer->on_close([slot] { (void)slot->take(); });
      auto st = c->wait(id, cond, [slot](engine::ExitInfo info) {
        if (auto w = slot->take()) {
          json body = {
              {"Error", info.error.empty() ? json(nullptr) : json{{"Message", info.error}}},
              {"StatusCode", info.code}};
          w->write(dump(body));
          w->finish();
        }
      });
      if (!st) {
        if (auto w = slot->take()) {
          w->write(dump({{"Error", {{"Message", st.error().message}}}, {"StatusCode", -1}}));
          w->finish();
        }
      }
    };
    reply(std::move(r));
  });

  router.add("GET", "/containers/{id}/logs", [c](Request req, Reply reply) {
    Containers::LogOptions o;
    o.stdout = req.query_bool("stdout").value_or(false);
    o.stderr = req.query_bool("stderr").value_or(false);
    if (!o.stdout && !o.stderr) {
      reply(error_response(400, "Bad parameters: you must choose at least one stream"));
      return;
    }
    o.follow = req.query_bool("follow").value_or(false);
    o.timestamps = req.query_bool("timestamps").value_or(false);
    auto since = log_time(req.query_value("since").value_or(""));
    auto until = log_time(req.query_value("until").value_or(""));
    if (!since || !until) {
      reply(error_response(400, "invalid value for since/until: expected unix seconds"));
      return;
    }
    o.since_nanos = *since;
    o.until_nanos = *until;
    // As dockerd: a count of 0 or more limits the lines; anything else
    // ("all", -1 as Testcontainers sends, junk) means every line.
    if (auto t = req.query_value("tail"); t && !t->empty()) {
      char* end = nullptr;
      errno = 0;
      const long n = std::strtol(t->c_str(), &end, 10);
      if (*end == '\0' && errno == 0 && n >= 0) {
        o.tail = static_cast<size_t>(n);
      }
    }
    auto info = c->inspect(req.params["id"], false);
    if (!info) {
      reply(error_response(info.error()));
      return;
    }
    if (info->host_config.log_config.type == "none") {
      reply(error_response(501, "configured logging driver does not support reading"));
      return;
    }
    Response r;
    r.headers["Content-Type"] = stream_content_type(req, info->config.tty);
    r.stream = [c, id = info->id, o](std::shared_ptr<BodyWriter> w) {
      auto st = c->logs(
          id, o,
          [w](std::string data, std::function<void(bool)> done) {
            w->write(std::move(data), std::move(done));
          },
          [w] { w->finish(); }, [w](std::function<void()> cb) { w->on_close(std::move(cb)); });
      if (!st) {
        w->finish();
      }
    };
    reply(std::move(r));
  });

  auto timeout_of = [](const Request& req) -> std::optional<int> {
    auto t = req.query_value("t");
    if (!t || t->empty()) {
      return -1;
    }
    char* end = nullptr;
    const long v = std::strtol(t->c_str(), &end, 10);
    if (*end != '\0') {
      return std::nullopt;
    }
    return static_cast<int>(v);
  };

  router.add("POST", "/containers/{id}/stop", [c, timeout_of, queries](Request req, Reply reply) {
    auto t = timeout_of(req);
    if (!t) {
      reply(error_response(400, "invalid value for t: " + req.query_value("t").value_or("")));
      return;
    }
    queries->post([c, id = req.params["id"], t = *t, reply] {
      c->stop(id, t, [reply](base::Result<engine::Change> r) { reply(change_response(r)); });
    });
  });

  router.add("POST", "/containers/{id}/restart", [c, timeout_of, queries](Request req, Reply reply) {
    auto t = timeout_of(req);
    if (!t) {
      reply(error_response(400, "invalid value for t: " + req.query_value("t").value_or("")));
      return;
    }
    queries->post([c, id = req.params["id"], t = *t, reply] {
      c->restart(id, t, [reply](base::Status st) { reply(status_response(st)); });
    });
  });

  router.add("POST", "/containers/{id}/kill", [c, queries](Request req, Reply reply) {
    queries->post([c, id = req.params["id"], sig = req.query_value("signal").value_or(""), reply] {
      c->kill(id, sig, [reply](base::Status st) { reply(status_response(st)); });
    });
  });

  router.add("DELETE", "/containers/{id}", [c, workers](Request req, Reply reply) {
    const bool force = req.query_bool("force").value_or(false);
    const bool volumes = req.query_bool("v").value_or(false);
    if (req.query_bool("link").value_or(false)) {
      reply(error_response(409, "Conflict, cannot remove the default link name of the container"));
      return;
    }
    workers->post([c, id = req.params["id"], force, volumes, reply] {
      reply(status_response(c->remove(id, force, volumes)));
    });
  });

  // docker rm --link PARENT/ALIAS.
  router.add("DELETE", "/containers/{parent}/{alias}", [c, queries](Request req, Reply reply) {
    if (!req.query_bool("link").value_or(false)) {
      reply(error_response(404, "No such container: " + req.params["parent"] + "/" + req.params["alias"]));
      return;
    }
    queries->post([c, parent = req.params["parent"], alias = req.params["alias"], reply] {
      reply(status_response(c->remove_link(parent, alias)));
    });
  });

  router.add("GET", "/containers/json", [c, queries](Request req, Reply reply) {
    Containers::ListOptions o;
    o.all = req.query_bool("all").value_or(false);
    o.size = req.query_bool("size").value_or(false);
    if (auto l = req.query_value("limit"); l && !l->empty()) {
      o.limit = std::atoi(l->c_str());
    }
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    o.filters = *f;
    queries->post([c, o = std::move(o), version = req.version, reply] {
      auto list = c->list(o);
      if (!list) {
        reply(error_response(list.error()));
        return;
      }
      const int64_t now = base::now_secs();
      json out = json::array();
      for (const auto& v : *list) {
        out.push_back(summary_json(v, now, version));
      }
      reply(Response::json(200, dump(out)));
    });
  });

  router.add("GET", "/containers/{id}/json", [c, queries](Request req, Reply reply) {
    queries->post([c, id = req.params["id"], size = req.query_bool("size").value_or(false),
                   version = req.version, reply] {
      auto info = c->inspect(id, size);
      reply(info ? Response::json(200, dump(inspect_json(*info, version)))
                 : error_response(info.error()));
    });
  });

  router.add("GET", "/containers/{id}/top", [c, workers](Request req, Reply reply) {
    workers->post(
        [c, id = req.params["id"], args = req.query_value("ps_args").value_or(""), reply] {
          auto t = c->top(id, args);
          reply(t ? Response::json(200, dump({{"Titles", t->titles}, {"Processes", t->processes}}))
                  : error_response(t.error()));
        });
  });

  router.add("POST", "/containers/{id}/resize", [c, workers](Request req, Reply reply) {
    auto size = terminal_size(req);
    if (!size) {
      reply(error_response(400, "invalid terminal size: h and w must be numbers from 0 to 65535"));
      return;
    }
    workers->post([c, id = req.params["id"], h = size->first, w = size->second, reply] {
      reply(status_response(c->resize(id, h, w), 200));
    });
  });

  router.add("POST", "/containers/{id}/update", [c, workers](Request req, Reply reply) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    auto request = model::decode_update_request(body);
    if (!request) {
      reply(error_response(request.error()));
      return;
    }
    workers->post([c, id = req.params["id"], request = std::move(*request), reply] {
      auto warnings = c->update(id, request);
      reply(warnings ? Response::json(200, dump({{"Warnings", *warnings}}))
                     : error_response(warnings.error()));
    });
  });

  for (const char* op : {"pause", "unpause"}) {
    const bool pause = std::string(op) == "pause";
    router.add("POST", std::string("/containers/{id}/") + op,
               [c, workers, pause](Request req, Reply reply) {
                 workers->post([c, id = req.params["id"], pause, reply] {
                   reply(status_response(pause ? c->pause(id) : c->unpause(id)));
                 });
               });
  }

  router.add("GET", "/containers/{id}/changes", [c, workers](Request req, Reply reply) {
    workers->post([c, id = req.params["id"], reply] {
      auto ch = c->changes(id);
      if (!ch) {
        reply(error_response(ch.error()));
        return;
      }
      json out = json::array();
      for (const auto& change : *ch) {
        out.push_back({{"Path", change.path}, {"Kind", static_cast<int>(change.kind)}});
      }
      reply(Response::json(200, dump(out)));
    });
  });

  router.add("POST", "/containers/{id}/rename", [c, queries](Request req, Reply reply) {
    queries->post([c, id = req.params["id"], name = req.query_value("name").value_or(""), reply] {
      reply(status_response(c->rename(id, name)));
    });
  });

  router.add("POST", "/containers/prune", [c, workers](Request req, Reply reply) {
    auto f = filters_of(req);
    if (!f) {
      reply(error_response(f.error()));
      return;
    }
    // until, label, label!: a prune removes only what they keep.
    auto wanted = prune_filter(*f, {"until", "label", "label!"});
    if (!wanted) {
      reply(error_response(wanted.error()));
      return;
    }
    workers->post([c, wanted = std::move(*wanted), reply] {
      const engine::PruneReport report = c->prune(wanted);
      reply(Response::json(
          200, dump({{"ContainersDeleted", report.deleted.empty() ? json(nullptr) : json(report.deleted)},
                     {"SpaceReclaimed", report.space_reclaimed}})));
    });
  });
}

}  // namespace dind::api
