#pragma once
// Routes "/v1.NN/containers/{id}/json"-style requests to handlers. Pure: no
// I/O. Version-prefix rules follow dockerd: unversioned = the current version,
// above the maximum -> 400 JSON, below the minimum -> 400 text; unknown
// routes and known paths with the wrong method -> 404 "page not found".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dind/api/http.hpp"

namespace dind::api {

struct RouteOptions {
  size_t max_body = 1u << 20;  // bytes accepted for this route's request body
  // Uploads (image load/import, build contexts): the body streams into an
  // unlinked temp file handed over as Request::body_file instead of memory.
  bool spool_body = false;
  // With spool_body: the handler runs as soon as the upload starts and reads
  // it as it arrives (Request::body_progress); its reply goes out once the
  // whole body is in.
  bool stream_body = false;

  // An upload of up to 64 GiB spooled to a file (load, import, build
  // contexts, cp archives), read as it arrives when `streamed`.
  static RouteOptions upload(bool streamed) {
    RouteOptions o;
    o.max_body = uint64_t{64} << 30;
    o.spool_body = true;
    o.stream_body = streamed;
    return o;
  }
};

class Router {
 public:
  // pattern: "/containers/{id}/json"; a "{name}" segment matches one
  // non-empty path segment, "{name*}" at the end matches the rest (for image
  // names with slashes, later).
  void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Handler* handler = nullptr;  // null: `error` says why
    RouteOptions options;
    Response error;
  };
  // Resolves method + raw target. On success fills req.path, req.version,
  // req.query and req.params. Never throws.
  Match match(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

}  // namespace dind::api
