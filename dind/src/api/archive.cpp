// docker cp (HEAD/GET/PUT /containers/{id}/archive) and docker export
// (GET /containers/{id}/export): the container's files through
// Containers::with_fs and image/rooted_tree.hpp.

#include <nlohmann/json.hpp>

#include "dind/api/containers.hpp"
#include "dind/api/errors.hpp"
#include "dind/api/route_util.hpp"
#include "dind/base/log.hpp"
#include "dind/base/text.hpp"
#include "dind/image/rooted_tree.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::api {
using base::ErrorKind;
using base::make_error;
using nlohmann::json;

namespace {

// Docker's 404 for a path the container lacks (the names as the client gave them).
base::Error missing_path(const std::string& path, const std::string& container) {
  return make_error(ErrorKind::kNotFound,
                    "Could not find the file " + path + " in container " + container);
}

// The container's path from the query, or dockerd's refusal.
std::optional<std::string> archive_path(const Request& req, const Reply& reply) {
  auto path = req.query_value("path");
  if (!path || path->empty()) {
    reply(error_response(400, "path cannot be empty"));
    return std::nullopt;
  }
  return path;
}

std::string stat_header(const image::PathStat& s) {
  const json j = {{"name", s.name},
                  {"size", s.size},
                  {"mode", s.mode},
                  {"mtime", s.mtime},
                  {"linkTarget", s.link_target}};
  return base::base64_encode(j.dump());
}

// The stat, with a missing path in Docker's words.
base::Result<image::PathStat> stat_in(const image::RootedTree& tree, const std::string& path,
                                      const std::string& container) {
  auto s = image::stat_path(tree, path);
  if (!s && s.error().kind == ErrorKind::kNotFound) {
    return missing_path(path, container);
  }
  return s;
}

void stat_route(const ContainerContext& ctx, const Request& req, Reply reply) {
  auto path = archive_path(req, reply);
  if (!path) {
    return;
  }
  const std::string id = req.params.at("id");
  const bool head = req.method == "HEAD";
  ctx.queries->post([ctx, id, path = *path, head, reply] {
    image::PathStat stat;
    auto st = ctx.containers->with_fs(id, true, [&](const image::RootedTree& tree, const model::Config&) -> base::Status {
      DIND_ASSIGN_OR_RETURN(stat, stat_in(tree, path, id));
      return base::Status{};
    });
    if (!st) {
      reply(error_response(st.error()));
      return;
    }
    Response r;
    r.headers["X-Docker-Container-Path-Stat"] = stat_header(stat);
    if (head) {
      r.headers["Content-Type"] = "text/plain; charset=utf-8";
      reply(std::move(r));
      return;
    }
    ctx.containers->publish(id, "archive-path");
    // The tar follows on a worker, over the container's file system again
    // (the stat had to answer before the head went out).
    r.headers["Content-Type"] = "application/x-tar";
    r.stream = [ctx, id, path](std::shared_ptr<BodyWriter> w) {
      ctx.workers->post([ctx, id, path, w] {
        ArchiveStream out(w);
        auto st = ctx.containers->with_fs(id, true, [&](const image::RootedTree& tree, const model::Config&) -> base::Status {
          return image::write_path_tar(tree, path, [&out](std::string_view chunk) { return out.write(chunk); });
        });
        if (!st) {
          DIND_LOG(kWarn) << "docker cp from " << id << ":" << path << ": " << st.error().message;
        }
        out.finish(st);
      });
    };
    reply(std::move(r));
  });
}

// docker cp -a: the uid:gid of the container's user in its own passwd and
// group files (dockerd looks them up on the host, a known bug).
base::Result<std::pair<uid_t, gid_t>> container_owner(const image::RootedTree& tree,
                                                      const model::Config& config) {
  if (config.user.empty()) {
    return std::pair<uid_t, gid_t>{0, 0};
  }
  DIND_ASSIGN_OR_RETURN(auto user, runtime::resolve_user(config.user, image::read_tree_file(tree, "/etc/passwd"),
                                                         image::read_tree_file(tree, "/etc/group")));
  return std::pair<uid_t, gid_t>{user.uid, user.gid};
}

void put_route(const ContainerContext& ctx, const Request& req, Reply reply) {
  auto path = archive_path(req, reply);
  if (!path) {
    return;
  }
  if (!req.body_file) {
    reply(error_response(400, "the request body (a tar archive) is empty"));
    return;
  }
  image::ExtractOptions options;
  options.no_overwrite_dir_non_dir = req.query_bool("noOverwriteDirNonDir").value_or(false);
  const bool copy_owner = req.query_bool("copyUIDGID").value_or(false);
  const std::string id = req.params.at("id");
  auto body = req.body_file;
  auto progress = req.body_progress;
  ctx.workers->post([ctx, id, path = *path, options, copy_owner, body, progress, reply]() mutable {
    const image::LayerReader reader = progress ? image::LayerReader(progress_reader(body, progress))
                                               : image::fd_reader(body->get());
    auto st = ctx.containers->with_fs(id, true, [&](const image::RootedTree& tree, const model::Config& config) -> base::Status {
      if (copy_owner) {
        DIND_ASSIGN_OR_RETURN(options.owner, container_owner(tree, config));
      }
      auto done = image::extract_to_path(tree, path, reader, options);
      if (!done && done.error().kind == ErrorKind::kNotFound) {
        return base::Status(missing_path(path, id));
      }
      return done;
    });
    if (!st) {
      DIND_LOG(kInfo) << "docker cp to " << id << ":" << path << ": " << st.error().message;
    } else {
      ctx.containers->publish(id, "extract-to-dir");
    }
    reply(status_response(st, 200));
  });
}

void export_route(const ContainerContext& ctx, const Request& req, Reply reply) {
  const std::string id = req.params.at("id");
  ctx.queries->post([ctx, id, reply] {
    // The container must exist before the head goes out.
    if (auto st = ctx.containers->inspect(id, false); !st) {
      reply(error_response(st.error()));
      return;
    }
    ctx.containers->publish(id, "export");
    Response r;
    r.headers["Content-Type"] = "application/x-tar";
    r.stream = [ctx, id](std::shared_ptr<BodyWriter> w) {
      ctx.workers->post([ctx, id, w] {
        ArchiveStream out(w);
        // The root file system alone, without volumes or binds (as dockerd).
        auto st = ctx.containers->with_fs(id, false, [&](const image::RootedTree& tree, const model::Config&) -> base::Status {
          auto root = tree.resolve("/", false);
          if (!root) {
            return base::Status(std::move(root).error());
          }
          image::TreeTarOptions options;
          options.whiteouts = false;
          return image::write_tree_tar(root->dir.get(), ".", "", options,
                                       [&out](std::string_view chunk) { return out.write(chunk); });
        });
        if (!st) {
          DIND_LOG(kWarn) << "docker export " << id << ": " << st.error().message;
        }
        out.finish(st);
      });
    };
    reply(std::move(r));
  });
}

}  // namespace

void add_archive_routes(Router& router, ContainerContext ctx) {
  router.add("GET", "/containers/{id}/archive",
             [ctx](Request req, Reply reply) { stat_route(ctx, req, std::move(reply)); });
  const RouteOptions upload = RouteOptions::upload(true);
  router.add(
      "PUT", "/containers/{id}/archive",
      [ctx](Request req, Reply reply) { put_route(ctx, req, std::move(reply)); }, upload);
  router.add("GET", "/containers/{id}/export",
             [ctx](Request req, Reply reply) { export_route(ctx, req, std::move(reply)); });
}

}  // namespace dind::api
