#include "dind/api/router.hpp"

#include "dind/api/errors.hpp"

namespace dind::api {
namespace {

std::vector<std::string> split_segments(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

Response not_found() {
  return error_response(404, "page not found");
}

bool is_capture(const std::string& pat) {
  return pat.size() > 2 && pat.front() == '{' && pat.back() == '}';
}

// Matches path segments against a pattern, filling the captures. A "{name*}"
// capture takes every segment not claimed by the fixed segments after it
// (image names contain slashes: "/images/{name*}/json").
bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string>& segs,
                    std::map<std::string, std::string>& params) {
  size_t si = 0;
  for (size_t pi = 0; pi < pattern.size(); ++pi) {
    const std::string& pat = pattern[pi];
    if (is_capture(pat) && pat[pat.size() - 2] == '*') {
      const size_t tail = pattern.size() - pi - 1;
      if (segs.size() < si + 1 + tail) {
        return false;
      }
      const size_t end = segs.size() - tail;
      std::string joined = segs[si];
      for (size_t j = si + 1; j < end; ++j) {
        joined += "/" + segs[j];
      }
      params[pat.substr(1, pat.size() - 3)] = joined;
      si = end;
      continue;
    }
    if (si >= segs.size()) {
      return false;
    }
    if (is_capture(pat)) {
      params[pat.substr(1, pat.size() - 2)] = segs[si];
    } else if (pat != segs[si]) {
      return false;
    }
    ++si;
  }
  return si == segs.size();
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  routes_.push_back(Route{std::move(method), split_segments(pattern), std::move(handler), options});
}

Router::Match Router::match(Request& req) const {
  Match m;
  std::string_view target = req.target;
  if (target.empty() || target[0] != '/') {
    m.error = error_response(400, "invalid request target");
    return m;
  }
  auto qpos = target.find('?');
  std::string_view raw_path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) {
    auto q = parse_query(target.substr(qpos + 1));
    if (!q) {
      m.error = error_response(400, "invalid query string");
      return m;
    }
    req.query = std::move(*q);
  }
  // Segments are split before decoding so that an encoded "/" stays inside
  // its segment ("/images/a%2Fb/json").
  std::vector<std::string> segs;
  for (auto& raw : split_segments(raw_path)) {
    auto dec = percent_decode(raw, false);
    if (!dec) {
      m.error = error_response(400, "invalid escape in request path");
      return m;
    }
    segs.push_back(std::move(*dec));
  }
  req.version = kMaxApiVersion;
  if (!segs.empty() && segs[0].size() > 1 && segs[0][0] == 'v') {
    if (auto v = parse_api_version(std::string_view(segs[0]).substr(1))) {
      if (*v > kMaxApiVersion) {
        m.error = error_response(400, "client version " + v->to_string() +
                                          " is too new. Maximum supported API version is " +
                                          kMaxApiVersion.to_string());
        return m;
      }
      if (*v < kMinApiVersion) {
        m.error = Response::text(400, "client version " + v->to_string() +
                                          " is too old. Minimum supported API version is " +
                                          kMinApiVersion.to_string() +
                                          ", please upgrade your client to a newer version\n");
        return m;
      }
      req.version = *v;
      segs.erase(segs.begin());
    }
  }
  req.path.clear();
  for (auto& s : segs) {
    req.path += "/" + s;
  }
  if (req.path.empty()) {
    req.path = "/";
  }
  for (const auto& route : routes_) {
    const bool method_ok =
        route.method == req.method || (req.method == "HEAD" && route.method == "GET");
    std::map<std::string, std::string> params;
    if (method_ok && match_segments(route.segments, segs, params)) {
      req.params = std::move(params);
      m.handler = &route.handler;
      m.options = route.options;
      return m;
    }
  }
  m.error = not_found();
  return m;
}

}  // namespace dind::api
