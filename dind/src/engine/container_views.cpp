// Containers: inspect, list, top, prune, changes (what the API shows).
#include "dind/engine/containers.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/process.hpp"
#include "dind/base/sha256.hpp"
#include "dind/base/stdcopy.hpp"
#include "dind/base/stopwatch.hpp"
#include "dind/base/text.hpp"
#include "dind/base/time.hpp"
#include "dind/engine/shim_client.hpp"
#include "container_record.hpp"
#include "container_util.hpp"
#include "host_facts.hpp"
#include "top.hpp"
#include "dind/model/container_json.hpp"
#include "dind/runtime/resources.hpp"
#include "dind/runtime/seccomp_bpf.hpp"
#include "dind/runtime/security.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_os.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// inspect, list, top, prune

std::pair<int64_t, int64_t> Containers::sizes(const std::string& id, const std::string& image_id) const {
  // SizeRw: what the container wrote (its upper directory); SizeRootFs: that
  // plus the image.
  int64_t rw = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(layers_->root() / "mounts" / id / "diff", ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      rw += static_cast<int64_t>(it->file_size(ec));
    }
  }
  auto image = images_->get(image_id);
  return {rw, rw + (image ? static_cast<int64_t>(image->size) : 0)};
}

ContainerView Containers::view_locked(const Container& c) const {
  ContainerView v;
  v.id = c.id;
  v.name = c.name;
  v.created = c.created;
  v.image_id = c.image_id;
  v.image_name = c.image_name;
  if (auto args = runtime::process_args(c.config); args && !args->empty()) {
    v.path = args->front();
    v.args.assign(args->begin() + 1, args->end());
  }
  v.status = c.status;
  v.paused = c.paused;
  v.oom_killed = c.oom_killed;
  v.pid = c.pid;
  v.exit_code = c.exit_code;
  v.restart_count = c.restart_count;
  v.error = c.error;
  v.started_at = c.started_at;
  v.finished_at = c.finished_at;
  v.container_dir = dir(c.id).string();
  v.layer_dir = (layers_->root() / "mounts" / c.id).string();
  v.sandbox_key = c.netns;
  v.network_mode = c.network_mode;
  v.config = c.config;
  v.host_config = c.host_config;
  v.networks = c.endpoints;
  v.health = c.health;
  if (!c.links.empty()) {  // dockerd's form: "/target:/self/alias", with today's names
    model::Strings links;
    for (const auto& [target_id, alias] : c.links) {
      auto t = by_id_.find(target_id);
      links.push_back((t != by_id_.end() ? t->second->name : "/" + short_id(target_id)) + ":" + c.name + "/" +
                      alias);
    }
    v.host_config.links = std::move(links);
  }
  // The networks it is configured for, with their settings as given; a
  // container without endpoints (created, stopped) shows them empty otherwise.
  if (c.network_mode != "host" && c.network_mode != "none" && c.network_mode.rfind("container:", 0) != 0 &&
      v.networks.count(c.network_mode) == 0 && c.endpoints.empty()) {
    v.networks[c.network_mode] = EndpointView{};
  }
  for (const auto& [name, cfg] : c.networking) {
    if (auto it = v.networks.find(name); it != v.networks.end()) {
      it->second.config = cfg;
    } else if (c.endpoints.empty()) {
      v.networks[name].config = cfg;
    }
  }
  if (c.network_mode == "none" || c.network_mode == "host") {
    v.networks[c.network_mode] = EndpointView{};
  }
  for (const auto& m : c.mounts) {
    MountView mv;
    mv.destination = m.destination;
    if (m.type == MountSpec::Type::kVolume) {
      mv.type = "volume";
      mv.name = m.source;
      mv.source = (paths_.data_root / "volumes" / m.source / "_data").string();
      mv.driver = "local";
      mv.mode = m.read_only ? "ro" : "z";
      mv.rw = !m.read_only;
    } else if (m.type == MountSpec::Type::kBind) {
      mv.type = "bind";
      mv.source = m.source;
      mv.mode = m.mode;
      mv.rw = !m.read_only;
      mv.propagation = m.propagation.empty() ? "rprivate" : m.propagation;
    } else {
      mv.type = "tmpfs";
    }
    v.mounts.push_back(std::move(mv));
  }
  return v;
}

base::Result<Containers::CommitSource> Containers::commit_source(const std::string& ref) const {
  EngineLock lock(*this);
  DIND_ASSIGN_OR_RETURN(const auto c, find_locked(ref));
  if (c->removing) {
    return make_error(ErrorKind::kConflict, "container " + c->id + " is being removed");
  }
  CommitSource s;
  s.id = c->id;
  s.image_id = c->image_id;
  s.config = c->config;
  s.upper = layers_->root() / "mounts" / c->id / "diff";
  s.running = c->status == RunStatus::kRunning;
  s.paused = c->paused;
  return s;
}

