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
#include "dind/base/stdcopy.hpp"
#include "dind/build/builder.hpp"
#include "dind/build/dockerfile.hpp"
#include "dind/build/dockerignore.hpp"
#include "dind/engine/container_config.hpp"
#include "dind/image/layer_unpack.hpp"
#include "dind/image/rooted_tree.hpp"
#include "dind/image/reference.hpp"
#include "dind/model/container_json.hpp"
#include "dind/model/network_json.hpp"
#include "dind/registry/manifest.hpp"
#include "certgen/profile.hpp"
#include "certgen/x509.hpp"
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

// A reader over the input bytes (a tar, plain or compressed).
image::LayerReader bytes_reader(std::string_view data, size_t& at) {
  return [data, &at](void* buf, size_t len) -> ssize_t {
    const size_t n = std::min(len, data.size() - at);
    std::memcpy(buf, data.data() + at, n);
    at += n;
    return static_cast<ssize_t>(n);
  };
}

// A fixed absolute directory the seeds aim links at ("/tmp/dind-fuzz-canary"):
// an entry that escaped through an absolute link would land there.
constexpr const char* kCanary = "/tmp/dind-fuzz-canary";

// Runs `fill` on a fresh directory inside a fresh parent: the parent must
// hold nothing else afterwards and the canary must stay empty (no entry
// escaped, through `..` or an absolute link).
template <typename Fill>
void in_fresh_root(Fill fill) {
  std::error_code canary_ec;
  fs::create_directories(kCanary, canary_ec);
  char parent_tmpl[] = "/tmp/dind-fuzz-XXXXXX";
  const char* parent = ::mkdtemp(parent_tmpl);
  require(parent != nullptr, "mkdtemp");
  const fs::path root = fs::path(parent) / "root";
  fs::create_directory(root);
  fill(root);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    names.push_back(e.path().filename().string());
  }
  fs::remove_all(parent, ec);
  require(names == std::vector<std::string>{"root"}, "an entry was written outside the root");
  require(fs::is_empty(kCanary, ec) && !ec, "an entry escaped through an absolute link");
}

// A layer tar unpacked into a fresh directory.
void tar_layer(std::string_view data) {
  in_fresh_root([&](const fs::path& root) {
    size_t at = 0;
    (void)image::unpack_layer(bytes_reader(data, at), root);
  });
}

// docker cp into a container: the archive extracted at the tree's root and
// at a directory reached through a link inside it.
void cp_archive(std::string_view data) {
  in_fresh_root([&](const fs::path& root) {
    fs::create_directory(root / "dir");
    fs::create_directory_symlink("/dir", root / "link");
    auto tree = image::RootedTree::open(root, {}, false);
    require(tree.ok(), "open the tree");
    for (const char* at_path : {"/", "/link"}) {
      size_t at = 0;
      (void)image::extract_to_path(*tree, at_path, bytes_reader(data, at), {});
    }
  });
}

// A build context tar extracted into its (empty) directory.
void build_context(std::string_view data) {
  in_fresh_root([&](const fs::path& root) {
    size_t at = 0;
    (void)build::extract_context(bytes_reader(data, at), root);
  });
}

// The stdcopy decoder (what the daemon reads back of a shim's stream): the
// same frames whatever the split, and the frames re-encoded are the bytes
// they were decoded from.
void stdcopy(std::string_view data) {
  auto decode = [&](size_t step, std::vector<base::StdcopyDecoder::Frame>& frames) {
    base::StdcopyDecoder d;
    for (size_t at = 0; at < data.size(); at += step) {
      if (!d.feed(data.substr(at, step), frames)) {
        return false;
      }
    }
    return true;
  };
  std::vector<base::StdcopyDecoder::Frame> whole, bytewise;
  const bool ok_whole = decode(data.size() + 1, whole);
  const bool ok_bytewise = decode(1, bytewise);
  require(ok_whole == ok_bytewise, "the decoder's verdict depends on the split");
  require(whole.size() == bytewise.size(), "the frames depend on the split");
  std::string again;
  for (size_t i = 0; i < whole.size(); ++i) {
    require(whole[i].stream == bytewise[i].stream && whole[i].payload == bytewise[i].payload,
            "a frame depends on the split");
    base::stdcopy_append(again, whole[i].stream, whole[i].payload);
  }
  require(data.substr(0, again.size()) == again, "re-encoded frames differ from their bytes");
}

// DOCKER_TLS_SAN: what parses renders back to a value that parses to the same.
void tls_san(std::string_view data) {
  auto sans = certgen::parse_san_list(data);
  if (!sans) {
    return;
  }
  std::string text;
  for (const auto& san : *sans) {
    text += san.to_string() + ",";
  }
  auto again = certgen::parse_san_list(text);
  require(again.ok() && *again == *sans, "a parsed SAN list does not round-trip");
}

// Certificate and key files found in a reused certificate directory.
void cert_pem(std::string_view data) {
  if (auto cert = certgen::cert_from_pem(data)) {
    (void)certgen::cert_sans(cert->get());
    (void)certgen::cert_to_pem(cert->get());
  }
  if (auto key = certgen::key_from_pem(data)) {
    (void)certgen::key_to_pem(key->get());
  }
}

// -v, --tmpfs and VOLUME specs, one per line (the first character of a line
// picks which).
void mount_spec(std::string_view data) {
  model::Config config;
  model::HostConfig hc;
  std::vector<std::string> binds;
  size_t at = 0;
  while (at < data.size()) {
    size_t end = data.find('\n', at);
    if (end == std::string_view::npos) {
      end = data.size();
    }
    const std::string_view line = data.substr(at, end - at);
    at = end + 1;
    if (line.empty()) {
      continue;
    }
    const std::string rest(line.substr(1));
    switch (line[0] % 3) {
      case 0: binds.push_back(rest); break;
      case 1: hc.tmpfs[rest.substr(0, rest.find(' '))] = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1); break;
      default: config.volumes.insert(rest); break;
    }
  }
  hc.binds = binds;
  if (auto specs = engine::parse_mounts(config, hc)) {
    for (const auto& m : *specs) {
      require(!m.destination.empty() && m.destination.front() == '/', "a mount without an absolute destination");
    }
  }
}

}  // namespace

const Target kTargets[] = {
    {"chunked", chunked},       {"target", target},     {"json_bodies", json_bodies},
    {"reference", reference},   {"manifest", manifest}, {"dockerfile", dockerfile},
    {"dockerignore", dockerignore}, {"dns", dns},       {"port", port},
    {"tar_layer", tar_layer},   {"cp_archive", cp_archive}, {"build_context", build_context},
    {"stdcopy", stdcopy},       {"tls_san", tls_san},   {"cert_pem", cert_pem},
    {"mount_spec", mount_spec}, {nullptr, nullptr},
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
