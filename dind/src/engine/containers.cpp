// Containers: the store (load at open, save, lookup, names), create, wait, remove, rename.
// What a restart finds left over (strays, abandoned containers): container_recovery.cpp.
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
#include "dind/model/container_json.hpp"
#include "container_store.hpp"
#include "container_util.hpp"
#include "host_facts.hpp"
#include "top.hpp"
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

fs::path Containers::dir(const std::string& id) const {
  return paths_.data_root / "containers" / id;
}
fs::path Containers::run_dir(const std::string& id) const {
  return paths_.exec_root / "containers" / id;
}
fs::path Containers::socket_path(const std::string& id) const {
  return paths_.exec_root / "s" / (short_id(id) + ".sock");
}

Containers::~Containers() = default;

base::Result<std::shared_ptr<Containers>> Containers::open(
    ContainerPaths paths, image::ImageStore* images, image::LayerStore* layers, Networks* networks,
    Volumes* volumes, base::Scheduler* scheduler, base::WorkerPool* workers, base::WorkerPool* exits) {
  std::shared_ptr<Containers> self(new Containers());
  self->paths_ = std::move(paths);
  self->images_ = images;
  self->layers_ = layers;
  self->networks_ = networks;
  self->volumes_ = volumes;
  self->scheduler_ = scheduler;
  self->workers_ = workers;
  self->exits_ = exits;
  self->host_ = gather_host_facts();
  for (const char* p : {"/usr/share/containers/seccomp.json", "/etc/containers/seccomp.json"}) {
    if (auto text = base::read_file(p)) {
      auto doc = json::parse(*text, nullptr, false);
      if (doc.is_object()) {
        self->seccomp_ = doc;
        break;
      }
    }
  }
  if (!self->seccomp_) {
    DIND_LOG(kWarn) << "no seccomp profile found (/usr/share/containers/seccomp.json): containers "
                       "run unconfined";
  }
  for (const auto& d :
       {self->paths_.data_root / "containers", self->paths_.exec_root / "containers",
        self->paths_.exec_root / "s", self->paths_.data_root / "volumes"}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) {
      return make_error(base::kind_from_errno(ec.value()),
                        "cannot create " + d.string() + ": " + ec.message());
    }
  }
  // Load what the previous run left.
  std::error_code ec;
  std::vector<std::shared_ptr<Container>> watch, exited;
  for (const auto& e : fs::directory_iterator(self->paths_.data_root / "containers", ec)) {
    // Writes the last run's end cut (the record, a run's spec, an exec's).
    base::remove_interrupted_writes(e.path());
    base::remove_interrupted_writes(self->run_dir(e.path().filename().string()));
    base::remove_interrupted_writes(self->run_dir(e.path().filename().string()) / "exec");
    auto text = base::read_file(e.path() / "config.v2.json");
    if (!text) {
      continue;
    }
    auto decoded = decode_record(json::parse(*text, nullptr, false), e.path().filename().string());
    if (!decoded) {
      // Left alone (never rewritten): a newer engine's record stays intact.
      DIND_LOG(kWarn) << "ignoring the container state in " << e.path() << ": " << decoded.error().message;
      continue;
    }
    auto c = std::move(*decoded);
    if (c->status == RunStatus::kRunning) {  // a legacy "removing" reads as running
      // The shim may still run (re-adopt) or have finished meanwhile. The
      // handles are opened first and the processes verified after: a pid
      // checked before its pidfd is opened may already name another process.
      auto shim_fd = std::make_shared<base::UniqueFd>(base::pidfd_open(c->shim_pid));
      // Its shim by name and arguments (a reused pid names something else).
      const bool shim_ours = self->shim_of(c->shim_pid) == c->id;
      auto init_fd = std::make_shared<base::UniqueFd>(base::pidfd_open(c->pid));
      const bool init_ours = base::parent_pid(c->pid) == c->shim_pid;
      c->mounted = true;
      c->netns = (self->run_dir(c->id) / "netns").string();
      c->generation = 1;
      if (shim_ours && base::pidfd_alive(shim_fd->get())) {
        c->status = RunStatus::kRunning;
        c->started_steady = std::chrono::steady_clock::now() -
                            std::chrono::seconds(std::max<int64_t>(
                                0, base::now_secs() - base::parse_time_secs(c->started_at)));
        c->shim_pidfd = std::move(shim_fd);
        if (init_ours && base::pidfd_alive(init_fd->get())) {
          c->init_pidfd = std::move(init_fd);
        }
        watch.push_back(c);
      } else {
        exited.push_back(c);
      }
    }
    self->by_id_[c->id] = c;
    self->names_[c->name] = c->id;
  }
  // Exits are watched only once the table is complete (an exit handler
  // takes the lock and may look at every container).
  for (const auto& c : exited) {
    self->on_shim_exit(c, 1);
  }
  for (const auto& c : watch) {
    std::weak_ptr<Containers> weak = self;
    scheduler->when_readable(c->shim_pidfd, [weak, c] {
      if (auto s = weak.lock()) {
        s->exits_->post([s, c] { s->on_shim_exit(c, 1); });
      }
    });
  }
  {
    EngineLock lock(*self);
    self->clean_strays_locked();
  }
  return self;
}

