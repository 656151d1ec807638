// The fuzz targets: each feeds the bytes to one parser of untrusted input
// the way the daemon does, and checks what must hold whatever the input
// (no crash, no write outside the directory given, answers that round-trip).
#include "fuzz_targets.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "dind/api/filters.hpp"
#include "dind/api/http.hpp"
#include "dind/api/router.hpp"
#include "dind/base/fs.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/build/dockerignore.hpp"
#include "dind/image/layer_unpack.hpp"
#include "dind/image/reference.hpp"
#include "dind/model/container_json.hpp"
#include "dind/model/network_json.hpp"
#include "dind/registry/manifest.hpp"
#include "netsetup/dns_message.hpp"
#include "netsetup/manager.hpp"

namespace dind::fuzz {
namespace fs = std::filesystem;
using nlohmann::json;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

namespace {

// The chunked request-body decoder fed in pieces whose sizes come from the
// input: the same body whatever the split.
void chunked(std::string_view data) {
  auto decode = [&](size_t step) {
    api::ChunkedDecoder d;
    d.set_limit(1 << 20);
    std::string body;
    size_t at = 0;
    while (at < data.size() && !d.done() && d.state() != api::ChunkedDecoder::State::kError) {
      const size_t n = std::min(step, data.size() - at);
      const size_t used = d.feed(data.data() + at, n, [&](const char* p, size_t len) {
        body.append(p, len);
        return true;
      });
      require(used <= n, "the decoder consumed more than it was given");
      at += used;
      if (used < n) {
        break;
      }
    }
    require(body.size() <= (1 << 20) || d.over_limit(), "a body over the limit got through");
    return std::make_pair(d.state(), body);
  };
  const auto whole = decode(data.size() + 1);
  const auto bytewise = decode(1);
  require(whole.first != api::ChunkedDecoder::State::kDone || whole == bytewise,
          "a decoded body depends on how the bytes were split");
}

// A request target: the router (version prefix, path, captures) and the
// query string with Docker's filters.
void target(std::string_view data) {
  static const api::Router router = [] {
    api::Router r;
    for (const char* p : {"/containers/{id}/json", "/images/{name*}/json", "/networks/{id}",
                          "/containers/json", "/_ping"}) {
      r.add("GET", p, [](api::Request, api::Reply) {});
    }
    return r;
  }();
  api::Request req;
  req.method = "GET";
  req.target = std::string(data);
  auto m = router.match(req);
  if (m.handler == nullptr) {
    require(m.error.status >= 400, "an unmatched target without an error status");
    return;
  }
  (void)api::filters_of(req);
  (void)req.query_bool("all");
  auto q = api::parse_query(data.substr(std::min(data.find('?'), data.size())));
  (void)q;
}

// JSON bodies of create, exec and network create: decoded or refused.
void json_bodies(std::string_view data) {
  const json j = json::parse(data, nullptr, false);
  if (j.is_discarded()) {
    return;
  }
  if (auto c = model::decode_create_request(j)) {
    // What is stored must decode to the same thing.
    auto again = model::decode_host_config(model::encode_host_config(c->host_config));
    require(again.ok() && *again == c->host_config, "HostConfig does not survive a round trip");
  }
  (void)model::decode_exec_config(j);
  (void)model::decode_network_create(j);
}

void reference(std::string_view data) {
  if (auto r = image::parse_reference(data)) {
    auto again = image::parse_reference(r->to_string());
    require(again.ok() && again->to_string() == r->to_string(), "a reference does not round-trip");
  }
}

void manifest(std::string_view data) {
  for (const char* type : {"application/vnd.oci.image.index.v1+json",
                           "application/vnd.docker.distribution.manifest.v2+json",
                           "application/vnd.oci.image.manifest.v1+json", ""}) {
    if (auto m = registry::parse_manifest(data, type)) {
      (void)registry::select_platform(*m, registry::host_platform());
    }
  }
  (void)registry::config_diff_ids(data, 2);
  (void)registry::parse_platform(data);
}

void dockerfile(std::string_view data) { (void)build::parse_dockerfile(data); }

void dockerignore(std::string_view data) {
  auto m = build::IgnoreMatcher::parse(data);
  if (m) {
    for (const char* p : {"a", "src/main.c", "Dockerfile", ".git/config", "a/b/c/d"}) {
      (void)m->ignored(p);
    }
  }
}

void dns(std::string_view data) {
  auto q = netsetup::dns::parse_query(data);
  (void)netsetup::dns::header_id(data);
  if (q) {
    const std::string out = netsetup::dns::build_response(*q, netsetup::dns::Rcode::kNoError, {}, {}, 600,
                                                     q->udp_size);
    require(out.size() <= std::max<size_t>(q->udp_size, 512), "an answer larger than allowed");
  }
}

void port(std::string_view data) {
  if (auto p = netsetup::parse_port(data)) {
    require(p->container_port != 0, "a port request without a container port");
  }
}

// A layer tar unpacked into a fresh directory inside a fresh parent: the
// parent must hold nothing else afterwards (no entry escaped).
void tar_layer(std::string_view data) {
  char parent_tmpl[] = "/tmp/dind-fuzz-XXXXXX";
  const char* parent = ::mkdtemp(parent_tmpl);
  require(parent != nullptr, "mkdtemp");
  const fs::path root = fs::path(parent) / "root";
  fs::create_directory(root);
  size_t at = 0;
  image::LayerReader reader = [&](void* buf, size_t len) -> ssize_t {
    const size_t n = std::min(len, data.size() - at);
    std::memcpy(buf, data.data() + at, n);
    at += n;
    return static_cast<ssize_t>(n);
  };
  (void)image::unpack_layer(reader, root);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    names.push_back(e.path().filename().string());
  }
  fs::remove_all(parent, ec);
  require(names == std::vector<std::string>{"root"}, "an entry was written outside the root");
}

}  // namespace

const Target kTargets[] = {
    {"chunked", chunked},       {"target", target},     {"json_bodies", json_bodies},
    {"reference", reference},   {"manifest", manifest}, {"dockerfile", dockerfile},
    {"dockerignore", dockerignore}, {"dns", dns},       {"port", port},
    {"tar_layer", tar_layer},   {nullptr, nullptr},
};

const Target* find_target(std::string_view name) {
  for (const Target* t = kTargets; t->name != nullptr; ++t) {
    if (name == t->name) {
      return t;
    }
  }
  return nullptr;
}

}  // namespace dind::fuzz
