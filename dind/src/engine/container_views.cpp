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

json Containers::inspect_locked(const Container& c) const {
  auto args = runtime::process_args(c.config);
  std::vector<std::string> a = args ? *args : std::vector<std::string>{};
  const std::string path = a.empty() ? "" : a[0];
  if (!a.empty()) {
    a.erase(a.begin());
  }
  const bool running = c.status == RunStatus::kRunning;
  json networks = json::object();
  json ports = json::object();
  for (const auto& [n, e] : c.endpoints.items()) {
    networks[n] = {{"IPAMConfig", nullptr},
                   {"Links", nullptr},
                   {"Aliases", e.value("Aliases", json())},
                   {"MacAddress", ""},
                   {"DriverOpts", nullptr},
                   {"NetworkID", e.value("NetworkID", "")},
                   {"EndpointID", e.value("EndpointID", "")},
                   {"Gateway", e.value("Gateway", "")},
                   {"IPAddress", e.value("IPAddress", "")},
                   {"IPPrefixLen", e.value("IPPrefixLen", 0)},
                   {"IPv6Gateway", ""},
                   {"GlobalIPv6Address", ""},
                   {"GlobalIPv6PrefixLen", 0},
                   {"DNSNames", e.value("DNSNames", json())}};
    for (const auto& p : e.value("Ports", json::array())) {
      const std::string key =
          std::to_string(p.value("container_port", 0)) + "/" + p.value("proto", "tcp");
      if (!ports.contains(key) || ports[key].is_null()) {
        ports[key] = json::array();
      }
      ports[key].push_back({{"HostIp", p.value("host_ip", "0.0.0.0")},
                            {"HostPort", std::to_string(p.value("host_port", 0))}});
    }
  }
  if (running && c.endpoints.empty() && c.network_mode != "none" && c.network_mode != "host") {
    // not attached (yet)
  }
  if (c.network_mode == "none" || c.network_mode == "host") {
    networks[c.network_mode] = {
        {"IPAMConfig", nullptr},    {"Links", nullptr},      {"Aliases", nullptr},
        {"MacAddress", ""},         {"DriverOpts", nullptr}, {"NetworkID", ""},
        {"EndpointID", ""},         {"Gateway", ""},         {"IPAddress", ""},
        {"IPPrefixLen", 0},         {"IPv6Gateway", ""},     {"GlobalIPv6Address", ""},
        {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nullptr}};
  }
  {
    for (const auto& k : c.config.exposed_ports) {
      if (!ports.contains(k)) {
        ports[k] = nullptr;
      }
    }
  }
  json mounts = json::array();
  for (const auto& m : c.mounts) {
    json mj;
    if (m.type == MountSpec::Type::kVolume) {
      mj = {{"Type", "volume"},
            {"Name", m.source},
            {"Source", (paths_.data_root / "volumes" / m.source / "_data").string()},
            {"Destination", m.destination},
            {"Driver", "local"},
            {"Mode", m.read_only ? "ro" : "z"},
            {"RW", !m.read_only},
            {"Propagation", ""}};
    } else if (m.type == MountSpec::Type::kBind) {
      mj = {{"Type", "bind"},
            {"Source", m.source},
            {"Destination", m.destination},
            {"Mode", m.read_only ? "ro" : ""},
            {"RW", !m.read_only},
            {"Propagation", "rprivate"}};
    } else {
      mj = {{"Type", "tmpfs"}, {"Source", ""}, {"Destination", m.destination},
            {"Mode", ""},      {"RW", true},   {"Propagation", ""}};
    }
    mounts.push_back(mj);
  }
  const fs::path layer = layers_->root() / "mounts" / c.id;
  json primary = c.endpoints.contains("bridge") ? c.endpoints["bridge"] : json::object();
  json doc = {
      {"Id", c.id},
      {"Created", c.created},
      {"Path", path},
      {"Args", a},
      {"State",
       {{"Status", c.paused && running ? "paused" : std::string(run_status_name(c.status))},
        {"Running", running},
        {"Paused", c.paused && running},
        {"Restarting", c.status == RunStatus::kRestarting},
        {"OOMKilled", c.oom_killed},
        {"Dead", false},
        {"Pid", running ? c.pid : 0},
        {"ExitCode", c.exit_code},
        {"Error", c.error},
        {"StartedAt", c.started_at},
        {"FinishedAt", c.finished_at}}},
      {"Image", c.image_id},
      {"ResolvConfPath", (dir(c.id) / "resolv.conf").string()},
      {"HostnamePath", (dir(c.id) / "hostname").string()},
      {"HostsPath", (dir(c.id) / "hosts").string()},
      {"LogPath", (dir(c.id) / (c.id + "-json.log")).string()},
      {"Name", c.name},
      {"RestartCount", c.restart_count},
      {"Driver", "overlay2"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"AppArmorProfile", ""},
      {"ExecIDs", nullptr},
      {"HostConfig", model::encode_host_config(c.host_config)},
      {"GraphDriver",
       {{"Data",
         {{"MergedDir", (layer / "merged").string()},
          {"UpperDir", (layer / "diff").string()},
          {"WorkDir", (layer / "work").string()}}},
        {"Name", "overlay2"}}},
      {"Mounts", mounts},
      {"Config", model::encode_config(c.config)},
      {"NetworkSettings",
       {{"Bridge", ""},
        {"SandboxID", c.netns.empty() ? "" : base::sha256_digest(c.id).substr(7)},
        {"SandboxKey", c.netns},
        {"Ports", ports},
        {"HairpinMode", false},
        {"LinkLocalIPv6Address", ""},
        {"LinkLocalIPv6PrefixLen", 0},
        {"SecondaryIPAddresses", nullptr},
        {"SecondaryIPv6Addresses", nullptr},
        {"EndpointID", primary.value("EndpointID", "")},
        {"Gateway", primary.value("Gateway", "")},
        {"GlobalIPv6Address", ""},
        {"GlobalIPv6PrefixLen", 0},
        {"IPAddress", primary.value("IPAddress", "")},
        {"IPPrefixLen", primary.value("IPPrefixLen", 0)},
        {"IPv6Gateway", ""},
        {"MacAddress", ""},
        {"Networks", networks}}},
  };
  return doc;
}