void Containers::emit(const Container& c, const std::string& action,
                      std::map<std::string, std::string> extra) const {
  if (events_ == nullptr) {
    return;
  }
  EventMessage e;
  e.type = "container";
  e.action = action;
  e.id = c.id;
  e.attributes = c.config.labels;
  e.attributes["image"] = c.image_name;
  e.attributes["name"] = c.name.substr(c.name.rfind('/') + 1);
  for (auto& [k, v] : extra) {
    e.attributes[k] = std::move(v);
  }
  events_->publish(std::move(e));
}

void Containers::emit_run(const Container& c, bool start) const {
  if (events_ == nullptr) {
    return;
  }
  // dockerd's order: the networks and volumes with the start; at the exit
  // the disconnects and unmounts before the "die".
  for (const auto& [network, ep] : c.endpoints) {
    auto n = networks_->find(network);
    publish_event(events_, "network", start ? "connect" : "disconnect", n ? n->id : network,
                  {{"container", c.id}, {"name", network}, {"type", "bridge"}});
  }
  for (const auto& m : c.mounts) {
    if (m.type != MountSpec::Type::kVolume) {
      continue;
    }
    std::map<std::string, std::string> attrs = {{"container", c.id}, {"driver", "local"}};
    if (start) {
      attrs["destination"] = m.destination;
      attrs["propagation"] = "";
      attrs["read/write"] = m.read_only ? "false" : "true";
    }
    publish_event(events_, "volume", start ? "mount" : "unmount", m.source, std::move(attrs));
  }
}

void Containers::publish(const std::string& ref, const std::string& action,
                         std::map<std::string, std::string> extra) const {
  EngineLock lock(*this);
  if (auto c = find_locked(ref)) {
    emit(**c, action, std::move(extra));
  }
}

base::Status Containers::save(const Container& c) const {
  unsaved_[c.id] = {++record_seq_, encode_record(c).dump() + "\n"};
  failed_.erase(c.id);  // the newer record replaces the one that failed
  return {};
}

base::Status Containers::flush() const {
  using Clock = std::chrono::steady_clock;
  std::map<std::string, std::pair<uint64_t, std::string>> records;
  {
    std::lock_guard lock(mu_);
    records.swap(unsaved_);
    if (!failed_.empty() && Clock::now() >= retry_at_) {
      records.merge(failed_);  // a fresh record of the same container stays
      failed_.clear();
    }
  }
  base::Status result;
  if (records.empty()) {
    return result;
  }
  std::lock_guard writing(persist_mu_);
  bool wrote = false;
  for (auto& [id, record] : records) {
    uint64_t& written = written_[id];
    if (written >= record.first) {
      continue;  // a newer record of it is already on disk
    }
    // A removed container's directory is gone: the write fails and creates nothing.
    if (auto st = base::write_file_atomic(dir(id) / "config.v2.json", record.second, 0600); !st) {
      if (std::error_code ec; fs::exists(dir(id), ec)) {
        std::lock_guard lock(mu_);
        // One line per back-off period, not per engine operation.
        if (retry_wait_.count() == 0 || Clock::now() >= retry_at_) {
          DIND_LOG(kError) << "saving container " << short_id(id) << ": " << st.error().message
                           << " (tried again in the background)";
        }
        result = std::move(st);
        if (unsaved_.count(id) == 0) {  // unless a newer record is queued by now
          failed_.try_emplace(id, std::move(record));
        }
      }
      continue;
    }
    written = record.first;
    wrote = true;
  }
  std::lock_guard lock(mu_);
  if (result) {
    if (retry_wait_.count() != 0 && failed_.empty()) {
      DIND_LOG(kInfo) << "container records are written again";
      retry_wait_ = {};
    }
  } else if (retry_wait_.count() == 0 || Clock::now() >= retry_at_) {
    // The first failure, or a retry that failed again: wait longer. A write
    // that failed inside the wait does not push the retry further out.
    retry_wait_ = std::clamp(retry_wait_ * 2, std::chrono::milliseconds(1000),
                             std::chrono::milliseconds(60000));
    retry_at_ = Clock::now() + retry_wait_;
  }
  if (wrote && !failed_.empty()) {
    retry_at_ = Clock::now();  // the disk takes writes again: retry with the next flush
  }
  return result;
}