base::Result<ContainerView> Containers::inspect(const std::string& ref, bool size) const {
  ContainerView view;
  {
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(const auto c, find_locked(ref));
    view = view_locked(*c);
  }
  // GraphDriver's LowerDir: the init layer, then the image's layers.
  view.lower_dirs = view.layer_dir + "/init";
  if (auto image = images_->get(view.image_id)) {
    for (const auto& d : layers_->chain_dirs(image->top_layer)) {
      view.lower_dirs += ":" + d.string();
    }
  }
  if (size) {  // a directory walk: never under the lock
    const auto [rw, rootfs] = sizes(view.id, view.image_id);
    view.size_rw = rw;
    view.size_root_fs = rootfs;
  }
  return view;
}

base::Result<std::vector<ContainerView>> Containers::list(const ListOptions& o) const {
  static const std::set<std::string> kFilters = {
      "id",     "name",   "label", "status", "ancestor", "exited", "network",
      "volume", "before", "since", "health", "publish",  "expose", "is-task"};
  for (const auto& [k, v] : o.filters) {
    (void)v;
    if (kFilters.count(k) == 0) {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter '" + k + "'");
    }
  }
  for (const auto& h :
       o.filters.count("health") ? o.filters.at("health") : std::vector<std::string>{}) {
    if (h != "starting" && h != "healthy" && h != "unhealthy" && h != "none") {
      return make_error(ErrorKind::kInvalidArgument,
                        "Unrecognised filter value for health: " + h);
    }
  }
  for (const auto& s :
       o.filters.count("status") ? o.filters.at("status") : std::vector<std::string>{}) {
    static const std::set<std::string> kStatus = {"created", "restarting", "running", "removing",
                                                  "paused",  "exited",     "dead"};
    if (kStatus.count(s) == 0) {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter 'status=" + s + "'");
    }
  }
  // Ancestors resolved before the engine's lock: the image store calls into
  // the engine under its own lock (is an image in use?), so the engine never
  // waits for the image store's lock while holding its own.
  std::map<std::string, std::string> ancestors;
  if (auto it = o.filters.find("ancestor"); it != o.filters.end()) {
    for (const auto& v : it->second) {
      auto id = images_->resolve(v);
      ancestors[v] = id ? *id : std::string();
    }
  }
  std::vector<ContainerView> out;
  {
  EngineLock lock(*this);
  std::vector<std::shared_ptr<Container>> all;
  for (const auto& [id, c] : by_id_) {
    all.push_back(c);
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->created > b->created; });
  auto any_of = [&](const std::string& key, const std::function<bool(const std::string&)>& pred) {
    auto it = o.filters.find(key);
    if (it == o.filters.end() || it->second.empty()) {
      return true;
    }
    return std::any_of(it->second.begin(), it->second.end(), pred);
  };
  for (const auto& c : all) {
    const bool running = c->status == RunStatus::kRunning;
    const bool status_filtered = o.filters.count("status") != 0 || o.filters.count("exited") != 0;
    if (!o.all && !running && !status_filtered) {
      continue;
    }
    if (!any_of("id", [&](const std::string& v) { return c->id.rfind(v, 0) == 0; })) {
      continue;
    }
    // dockerd: a regular expression matched against the name without its "/".
    if (!any_of("name", [&](const std::string& v) {
          const std::string name = c->name.substr(c->name.empty() ? 0 : 1);
          if (name.find(v) != std::string::npos) {
            return true;
          }
          try {
            return std::regex_search(name, std::regex(v));
          } catch (const std::regex_error&) {
            return false;
          }
        })) {
      continue;
    }
    const std::string shown = c->paused && c->status == RunStatus::kRunning
                                  ? "paused"
                                  : std::string(run_status_name(c->status));
    if (!any_of("status", [&](const std::string& v) { return v == shown; })) {
      continue;
    }
    if (!any_of("exited", [&](const std::string& v) {
          return c->status == RunStatus::kExited && std::to_string(c->exit_code) == v;
        })) {
      continue;
    }
    // health=starting|healthy|unhealthy|none (dockerd: a container without a
    // healthcheck is "none").
    if (!any_of("health", [&](const std::string& v) {
          const std::string h = c->health ? health_status_name(c->health->status) : "none";
          return v == h;
        })) {
      continue;
    }
    const model::StringMap& labels = c->config.labels;
    // Labels: every one given must hold (dockerd's rule; compose counts its
    // containers with a project and a service label).
    if (auto it = o.filters.find("label"); it != o.filters.end()) {
      const bool all_hold = std::all_of(it->second.begin(), it->second.end(), [&](const std::string& v) {
        const size_t eq = v.find('=');
        const auto l = labels.find(v.substr(0, eq));
        return l != labels.end() && (eq == std::string::npos || l->second == v.substr(eq + 1));
      });
      if (!all_hold) {
        continue;
      }
    }
    if (!any_of("ancestor", [&](const std::string& v) {
          const std::string& id = ancestors[v];
          return (!id.empty() && id == c->image_id) || c->image_name == v;
        })) {
      continue;
    }
    if (!any_of("network", [&](const std::string& v) {
          if (c->network_mode == v) {
            return true;
          }
          auto info = networks_->find(v);
          return info && (c->network_mode == info->name || c->endpoints.count(info->name) != 0);
        })) {
      continue;
    }
    if (!any_of("volume", [&](const std::string& v) {
          return std::any_of(c->mounts.begin(), c->mounts.end(), [&](const MountSpec& m) {
            return m.source == v || m.destination == v;
          });
        })) {
      continue;
    }
    out.push_back(view_locked(*c));
    if (o.limit > 0 && static_cast<int>(out.size()) >= o.limit) {
      break;
    }
  }
  }
  if (o.size) {
    for (auto& v : out) {  // directory walks: never under the lock
      const auto [rw, rootfs] = sizes(v.id, v.image_id);
      v.size_rw = rw;
      v.size_root_fs = rootfs;
    }
  }
  return out;
}

