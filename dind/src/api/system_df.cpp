#include "dind/api/system_df.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "dind/api/container_views.hpp"
#include "dind/api/errors.hpp"
#include "dind/api/images.hpp"
#include "dind/api/route_util.hpp"
#include "dind/api/volumes.hpp"
#include "dind/base/time.hpp"
#include "dind/image/chain_id.hpp"

namespace dind::api {
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Bytes of the regular files under dir (a volume's data), links not followed.
int64_t tree_size(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      total += static_cast<int64_t>(it->file_size(ec));
    }
  }
  return total;
}

// What `type=` asks for (API 1.42; every type without it).
struct DfTypes {
  bool containers = true, images = true, volumes = true, build_cache = true;
};

base::Result<DfTypes> df_types(const Request& req) {
  if (req.version < ApiVersion{1, 42} || req.query.count("type") == 0) {
    return DfTypes{};
  }
  DfTypes t{false, false, false, false};
  for (auto [it, end] = req.query.equal_range("type"); it != end; ++it) {
    const std::string& v = it->second;
    bool* flag = v == "container"     ? &t.containers
                 : v == "image"       ? &t.images
                 : v == "volume"      ? &t.volumes
                 : v == "build-cache" ? &t.build_cache
                                      : nullptr;
    if (flag == nullptr) {
      return base::make_error(base::ErrorKind::kInvalidArgument, "unknown object type: " + v);
    }
    *flag = true;
  }
  return t;
}

// The containers (with their sizes when `sizes`); `users` counts them per image.
json container_usage(const DfContext& ctx, ApiVersion version, bool sizes,
                     std::map<std::string, int>& users) {
  engine::Containers::ListOptions o;
  o.all = true;
  o.size = sizes;
  auto views = ctx.containers->list(o);
  json containers = json::array();
  const int64_t now = base::now_secs();
  for (const auto& v : views ? *views : std::vector<engine::ContainerView>{}) {
    ++users[v.image_id];
    containers.push_back(summary_json(v, now, version));
  }
  return containers;
}

// The images with their shared sizes and users; `layers_size` gets the sum
// of every layer once.
json image_usage(const DfContext& ctx, ApiVersion version, const std::map<std::string, int>& users,
                 uint64_t& layers_size) {
  // Each layer once: its size, and how many images hold it.
  auto images = ctx.images->list();
  std::map<std::string, std::pair<uint64_t, int>> layers;  // chain ID -> (size, images)
  std::map<std::string, std::vector<std::string>> chains_of;
  for (const auto& s : images) {
    auto chains = image::chain_ids(s.diff_ids);
    for (const auto& chain : chains) {
      auto& entry = layers[chain];
      if (entry.second == 0) {
        auto info = ctx.layers->get(chain);
        entry.first = info ? info->size : 0;
      }
      ++entry.second;
    }
    chains_of[s.id] = std::move(chains);
  }
  for (const auto& [chain, entry] : layers) {
    layers_size += entry.first;
  }
  json image_list = json::array();
  for (const auto& s : images) {
    json j = image_summary_json(s, version);
    if (j["RepoDigests"] == json::array()) {
      j["RepoDigests"] = nullptr;  // df keeps dockerd's nil slice at every version
    }
    uint64_t shared = 0;
    for (const auto& chain : chains_of[s.id]) {
      if (layers[chain].second > 1) {
        shared += layers[chain].first;
      }
    }
    j["SharedSize"] = shared;
    auto n = users.find(s.id);
    j["Containers"] = n == users.end() ? 0 : n->second;
    image_list.push_back(std::move(j));
  }
  return image_list;
}

json volume_usage(const DfContext& ctx) {
  json volumes = json::array();
  for (const auto& v : ctx.volumes->list()) {
    json j = volume_json(v);
    j["UsageData"] = {{"Size", tree_size(v.mountpoint)},
                      {"RefCount", static_cast<int64_t>(ctx.volumes->users_of(v.name).size())}};
    volumes.push_back(std::move(j));
  }
  return volumes;
}

// dockerd's DiskUsage: a type not asked for is null (LayersSize 0).
json disk_usage(const DfContext& ctx, ApiVersion version, DfTypes types) {
  std::map<std::string, int> users;  // image ID -> containers
  json containers = container_usage(ctx, version, types.containers, users);
  uint64_t layers_size = 0;
  json out = {{"LayersSize", 0},
              {"Images", nullptr},
              {"Containers", types.containers ? containers : json(nullptr)},
              {"Volumes", types.volumes ? volume_usage(ctx) : json(nullptr)},
              // dockerd 20.10 (1.41) sends null for no build cache, 25 (1.44) [].
              {"BuildCache", types.build_cache && version >= ApiVersion{1, 44} ? json::array()
                                                                              : json(nullptr)}};
  if (types.images) {
    out["Images"] = image_usage(ctx, version, users, layers_size);
    out["LayersSize"] = layers_size;
  }
  if (version < ApiVersion{1, 42}) {
    out["BuilderSize"] = 0;  // deprecated, dropped in 1.42
  }
  return out;
}

}  // namespace

void add_system_df_route(Router& router, DfContext ctx) {
  router.add("GET", "/system/df", [ctx](Request req, Reply reply) {
    auto types = df_types(req);
    if (!types) {
      reply(error_response(types.error()));
      return;
    }
    ctx.workers->post([ctx, version = req.version, types = *types, reply] {
      reply(Response::json(200, dump(disk_usage(ctx, version, types))));
    });
  });
}

}  // namespace dind::api