base::Result<std::shared_ptr<Containers::Container>> Containers::find_locked(
    const std::string& ref) const {
  if (ref.empty()) {
    return make_error(ErrorKind::kNotFound, "No such container: " + ref);
  }
  if (auto it = by_id_.find(ref); it != by_id_.end()) {
    return it->second;
  }
  if (auto it = names_.find(ref[0] == '/' ? ref : "/" + ref); it != names_.end()) {
    return by_id_.at(it->second);
  }
  std::shared_ptr<Container> match;
  for (const auto& [id, c] : by_id_) {
    if (id.rfind(ref, 0) == 0) {
      if (match) {
        return make_error(ErrorKind::kInvalidArgument,
                          "Multiple IDs found with provided prefix: " + ref);
      }
      match = c;
    }
  }
  if (match) {
    return match;
  }
  return make_error(ErrorKind::kNotFound, "No such container: " + ref);
}

base::Status Containers::name_free_locked(const std::string& name) const {
  if (auto it = names_.find(name); it != names_.end()) {
    return make_error(ErrorKind::kConflict,
                      "Conflict. The container name \"" + name +
                          "\" is already in use by container \"" + it->second +
                          "\". You have to remove (or rename) that container to be able "
                          "to reuse that name.");
  }
  return {};
}

base::Result<std::shared_ptr<Containers::Container>> Containers::find(
    const std::string& ref) const {
  EngineLock lock(*this);
  return find_locked(ref);
}