base::Result<TopResult> Containers::top(const std::string& ref, const std::string& ps_args) const {
  int pid = 0;
  std::string id;
  {
    EngineLock lock(*this);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    DIND_TRY(admit(state_of(**found), Op::kTop, (*found)->id));
    pid = (*found)->pid;
    id = (*found)->id;
  }
  auto argv = ps_argv(ps_args);
  if (!argv) {
    return std::move(argv).error();
  }
  const std::set<int> pids = process_tree(pid);
  auto ps = base::run_capture(*argv);
  if (!ps) {
    return std::move(ps).error();
  }
  if (ps->status != 0) {
    return make_error(ErrorKind::kInternal, "Error running ps: " + base::trim(ps->output));
  }
  return parse_ps(ps->output, pids);
}

PruneReport Containers::prune(std::function<bool(int64_t, const model::StringMap&)> wanted) {
  std::vector<std::shared_ptr<Container>> victims;
  {
    EngineLock lock(*this);
    for (const auto& [id, c] : by_id_) {
      if (c->status != RunStatus::kRunning && !c->starting && !c->removing &&
          (!wanted || wanted(base::parse_time_secs(c->created), c->config.labels))) {
        victims.push_back(c);
      }
    }
  }
  PruneReport report;
  for (const auto& c : victims) {
    // What it wrote (its upper directory) is what removing it frees, as dockerd counts.
    const int64_t rw = sizes(c->id, c->image_id).first;
    if (remove_now(c, false)) {
      report.deleted.push_back(c->id);
      report.space_reclaimed += static_cast<uint64_t>(rw);
    }
  }
  return report;
}

base::Result<std::vector<FileChange>> Containers::changes(const std::string& ref) const {
  std::string id, image_id;
  std::optional<std::string> top;
  {
    EngineLock lock(*this);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    id = (*found)->id;
    image_id = (*found)->image_id;
  }
  // After the engine's lock, never under it (see with_fs).
  if (auto image = images_->get(image_id)) {
    top = image->top_layer;
  }
  // The lower layers, top-most first (the image's chain), as pinned
  // directories: a path is looked up in each without following any symlink
  // (an image's `d -> /` must not turn "d/etc/passwd" into the host's).
  std::vector<base::UniqueFd> lower;
  for (std::optional<std::string> chain = top; chain;) {
    auto info = layers_->get(*chain);
    if (!info) {
      break;
    }
    lower.emplace_back(::open(info->diff_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    chain = info->parent;
  }
  auto in_lower = [&](const std::string& rel) {
    return std::any_of(lower.begin(), lower.end(), [&](const base::UniqueFd& l) {
      base::UniqueFd fd(base::open_literal_beneath(l.get(), rel));
      return l.valid() && fd.valid();
    });
  };
  // Deleted: an overlay whiteout (a 0/0 char device).
  std::vector<FileChange> out;
  const fs::path upper = layers_->root() / "mounts" / id / "diff";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(upper, fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    // Lexically: fs::relative would canonicalise, following the upper's symlinks.
    const std::string rel = it->path().lexically_relative(upper).string();
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      continue;
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
      out.push_back({"/" + rel, FileChange::kDeleted});
    } else {
      out.push_back({"/" + rel, in_lower(rel) ? FileChange::kModified : FileChange::kAdded});
    }
  }
  std::sort(out.begin(), out.end(), [](const FileChange& a, const FileChange& b) {
    return std::tie(a.path, a.kind) < std::tie(b.path, b.kind);
  });
  return out;
}

// Lock order: the image store's lock, then the engine's (ImageStore::remove
// asks this under its lock). Nothing in the engine calls the image store with
// the engine's lock held (scripts/test --tsan found list, with_fs and changes
// did: a potential deadlock with a concurrent rmi).
std::optional<std::string> Containers::using_image(const std::string& image_id) const {
  EngineLock lock(*this);
  for (const auto& [id, c] : by_id_) {
    if (c->image_id == image_id) {
      return id;
    }
  }
  return std::nullopt;
}

size_t Containers::count(const std::string& status) const {
  EngineLock lock(*this);
  if (status.empty()) {
    return by_id_.size();
  }
  return static_cast<size_t>(std::count_if(
      by_id_.begin(), by_id_.end(),
      [&](const auto& kv) { return run_status_name(kv.second->status) == status; }));
}

}  // namespace dind::engine
