// docker cp and docker export: the container's file system from the
// daemon's side (engine/containers.hpp, Containers::with_fs).

#include <sys/stat.h>

#include <filesystem>

#include "dind/base/log.hpp"
#include "dind/engine/containers.hpp"
#include "container_record.hpp"

namespace dind::engine {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;

base::Status Containers::with_fs(
    const std::string& ref, bool with_mounts,
    const std::function<base::Status(const image::RootedTree&, const model::Config&)>& fn) {
  auto found = find(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto c = *found;
  // Held throughout: a start (which mounts the root itself) and a removal wait.
  std::lock_guard op(c->op_mu);
  std::optional<image::RootfsPlan> mount_here;
  std::vector<image::TreeMount> mounts;
  model::Config config;
  bool read_only_root = false;
  // Looked up before the engine's lock (never the image store's lock under
  // it: the image store asks the engine whether an image is in use under
  // its own). A container's image never changes.
  auto image = images_->get(c->image_id);
  {
    EngineLock lock(*this);
    if (c->removing || by_id_.count(c->id) == 0) {
      return make_error(ErrorKind::kNotFound, "No such container: " + ref);
    }
    wait_released_locked(lock, *c);  // a finished run unmounts first
    config = c->config;
    read_only_root = c->host_config.readonly_rootfs;
    if (!c->mounted) {
      if (!image) {
        return std::move(image).error();
      }
      auto plan = layers_->prepare_rootfs(c->id, image->top_layer);
      if (!plan) {
        return std::move(plan).error();
      }
      mount_here = *plan;
    }
    if (with_mounts) {
      for (const auto& m : c->mounts) {
        if (m.type == MountSpec::Type::kTmpfs) {
          continue;  // in the container's namespace only (dockerd sees the directory below too)
        }
        fs::path source = m.source;
        if (m.type == MountSpec::Type::kVolume) {
          auto v = volumes_->inspect(m.source);
          if (!v) {
            continue;  // created at the first start
          }
          source = v->mountpoint;
        }
        mounts.push_back({m.destination, source, m.read_only});
      }
      if (c->network_mode.rfind("container:", 0) != 0) {
        for (const char* name : {"hostname", "hosts", "resolv.conf"}) {
          const fs::path file = dir(c->id) / name;
          std::error_code ec;
          if (fs::is_regular_file(file, ec)) {
            mounts.push_back({std::string("/etc/") + name, file, false});
          }
        }
      }
    }
  }
  const fs::path merged = layers_->root() / "mounts" / c->id / "merged";
  if (mount_here) {
    if (auto st = image::mount_overlay(*mount_here); !st) {
      return std::move(st).error().with_context("mounting the container's root file system");
    }
  }
  base::Status result;
  {
    auto tree = image::RootedTree::open(merged, std::move(mounts), read_only_root);
    result = tree ? fn(*tree, config) : base::Status(std::move(tree).error());
  }
  if (mount_here) {
    if (auto st = image::unmount(merged); !st) {
      DIND_LOG(kWarn) << "docker cp: " << st.error().message;
    }
  }
  return result;
}

base::Result<Containers::StatsTarget> Containers::stats_target(const std::string& ref) const {
  EngineLock lock(*this);
  DIND_ASSIGN_OR_RETURN(auto c, find_locked(ref));
  StatsTarget t;
  t.id = c->id;
  t.name = c->name;
  t.running = c->status == RunStatus::kRunning;
  // The host's interfaces are not the container's (dockerd shows none).
  t.pid = t.running && c->network_mode != "host" ? c->pid : 0;
  t.cgroup = "/" + paths_.cgroup_parent + "/" + c->id;
  return t;
}

}  // namespace dind::engine