std::vector<std::string> Containers::volume_users(const std::string& name) const {
  EngineLock lock(*this);
  std::vector<std::string> ids;
  for (const auto& [id, c] : by_id_) {
    for (const auto& m : c->mounts) {
      if (m.type == MountSpec::Type::kVolume && m.source == name) {
        ids.push_back(id);
        break;
      }
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------
// create

base::Result<Containers::Created> Containers::create(const std::string& name_in,
                                                     model::CreateRequest request, bool build_step) {
  const std::string image_ref = request.config.image;
  if (image_ref.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "No image specified");  // dockerd: "config cannot be empty..."
  }
  if (!name_in.empty()) {
    DIND_TRY(validate_container_name(name_in));
  }
  DIND_ASSIGN_OR_RETURN(const std::string image_id, images_->resolve(image_ref));
  DIND_ASSIGN_OR_RETURN(const auto image, images_->get(image_id));
  const json image_doc = json::parse(image.config, nullptr, false);
  model::Config image_config;
  if (image_doc.is_object() && image_doc.contains("config")) {
    // An image's config that does not decode counts as empty, as before a
    // store upgrade: the request must then say everything.
    image_config = model::decode_config(image_doc["config"]).value_or(model::Config{});
  }
  auto c = std::make_shared<Container>();
  c->id = base::random_hex(64);
  c->config = merge_config(std::move(request.config), image_config, c->id);
  c->config.image = image_ref;
  model::HostConfig hc = std::move(request.host_config);
  DIND_TRY(runtime::process_args(c->config));
  DIND_TRY(check_health_config(c->config.healthcheck));
  DIND_ASSIGN_OR_RETURN(auto mounts, parse_mounts(c->config, hc));
  DIND_TRY(parse_port_bindings(c->config, hc));
  DIND_TRY(parse_restart_policy(hc));
  DIND_TRY(runtime::parse_security_opts(hc));
  DIND_TRY(runtime::check_caps_and_sysctls(hc, hc.network_mode == "host"));
  DIND_TRY(runtime::granted_capabilities(hc, host_.bounding_caps));
  std::vector<std::string> warnings;
  DIND_ASSIGN_OR_RETURN(hc, runtime::settle_resources(std::move(hc), host_, false, &warnings));
  std::string mode = hc.network_mode;
  if (mode.empty() || mode == "default") {
    mode = "bridge";
  }
  // Another container's namespaces: it must exist now (dockerd looks only
  // at start; a typo is better told at once) and run at start.
  for (const std::string* m : {&mode, &hc.pid_mode, &hc.ipc_mode}) {
    if (m->rfind("container:", 0) == 0 && !find(m->substr(10))) {
      return make_error(ErrorKind::kInvalidArgument, "No such container: " + m->substr(10));
    }
  }
  const bool joins_network = mode.rfind("container:", 0) == 0;
  if (joins_network && (!hc.port_bindings.empty() || hc.publish_all_ports)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "conflicting options: port publishing and the container type network mode");
  }
  if (joins_network && c->config.hostname != c->id.substr(0, 12)) {
    return make_error(ErrorKind::kInvalidArgument, "conflicting options: hostname and the network mode");
  }
  // An unknown network is the request's fault (400, not 404: the CLI takes a
  // 404 from create for a missing image and would try to pull it).
  auto find_network = [this](const std::string& ref) -> base::Result<NetworkInfo> {
    auto net = networks_->find(ref);
    if (!net && net.error().kind == ErrorKind::kNotFound) {
      return make_error(ErrorKind::kInvalidArgument, net.error().message);
    }
    return net;
  };
  if (mode != "none" && mode != "host" && !joins_network) {
    DIND_ASSIGN_OR_RETURN(const auto net, find_network(mode));
    mode = net.name;
  }
  // Endpoint settings under their networks' names, each network known and
  // each setting sound (dockerd refuses them at create since API 1.44).
  model::EndpointsConfig endpoints;
  for (auto& [ref, cfg] : request.endpoints) {
    if (ref == "host" || ref == "none" || ref.rfind("container:", 0) == 0) {
      continue;  // no endpoint of its own there
    }
    // The CLI names the default network "default".
    DIND_ASSIGN_OR_RETURN(const auto net, find_network(ref == "default" ? "bridge" : ref));
    DIND_TRY(endpoint_fixed(net.name, cfg));
    endpoints[net.name] = std::move(cfg);
  }
  if (!c->config.mac_address.empty() && !netsetup::Mac::parse(c->config.mac_address)) {
    return make_error(ErrorKind::kInvalidArgument,
                      c->config.mac_address + " is not a valid mac address");
  }
  // The defaults dockerd fills in (clients read them back from inspect).
  if (hc.network_mode.empty()) {
    hc.network_mode = "default";
  }
  DIND_TRY(check_log_config(hc.log_config));
  if (hc.log_config.type.empty()) {
    hc.log_config.type = "json-file";
  }
  if (hc.restart_policy.name.empty()) {
    hc.restart_policy.name = "no";
  }
  if (hc.runtime.empty()) {
    hc.runtime = "runc";
  }
  if (hc.shm_size == 0) {
    hc.shm_size = int64_t{64} << 20;
  }
  std::vector<std::pair<std::string, std::string>> links;  // (target, alias) as named
  for (const auto& l : hc.links.value_or(model::Strings{})) {
    DIND_ASSIGN_OR_RETURN(auto link, parse_link(l));
    links.push_back(std::move(link));
  }
  c->host_config = std::move(hc);
  c->networking = std::move(endpoints);
  c->network_mode = mode;
  for (auto& m : mounts) {
    if (m.type == MountSpec::Type::kVolume && m.source.empty()) {
      m.source = base::random_hex(64);
      c->anon_volumes.push_back(m.source);
    }
  }
  c->mounts = std::move(mounts);
  c->image_id = image_id;
  c->image_name = image_ref;
  c->created = base::rfc3339_nano(std::chrono::system_clock::now());
  c->build_step = build_step;

  // A fresh random ID: the directory is nobody else's, so it is made before
  // the lock is taken.
  std::error_code ec;
  fs::create_directories(dir(c->id), ec);
  if (ec) {
    return make_error(base::kind_from_errno(ec.value()),
                      "create " + dir(c->id).string() + ": " + ec.message());
  }
  EngineLock lock(*this);
  std::string name = name_in.empty() ? "" : (name_in[0] == '/' ? name_in : "/" + name_in);
  if (name.empty()) {
    // Docker draws adjective_surname; a short random name does the job.
    static const char* kA[] = {"brave", "calm", "eager", "fancy", "happy",
                               "jolly", "keen", "lucid", "merry", "nifty"};
    static const char* kB[] = {"turing",  "hopper",   "lovelace", "knuth",
                               "ritchie", "thompson", "liskov",   "dijkstra"};
    do {
      const std::string r = base::random_hex(8);
      const auto a = std::stoul(r.substr(0, 2), nullptr, 16);
      const auto b = std::stoul(r.substr(2, 2), nullptr, 16);
      name = std::string("/") + kA[a % 10] + "_" + kB[b % 8] + r.substr(4, 2);
    } while (names_.count(name) != 0);
  }
  if (auto free = name_free_locked(name); !free) {
    lock.unlock();
    fs::remove_all(dir(c->id), ec);
    return std::move(free).error();
  }
  // Legacy links name containers that exist now (kept by ID).
  for (const auto& [target, alias] : links) {
    auto t = find_locked(target);
    if (!t) {
      lock.unlock();
      fs::remove_all(dir(c->id), ec);
      return make_error(ErrorKind::kInvalidArgument,
                        "could not get container for " + target + ": " + t.error().message);
    }
    c->links.emplace_back((*t)->id, alias);
  }
  c->name = name;
  // The name is held from here; the record is written without the lock, and
  // a failure gives the name back.
  by_id_[c->id] = c;
  names_[name] = c->id;
  (void)save(*c);
  lock.unlock();
  base::Status written = flush();
  if (!written) {
    lock.lock();
    by_id_.erase(c->id);
    names_.erase(name);
    lock.unlock();
    fs::remove_all(dir(c->id), ec);
    return std::move(written).error();
  }
  emit(*c, "create");
  return Created{c->id, warnings};
}


// ---------------------------------------------------------------------------
// wait, remove, rename

base::Status Containers::wait(const std::string& ref, WaitCondition cond,
                              std::function<void(ExitInfo)> done) {
  EngineLock lock(*this);
  auto found = find_locked(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto c = *found;
  if (cond == WaitCondition::kNotRunning && c->status != RunStatus::kRunning && !c->starting) {
    const ExitInfo info{c->exit_code, ""};
    lock.unlock();
    done(info);
    return {};
  }
  if (cond == WaitCondition::kRemoved) {
    c->removal_waiters.push_back(std::move(done));
  } else {
    c->exit_waiters.push_back(std::move(done));
  }
  return {};
}

base::Status Containers::remove(const std::string& ref, bool force, bool volumes) {
  std::shared_ptr<Container> c;
  {
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(c, find_locked(ref));
    // The lifecycle table refuses (409) what only a forced removal may do.
    DIND_TRY(admit(state_of(*c), force ? Op::kForceRemove : Op::kRemove, c->id));
    if (c->status == RunStatus::kRestarting) {
      cancel_restart_locked(*c);
    }
    if (c->status == RunStatus::kRunning || c->starting) {
      c->stop_requested = true;  // no restart policy: it is going away
      auto promise = std::make_shared<std::promise<void>>();
      auto fut = promise->get_future();
      c->exit_waiters.push_back([promise](const ExitInfo&) { promise->set_value(); });
      (void)signal(*c, SIGKILL);
      lock.unlock();
      if (fut.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return make_error(ErrorKind::kInternal,
                          "could not kill running container " + c->id + ", cannot remove");
      }
    }
  }
  return remove_now(c, volumes);
}

base::Status Containers::remove_link(const std::string& parent, const std::string& alias) {
  EngineLock lock(*this);
  const std::string shown = parent + "/" + alias;
  auto found = find_locked(parent);
  if (!found) {
    return make_error(ErrorKind::kNotFound, "No such container: " + shown);
  }
  auto& links = (*found)->links;
  const auto before = links.size();
  std::erase_if(links, [&](const auto& l) { return l.second == alias; });
  if (links.size() == before) {
    return make_error(ErrorKind::kNotFound, "No such container: " + shown);
  }
  // Kept in HostConfig too, as dockerd keeps it.
  if (auto& hl = (*found)->host_config.links) {
    std::erase_if(*hl, [&](const std::string& l) {
      auto parsed = parse_link(l);
      return parsed && parsed->second == alias;
    });
    if (hl->empty()) {
      hl.reset();
    }
  }
  return save(**found);
}

base::Status Containers::remove_now(const std::shared_ptr<Container>& c, bool volumes) {
  RunLeftovers left;
  {
    EngineLock lock(*this);
    if (by_id_.count(c->id) == 0 || c->removing) {
      return {};
    }
    c->removing = true;
    wait_released_locked(lock, *c);  // an exit's release still under way
    left = take_run_locked(*c);
  }
  { std::lock_guard op(c->op_mu); }  // a docker cp or export under way ends first
  base::Stopwatch watch;
  release(std::move(left));
  (void)layers_->remove_rootfs(c->id);
  std::error_code ec;
  fs::remove_all(dir(c->id), ec);
  DIND_LOG(kDebug) << "removed " << short_id(c->id) << " in " << watch.elapsed_ms() << " ms";
  std::vector<std::function<void(ExitInfo)>> waiters;
  ExitInfo info;
  {
    EngineLock lock(*this);
    c->releasing = false;
    emit(*c, "destroy");
    names_.erase(c->name);
    by_id_.erase(c->id);
    unsaved_.erase(c->id);  // its directory is gone
    info = ExitInfo{c->exit_code, ""};
    waiters = std::exchange(c->exit_waiters, {});
    auto removal = std::exchange(c->removal_waiters, {});
    waiters.insert(waiters.end(), std::make_move_iterator(removal.begin()),
                   std::make_move_iterator(removal.end()));
  }
  released_cv_.notify_all();
  {
    std::lock_guard writing(persist_mu_);
    written_.erase(c->id);
  }
  if (volumes) {  // once it is gone: a volume another container uses stays
    for (const auto& v : c->anon_volumes) {
      if (auto st = volumes_->remove(v, true); !st) {
        DIND_LOG(kDebug) << "keeping volume " << v << ": " << st.error().message;
      }
    }
  }
  for (auto& w : waiters) {
    w(info);
  }
  return {};
}

base::Status Containers::resize(const std::string& ref, int height, int width) {
  if (height < 0 || width < 0 || height > 65535 || width > 65535) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "invalid terminal size " + std::to_string(height) + "x" + std::to_string(width));
  }
  std::shared_ptr<Container> c;
  {
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(c, find_locked(ref));
    DIND_TRY(admit(state_of(*c), Op::kResize, c->id));
    if (!c->config.tty) {
      return make_error(ErrorKind::kConflict, "Container " + c->id + " was not started with a TTY");
    }
  }
  if (auto st = shim_resize(socket_path(c->id), height, width); !st) {
    return make_error(ErrorKind::kInternal, "resizing the terminal of " + c->id + " failed");
  }
  return {};
}