base::Result<json> Containers::inspect(const std::string& ref, bool size) const {
  json doc;
  std::string id, image_id;
  {
    EngineLock lock(*this);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    doc = inspect_locked(**found);
    id = (*found)->id;
    image_id = (*found)->image_id;
  }
  if (size) {  // a directory walk: never under the lock
    const auto [rw, rootfs] = sizes(id, image_id);
    doc["SizeRw"] = rw;
    doc["SizeRootFs"] = rootfs;
  }
  return doc;
}

base::Result<json> Containers::list(const ListOptions& o) const {
  static const std::set<std::string> kFilters = {
      "id",     "name",   "label", "status", "ancestor", "exited", "network",
      "volume", "before", "since", "health", "publish",  "expose", "is-task"};
  for (const auto& [k, v] : o.filters) {
    (void)v;
    if (kFilters.count(k) == 0) {
      return make_error(ErrorKind::kInvalidArgument, "invalid filter '" + k + "'");
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
  std::vector<std::pair<size_t, std::pair<std::string, std::string>>> sized;  // index, id, image
  json out = json::array();
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
  const int64_t now = now_secs();
  for (const auto& c : all) {
    const bool running = c->status == RunStatus::kRunning;
    const bool status_filtered = o.filters.count("status") != 0 || o.filters.count("exited") != 0;
    if (!o.all && !running && !status_filtered) {
      continue;
    }
    if (!any_of("id", [&](const std::string& v) { return c->id.rfind(v, 0) == 0; })) {
      continue;
    }
    if (!any_of("name",
                [&](const std::string& v) { return c->name.find(v) != std::string::npos; })) {
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
    const model::StringMap& labels = c->config.labels;
    if (!any_of("label", [&](const std::string& v) {
          const size_t eq = v.find('=');
          const std::string k = v.substr(0, eq);
          const auto it = labels.find(k);
          if (it == labels.end()) {
            return false;
          }
          return eq == std::string::npos || it->second == v.substr(eq + 1);
        })) {
      continue;
    }
    if (!any_of("ancestor", [&](const std::string& v) {
          auto id = images_->resolve(v);
          return (id && *id == c->image_id) || c->image_name == v;
        })) {
      continue;
    }
    if (!any_of("network", [&](const std::string& v) {
          if (c->network_mode == v) {
            return true;
          }
          auto info = networks_->find(v);
          return info && (c->network_mode == info->name || c->endpoints.contains(info->name));
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
    auto args = runtime::process_args(c->config);
    std::string command;
    if (args) {
      for (const auto& a : *args) {
        command += (command.empty() ? "" : " ") + a;
      }
    }
    std::string status;
    if (running) {
      status = "Up " + human_duration(now - parse_time_secs(c->started_at)) +
               (c->paused ? " (Paused)" : "");
    } else if (c->status == RunStatus::kRestarting) {
      status = "Restarting (" + std::to_string(c->exit_code) + ") " +
               human_duration(now - parse_time_secs(c->finished_at)) + " ago";
    } else if (c->status == RunStatus::kExited || (c->status == RunStatus::kCreated && c->finished_at != kZeroTime)) {
      status = "Exited (" + std::to_string(c->exit_code) + ") " +
               human_duration(now - parse_time_secs(c->finished_at)) + " ago";
    } else {
      status = "Created";
    }
    json ports = json::array();
    for (const auto& [n, e] : c->endpoints.items()) {
      (void)n;
      for (const auto& p : e.value("Ports", json::array())) {
        ports.push_back({{"IP", p.value("host_ip", "0.0.0.0")},
                         {"PrivatePort", p.value("container_port", 0)},
                         {"PublicPort", p.value("host_port", 0)},
                         {"Type", p.value("proto", "tcp")}});
      }
    }
    json full = inspect_locked(*c);
    json item = {{"Id", c->id},
                 {"Names", {c->name}},
                 {"Image", c->image_name},
                 {"ImageID", c->image_id},
                 {"Command", command},
                 {"Created", parse_time_secs(c->created)},
                 {"Ports", ports},
                 {"Labels", labels},
                 {"State", shown},
                 {"Status", status},
                 {"HostConfig", {{"NetworkMode", c->host_config.network_mode.empty()
                                                     ? std::string("default")
                                                     : c->host_config.network_mode}}},
                 {"NetworkSettings", {{"Networks", full["NetworkSettings"]["Networks"]}}},
                 {"Mounts", full["Mounts"]}};
    if (o.size) {
      sized.emplace_back(out.size(), std::make_pair(c->id, c->image_id));
    }
    out.push_back(std::move(item));
    if (o.limit > 0 && static_cast<int>(out.size()) >= o.limit) {
      break;
    }
  }
  }
  for (const auto& [index, ids] : sized) {  // directory walks: never under the lock
    const auto [rw, rootfs] = sizes(ids.first, ids.second);
    out[index]["SizeRw"] = rw;
    out[index]["SizeRootFs"] = rootfs;
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

PruneReport Containers::prune() {
  std::vector<std::shared_ptr<Container>> victims;
  {
    EngineLock lock(*this);
    for (const auto& [id, c] : by_id_) {
      if (c->status != RunStatus::kRunning && !c->starting && !c->removing) {
        victims.push_back(c);
      }
    }
  }
  PruneReport report;
  for (const auto& c : victims) {
    if (remove_now(c, false)) {
      report.deleted.push_back(c->id);
    }
  }
  return report;
}

base::Result<std::vector<FileChange>> Containers::changes(const std::string& ref) const {
  std::string id;
  std::optional<std::string> top;
  {
    EngineLock lock(*this);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    id = (*found)->id;
    auto image = images_->get((*found)->image_id);
    if (image) {
      top = image->top_layer;
    }
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
