#include "dind/api/exec.hpp"

#include <nlohmann/json.hpp>

#include "dind/api/errors.hpp"
#include "dind/api/route_util.hpp"
#include "dind/base/stdcopy.hpp"
#include "dind/model/container_json.hpp"

namespace dind::api {
using engine::Execs;
using json = nlohmann::json;

namespace {

// A JSON object body ("" counts as {}), or nullopt.
std::optional<json> object_body(const Request& req) {
  if (req.body.empty()) {
    return json::object();
  }
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  return j;
}

// `GET /exec/{id}/json` as dockerd answers it.
json exec_json(const engine::ExecView& v) {
  const auto& c = v.config;
  json pc = {{"tty", c.tty},
             {"entrypoint", c.cmd.empty() ? std::string() : c.cmd.front()},
             {"arguments", c.cmd.empty() ? model::Strings{}
                                         : model::Strings(c.cmd.begin() + 1, c.cmd.end())},
             {"privileged", c.privileged}};
  if (!c.user.empty()) {
    pc["user"] = c.user;
  }
  if (!c.working_dir.empty()) {
    pc["workDir"] = c.working_dir;
  }
  return {{"ID", v.id},
          {"Running", v.running},
          {"ExitCode", v.exit_code ? json(*v.exit_code) : json(nullptr)},
          {"ProcessConfig", pc},
          {"OpenStdin", c.attach_stdin},
          {"OpenStderr", c.attach_stderr},
          {"OpenStdout", c.attach_stdout},
          {"CanRemove", false},
          {"ContainerID", v.container_id},
          {"DetachKeys", c.detach_keys},
          {"Pid", v.pid}};
}

}  // namespace

void add_exec_routes(Router& router, std::shared_ptr<Execs> execs, base::WorkerPool* workers) {
  router.add("POST", "/containers/{id}/exec", [execs, workers](Request req, Reply reply) {
    auto body = object_body(req);
    if (!body) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    auto config = model::decode_exec_config(*body);
    if (!config) {
      reply(error_response(config.error()));
      return;
    }
    workers->post([execs, id = req.params["id"], config = std::move(*config), reply] {
      auto created = execs->create(id, config);
      reply(created ? Response::json(201, dump({{"Id", *created}}))
                    : error_response(created.error()));
    });
  });

  router.add("POST", "/exec/{id}/start", [execs, workers](Request req, Reply reply) {
    auto body = object_body(req);
    if (!body) {
      reply(error_response(400, "invalid JSON in the request body"));
      return;
    }
    const std::string id = req.params["id"];
    if (!execs->exists(id)) {
      reply(error_response(404, "No such exec instance: " + id));
      return;
    }
    Execs::StartOptions o;
    o.detach = body->value("Detach", false);
    if (auto t = body->find("Tty"); t != body->end() && t->is_boolean()) {
      o.tty = t->get<bool>();
    }
    if (auto cs = body->find("ConsoleSize"); cs != body->end() && cs->is_array() &&
                                              cs->size() == 2 && (*cs)[0].is_number_unsigned() &&
                                              (*cs)[1].is_number_unsigned()) {
      o.rows = static_cast<int>(std::min<uint64_t>((*cs)[0].get<uint64_t>(), 65535));
      o.cols = static_cast<int>(std::min<uint64_t>((*cs)[1].get<uint64_t>(), 65535));
    }
    if (o.detach) {
      workers->post([execs, id, o, reply] {
        reply(status_response(execs->start(id, o, nullptr), 200));
      });
      return;
    }
    const bool tty = o.tty.value_or(execs->tty(id));
    Response r = Response::empty(200);
    r.headers["Content-Type"] = stream_content_type(req, tty);
    r.hijack = [execs, workers, id, o, tty](std::shared_ptr<RawStream> stream) {
      workers->post([execs, id, o, tty, stream] {
        if (auto st = execs->start(id, o, stream); !st) {
          // As dockerd: the error goes into the stream (the response is out).
          const std::string text = st.error().message + "\r\n";
          stream->write(tty ? text : base::stdcopy_frame(base::StdStream::kStdout, text),
                        [stream](bool) { stream->close(); });
        }
      });
    };
    reply(std::move(r));
  });

  router.add("POST", "/exec/{id}/resize", [execs, workers](Request req, Reply reply) {
    auto size = terminal_size(req);
    if (!size) {
      reply(error_response(400, "invalid terminal size: h and w must be numbers from 0 to 65535"));
      return;
    }
    workers->post([execs, id = req.params["id"], size = *size, reply] {
      reply(status_response(execs->resize(id, size.first, size.second), 200));
    });
  });

  router.add("GET", "/exec/{id}/json", [execs](Request req, Reply reply) {
    auto info = execs->inspect(req.params["id"]);
    reply(info ? Response::json(200, dump(exec_json(*info))) : error_response(info.error()));
  });
}

}  // namespace dind::api