base::Result<Containers::ExecTarget> Containers::exec_target(const std::string& ref,
                                                             const std::string& user) const {
  ExecTarget t;
  {
    EngineLock lock(*this);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    const auto& c = **found;
    DIND_TRY(admit(state_of(c), Op::kExec, c.id));
    t.id = c.id;
    t.bundle = run_dir(c.id);
    t.socket = socket_path(c.id);
    t.config = c.config;
    t.generation = c.generation;
  }
  const std::string rootfs = (layers_->root() / "mounts" / t.id / "merged").string();
  auto u = runtime::resolve_user(user.empty() ? t.config.user : user,
                                 read_in_root(rootfs, "/etc/passwd"),
                                 read_in_root(rootfs, "/etc/group"));
  if (!u) {
    return make_error(ErrorKind::kInternal, u.error().message);
  }
  t.user = *u;
  return t;
}

bool Containers::running(const std::string& id, uint64_t generation) const {
  EngineLock lock(*this);
  auto it = by_id_.find(id);
  return it != by_id_.end() && it->second->status == RunStatus::kRunning &&
         it->second->generation == generation;
}

base::Status Containers::rename(const std::string& ref, const std::string& new_name) {
  DIND_TRY(validate_container_name(new_name));
  EngineLock lock(*this);
  auto found = find_locked(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto c = *found;
  const std::string name = new_name[0] == '/' ? new_name : "/" + new_name;
  if (name == c->name) {
    return make_error(ErrorKind::kInvalidArgument,
                      "Renaming a container with the same name as its current name");
  }
  DIND_TRY(name_free_locked(name));
  names_.erase(c->name);
  const std::string old_name = c->name.substr(1);
  c->name = name;
  names_[name] = c->id;
  emit(*c, "rename", {{"oldName", old_name}});
  return save(*c);
}

}  // namespace dind::engine
