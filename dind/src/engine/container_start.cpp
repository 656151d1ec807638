// Containers: start (rootfs, bundle, shim, network), restart policies, devices, seccomp.
#include "dind/engine/containers.hpp"

#include <tuple>

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
#include "container_util.hpp"
#include "start_plan.hpp"
#include "start_run.hpp"
#include "host_facts.hpp"
#include "top.hpp"
#include "dind/runtime/resources.hpp"
#include "dind/runtime/seccomp_bpf.hpp"
#include "dind/runtime/security.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_os.hpp"
#include "dind/runtime/shim_process.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// start

base::Result<Change> Containers::start(const std::string& ref) {
  std::shared_ptr<Container> c;
  {
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(c, find_locked(ref));
    wait_released_locked(lock, *c);  // the previous run's mounts and network go first
    auto admitted = admit(state_of(*c), Op::kStart, c->id);
    if (!admitted) {
      return std::move(admitted).error();
    }
    if (*admitted == Admission::kUnchanged) {
      return Change::kUnchanged;
    }
    c->starting = true;
    // A user's start: the restart manager starts over.
    c->restart_timer++;
    c->manually_stopped = false;
    c->restart_count = 0;
    c->restart_delay = std::chrono::milliseconds(0);
  }
  DIND_TRY(run_start(c, false));
  return Change::kChanged;
}

base::Status Containers::run_start(const std::shared_ptr<Container>& c, bool by_policy) {
  base::Status st;
  {
    // Not while a docker cp or export has the stopped container's root mounted.
    std::lock_guard op(c->op_mu);
    st = start_locked_out(c);
  }
  std::vector<std::pair<AttachOptions, std::shared_ptr<base::RawStream>>> pending;
  std::vector<std::function<void(ExitInfo)>> waiters;
  bool auto_remove = false;
  {
    EngineLock lock(*this);
    c->starting = false;
    pending.swap(c->pending_attaches);
    if (st) {
      emit_run(*c, true);
      emit(*c, "start");
    } else {
      c->error = st.error().message;
      c->exit_code = 128;
      if (by_policy) {
        c->status = RunStatus::kExited;
        c->finished_at = base::rfc3339_nano(std::chrono::system_clock::now());
      }
      (void)save(*c);
      waiters = std::exchange(c->exit_waiters, {});
      if (by_policy) {
        (void)maybe_restart_locked(c);
      }
      auto_remove = c->host_config.auto_remove;
    }
  }
  for (auto& w : waiters) {  // after the lock: a waiter may call back in
    w(ExitInfo{128, st ? std::string() : st.error().message});
  }
  for (auto& [o, client] : pending) {
    client->close();
  }
  if (auto_remove) {
    (void)remove_now(c, true);
  }
  return st;
}

// ---------------------------------------------------------------------------
// restart policies

bool Containers::maybe_restart_locked(const std::shared_ptr<Container>& c) {
  if (c->stop_requested || c->removing) {
    return false;
  }
  auto policy = parse_restart_policy(c->host_config);
  if (!policy) {
    return false;
  }
  const auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - c->started_steady);
  const RestartStep step = next_restart(*policy, c->exit_code, c->manually_stopped,
                                        c->restart_count, ran, c->restart_delay);
  if (!step.restart) {
    return false;
  }
  c->restart_delay = step.delay;
  c->restart_count++;
  c->status = RunStatus::kRestarting;
  (void)save(*c);
  DIND_LOG(kDebug) << "restarting " << short_id(c->id) << " in " << step.delay.count() << " ms";
  schedule_restart_locked(c, step.delay);
  return true;
}

void Containers::schedule_restart_locked(const std::shared_ptr<Container>& c,
                                         std::chrono::milliseconds delay) {
  const uint64_t timer = ++c->restart_timer;
  std::weak_ptr<Containers> weak = shared_from_this();
  scheduler_->after(delay, [weak, c, timer] {
    if (auto s = weak.lock()) {
      s->workers_->post([s, c, timer] { s->restart_now(c, timer); });
    }
  });
}

void Containers::restart_now(const std::shared_ptr<Container>& c, uint64_t timer) {
  {
    EngineLock lock(*this);
    wait_released_locked(lock, *c);
    if (c->restart_timer != timer || c->status != RunStatus::kRestarting || c->removing || c->starting ||
        by_id_.count(c->id) == 0) {
      return;  // cancelled, removed or started meanwhile
    }
    c->starting = true;
  }
  (void)run_start(c, true);
}

void Containers::cancel_restart_locked(Container& c) {
  c.restart_timer++;
  c.status = RunStatus::kExited;
  c.manually_stopped = true;
  (void)save(c);
}

void Containers::apply_restart_policies() {
  EngineLock lock(*this);
  for (auto& [id, c] : by_id_) {
    if (c->status == RunStatus::kRunning || c->starting || c->removing) {
      continue;
    }
    auto policy = parse_restart_policy(c->host_config);
    if (c->status == RunStatus::kRestarting) {
      schedule_restart_locked(c, std::max(c->restart_delay, std::chrono::milliseconds(100)));
    } else if (policy && restart_on_daemon_start(*policy, c->manually_stopped) &&
               c->started_at != kZeroTime) {
      c->status = RunStatus::kRestarting;
      schedule_restart_locked(c, std::chrono::milliseconds(0));
    }
  }
}

namespace {

// One device node (or every node under a directory) for the spec.
base::Status add_device(const fs::path& host, const std::string& in_container,
                        const std::string& permissions, std::vector<runtime::Device>& out,
                        bool skip_others) {
  struct stat st {};
  if (::lstat(host.c_str(), &st) != 0) {
    return base::sys_error(errno, "error gathering device information while adding custom "
                                  "device \"" + host.string() + "\"");
  }
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(host, ec)) {
      const std::string name = e.path().filename().string();
      // As runc's HostDevices: not the kernel's own file systems, not the console.
      if (name == "pts" || name == "shm" || name == "fd" || name == "mqueue" || name == ".lxc" ||
          name == ".lxd-mounts" || name == ".udev" || name == "console") {
        continue;
      }
      DIND_TRY(add_device(e.path(), in_container + "/" + name, permissions, out, true));
    }
    return {};
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    if (skip_others) {
      return {};
    }
    return make_error(ErrorKind::kInvalidArgument,
                      "error gathering device information while adding custom device \"" +
                          host.string() + "\": not a device node");
  }
  runtime::Device d;
  d.path = in_container;
  d.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  d.permissions = permissions;
  out.push_back(d);
  return {};
}

}  // namespace

base::Result<std::vector<runtime::Device>> Containers::host_devices(
    const model::HostConfig& hc) const {
  std::vector<runtime::Device> out;
  if (hc.privileged) {
    DIND_TRY(add_device("/dev", "/dev", "rwm", out, true));
    return out;
  }
  for (const auto& d : hc.resources.devices) {
    const std::string& host = d.path_on_host;
    std::string target = d.path_in_container;
    std::string perms = d.cgroup_permissions;
    if (target.empty()) {
      target = host;
    }
    if (perms.empty()) {
      perms = "rwm";
    }
    if (host.empty() || host[0] != '/' || target[0] != '/' ||
        perms.find_first_not_of("rwm") != std::string::npos) {
      return make_error(ErrorKind::kInvalidArgument, "invalid device mapping: " + host + ":" +
                                                         target + ":" + perms);
    }
    DIND_TRY(add_device(host, target, perms, out, false));
  }
  return out;
}

std::optional<std::string> Containers::seccomp_bpf(const json& oci_seccomp) {
  std::string key = oci_seccomp.dump();
  std::lock_guard lock(seccomp_mu_);
  if (auto it = seccomp_cache_.find(key); it != seccomp_cache_.end()) {
    return it->second;
  }
  auto bpf = runtime::compile_seccomp(oci_seccomp);
  if (!bpf) {
    DIND_LOG(kDebug) << "seccomp filter not compiled: " << bpf.error().message;
    return std::nullopt;
  }
  if (seccomp_cache_.size() > 64) {
    seccomp_cache_.clear();
  }
  seccomp_cache_.emplace(std::move(key), *bpf);
  return *bpf;
}

namespace {

// StartOs on this host: the real mounts, files, shim, namespace and network.
class HostStartOs final : public StartOs {
 public:
  struct Parts {
    image::RootfsPlan rootfs;
    fs::path container_dir, run_dir, netns;
    Volumes* volumes = nullptr;
    Networks* networks = nullptr;
    std::string shim_exe;
    std::vector<std::string> shim_argv0;
    std::function<std::optional<std::string>(const json&)> seccomp_bpf;
  };
  explicit HostStartOs(Parts parts) : p_(std::move(parts)) {}

  base::Status mount_rootfs() override { return image::mount_overlay(p_.rootfs); }
  void unmount_rootfs() override { (void)image::unmount(p_.rootfs.merged); }
  base::Status write_file(const std::string& name, const std::string& text) override {
    return write_in_place(p_.container_dir / name, text);
  }
  base::Status create_volume(const std::string& name) override {
    auto made = p_.volumes->create(name, {});
    return made ? base::Status() : base::Status(std::move(made).error());
  }
  base::Status ensure_bind_source(const std::string& path, bool create) override {
    if (fs::exists(path)) {
      return {};
    }
    if (!create) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid mount config for type \"bind\": bind source path does not exist: " + path);
    }
    std::error_code ec;
    fs::create_directories(path, ec);
    return {};
  }
  base::Status write_bundle(const json& spec) override {
    DIND_TRY(base::write_file_atomic(p_.run_dir / "config.json", spec.dump(), 0600));
    // The compiled filter, for the shim's own execs (runc compiles it again
    // for the container's process).
    if (const json& sc = spec["linux"].value("seccomp", json()); sc.is_object()) {
      if (auto bpf = p_.seccomp_bpf(sc)) {
        (void)base::write_file_atomic(p_.run_dir / "seccomp.bpf", *bpf, 0600);
      }
    }
    return {};
  }
  base::Result<std::pair<int, int>> spawn_shim(const runtime::ShimOptions& options) override {
    auto created = runtime::ShimProcess::create({p_.shim_exe, p_.shim_argv0, options}, 60000);
    if (!created) {
      return std::move(created).error();
    }
    shim_.emplace(std::move(*created));
    const int init_pid = shim_->init_pid();
    // The init waits in runc's exec fifo until `runc start`: it cannot have
    // exited yet, so this handle is the container's (verified by its parent).
    init_pidfd_ = std::make_shared<base::UniqueFd>(base::pidfd_open(init_pid));
    if (init_pidfd_->get() < 0 || base::parent_pid(init_pid) != shim_->shim_pid() ||
        !base::pidfd_alive(init_pidfd_->get())) {
      return make_error(ErrorKind::kInternal,
                        "the container's process " + std::to_string(init_pid) + " is not the shim's");
    }
    return std::make_pair(init_pid, shim_->shim_pid());
  }
  void abort_shim() override {
    if (shim_) {
      shim_->abort();
    }
  }
  base::Status start_shim() override { return shim_->start(60000); }
  base::Status bind_netns(int init_pid) override {
    const std::string path = p_.netns.string();
    { base::UniqueFd f(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0444)); }
    const std::string src = "/proc/" + std::to_string(init_pid) + "/ns/net";
    if (::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      const int err = errno;
      ::unlink(path.c_str());
      return base::sys_error(err, "bind-mounting the network namespace");
    }
    return {};
  }
  void unbind_netns() override {
    ::umount2(p_.netns.c_str(), MNT_DETACH);
    ::unlink(p_.netns.c_str());
  }
  base::Result<netsetup::EndpointState> attach(const netsetup::AttachRequest& request) override {
    return p_.networks->attach(request);
  }
  void detach(const std::string& network) override { (void)p_.networks->detach(network, p_.netns); }

  // After a successful run: the sync socket and the init's pidfd.
  base::UniqueFd release_sync() { return shim_->release(); }
  std::shared_ptr<base::UniqueFd> init_pidfd() const { return init_pidfd_; }

 private:
  Parts p_;
  std::optional<runtime::ShimProcess> shim_;
  std::shared_ptr<base::UniqueFd> init_pidfd_;
};

}  // namespace

base::Status Containers::start_locked_out(const std::shared_ptr<Container>& c) {
  const std::string id = c->id;
  const fs::path rdir = run_dir(id);
  base::Stopwatch watch;
  auto mark = [&](const char* what) { watch.mark(what); };
  std::error_code ec;
  fs::remove_all(rdir, ec);
  fs::create_directories(rdir, ec);
  ::unlink((dir(id) / "exit.json").c_str());  // (the fallback went with the run directory)

  // The root file system's layers.
  auto image = images_->get(c->image_id);
  if (!image) {
    return std::move(image).error();
  }
  auto rootfs = layers_->prepare_rootfs(id, image->top_layer);
  if (!rootfs) {
    return std::move(rootfs).error();
  }

  // What the plan needs (reads), the plan (pure: start_plan.hpp), then its
  // application (start_run.hpp: a transaction over HostStartOs).
  StartFacts facts;
  facts.id = id;
  facts.config = c->config;
  facts.host_config = c->host_config;
  facts.network_mode = c->network_mode;
  facts.mounts = c->mounts;
  facts.rootfs = rootfs->merged.string();
  facts.container_dir = dir(id).string();
  facts.run_dir = rdir.string();
  facts.socket = socket_path(id).string();
  facts.runc_root = (paths_.exec_root / "runc").string();
  facts.runtime = paths_.runtime;
  facts.cgroup_parent = paths_.cgroup_parent;
  facts.resolv_conf = c->network_mode == "host"   ? base::read_file("/etc/resolv.conf").value_or("")
                      : c->network_mode == "none" ? ""
                                                  : networks_->resolv_conf_for(resolver_network(c->network_mode, c->networking, network_name_of()));
  // Another container's namespaces (--network/--pid/--ipc container:X): it
  // must run; its network brings its hostname, hosts and resolv.conf along.
  for (const auto& [mode, slot, what] :
       {std::tuple{c->network_mode, &facts.join_net, "network"},
        std::tuple{c->host_config.pid_mode, &facts.join_pid, "PID"},
        std::tuple{c->host_config.ipc_mode, &facts.join_ipc, "IPC"}}) {
    if (mode.rfind("container:", 0) != 0) {
      continue;
    }
    EngineLock lock(*this);
    auto target = find_locked(mode.substr(10));
    if (!target || (*target)->status != RunStatus::kRunning || (*target)->pid <= 0) {
      return make_error(ErrorKind::kConflict, std::string("cannot join ") + what +
                                                  " of a non running container: " + mode.substr(10));
    }
    if ((*target)->id == id) {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string("cannot join own ") + what + " namespace");
    }
    const char* ns = slot == &facts.join_net ? "net" : slot == &facts.join_pid ? "pid" : "ipc";
    *slot = "/proc/" + std::to_string((*target)->pid) + "/ns/" + ns;
    if (slot == &facts.join_net) {
      const Container& t = *(*target);
      facts.config.hostname = t.config.hostname;
      facts.config.domainname = t.config.domainname;
      c->config.hostname = t.config.hostname;  // as dockerd records it
      facts.joined_hosts = base::read_file(dir(t.id) / "hosts").value_or("");
      facts.resolv_conf = base::read_file(dir(t.id) / "resolv.conf").value_or("");
      if (t.network_mode == "host") {
        facts.join_net.clear();
        facts.network_mode = "host";
      }
    }
  }
  // Legacy links: each target running, its address in /etc/hosts (alias,
  // hostname, name) and, on the default bridge, dockerd's link variables.
  if (!c->links.empty()) {
    EngineLock lock(*this);  // the targets are other containers
    model::Strings link_vars;
    for (const auto& [target_id, alias] : c->links) {
      auto t = by_id_.find(target_id);
      const std::string target_name = t != by_id_.end() ? t->second->name : "/" + short_id(target_id);
      if (t == by_id_.end() || t->second->status != RunStatus::kRunning || t->second->endpoints.empty()) {
        return make_error(ErrorKind::kConflict, "Cannot link to a non running container: " + target_name +
                                                    " AS " + c->name + "/" + alias);
      }
      const Container& target = *t->second;
      const auto ep = target.endpoints.count(c->network_mode) != 0 ? target.endpoints.find(c->network_mode)
                                                                   : target.endpoints.begin();
      const std::string ip = ep->second.ip_address;
      const std::string hostname = target.config.hostname.empty() ? short_id(target.id) : target.config.hostname;
      std::string names = alias + " " + hostname;
      if (alias != target.name.substr(1)) {
        names += " " + target.name.substr(1);
      }
      if (!facts.host_config.extra_hosts) {
        facts.host_config.extra_hosts.emplace();
      }
      facts.host_config.extra_hosts->push_back(names + ":" + ip);
      if (c->network_mode == "bridge") {
        for (auto& v : link_env(alias, c->name, ip, target.config.exposed_ports,
                                target.config.env.value_or(model::Strings{}))) {
          link_vars.push_back(std::move(v));
        }
      }
    }
    if (!link_vars.empty()) {  // before the container's own: those win
      model::Strings env = std::move(link_vars);
      for (auto& v : facts.config.env.value_or(model::Strings{})) {
        env.push_back(v);
      }
      facts.config.env = std::move(env);
    }
  }
  facts.seccomp = seccomp_;
  facts.host = host_;
  auto devices = host_devices(c->host_config);
  if (!devices) {
    return std::move(devices).error();
  }
  facts.devices = std::move(*devices);
  facts.init_exe = paths_.init_exe;
  facts.runc_exec = std::getenv("DIND_RUNC_EXEC") != nullptr;  // for comparisons
  facts.volume_dir = [this](const std::string& name) {
    return (paths_.data_root / "volumes" / name / "_data").string();
  };

  // The networks to join, resolved now (names of user networks, aliases).
  RunRequest req;
  req.hostname = c->config.hostname.empty() ? short_id(id) : c->config.hostname;
  if (c->network_mode != "none" && c->network_mode != "host" && c->network_mode.rfind("container:", 0) != 0) {
    req.netns_path = (rdir / "netns").string();
    // Each endpoint's settings under its network's name (a request may name
    // a network by ID), looked up once.
    std::vector<std::string> nets = {c->network_mode};
    std::map<std::string, model::EndpointConfig> settings;
    for (const auto& [ref, cfg] : c->networking) {
      auto info = networks_->find(ref);
      if (!info) {
        continue;
      }
      settings[info->name] = cfg;
      if (std::find(nets.begin(), nets.end(), info->name) == nets.end()) {
        nets.push_back(info->name);
      }
    }
    for (const auto& n : nets) {
      NetworkJoin join{n, {}, {}, {}, {}};
      const auto it = settings.find(n);
      const model::EndpointConfig endpoint = it != settings.end() ? it->second : model::EndpointConfig{};
      if (n != "bridge") {
        join.names = dns_names(*c, endpoint);
      }
      DIND_ASSIGN_OR_RETURN(auto fixed, endpoint_fixed(n, endpoint));
      join.ip = fixed.ip;
      join.ip6 = fixed.ip6;
      join.mac = fixed.mac;
      // Config.MacAddress (before API 1.44) is the first network's.
      if (!join.mac && req.networks.empty() && !c->config.mac_address.empty()) {
        join.mac = netsetup::Mac::parse(c->config.mac_address);
      }
      req.networks.push_back(std::move(join));
    }
    // Host port 0 (-P, -p 80): netsetup picks and holds a free one.
    auto ports = parse_port_bindings(c->config, c->host_config);
    if (!ports) {
      return std::move(ports).error();
    }
    req.ports = std::move(*ports);
  }
  req.before_start = [this, &c, &id] {  // attach streams that waited for the start
    std::vector<std::pair<AttachOptions, std::shared_ptr<base::RawStream>>> pending;
    {
      EngineLock lock(*this);
      pending.swap(c->pending_attaches);
    }
    for (auto& [o, client] : pending) {
      if (auto st = connect_attach(c, o, client); !st) {
        DIND_LOG(kWarn) << "attach to " << short_id(id) << ": " << st.error().message;
        client->close();
      }
    }
  };
  req.mark = mark;

  HostStartOs os({*rootfs, dir(id), rdir, rdir / "netns", volumes_, networks_, paths_.shim_exe,
                  paths_.shim_argv0, [this](const json& sc) { return seccomp_bpf(sc); }});
  // The image's user files come from the mounted root: mount first when
  // needed (run_start keeps it mounted and unmounts on failure).
  bool mounted_for_plan = false;
  if (!c->mounted) {
    if (auto st = os.mount_rootfs(); !st) {
      return std::move(st).error().with_context("mounting the container's root file system");
    }
    mounted_for_plan = true;
  }
  facts.passwd = read_in_root(facts.rootfs, "/etc/passwd");
  facts.group = read_in_root(facts.rootfs, "/etc/group");
  auto plan = plan_start(facts);
  if (!plan) {
    if (mounted_for_plan) {
      os.unmount_rootfs();
    }
    return std::move(plan).error();
  }
  req.plan = &*plan;
  req.rootfs_mounted = true;  // mounted above (the plan needed the image's /etc files)
  auto run = engine::run_start(os, req);
  if (!run) {
    if (mounted_for_plan) {
      os.unmount_rootfs();
    }
    return std::move(run).error();
  }
  DIND_LOG(kDebug) << "started " << short_id(id) << " (ms:" << watch.laps() << ")";
  std::map<std::string, EndpointView> endpoints;
  for (const auto& joined : run->endpoints) {
    const std::string& n = joined.first;
    std::vector<std::string> names;
    for (const auto& j : req.networks) {
      if (j.network == n) {
        names = j.names;
      }
    }
    endpoints[n] = endpoint_view(*networks_, n, joined.second, names);
  }
  const int pidfd = base::pidfd_open(run->shim_pid);
  EngineLock lock(*this);
  c->init_pidfd = os.init_pidfd();
  c->generation++;
  c->status = RunStatus::kRunning;
  c->started_steady = std::chrono::steady_clock::now();
  c->stop_requested = false;
  c->paused = false;
  c->oom_killed = false;
  c->pid = run->init_pid;
  c->shim_pid = run->shim_pid;
  c->exit_code = 0;
  c->error.clear();
  c->started_at = base::rfc3339_nano(std::chrono::system_clock::now());
  c->mounted = true;
  c->netns = req.netns_path;
  c->endpoints = std::move(endpoints);
  c->sync = os.release_sync();
  // Each run starts its health over (dockerd: "starting" until a verdict).
  c->health.reset();
  if (health_settings(c->config.healthcheck)) {
    c->health.emplace();
  }
  (void)save(*c);
  if (run_hook_) {
    run_hook_(c->id, c->generation);  // only schedules: safe under the lock
  }
  if (pidfd >= 0) {
    c->shim_pidfd = std::make_shared<base::UniqueFd>(pidfd);
    std::weak_ptr<Containers> weak = shared_from_this();
    const uint64_t gen = c->generation;
    scheduler_->when_readable(c->shim_pidfd, [weak, c, gen] {
      if (auto s = weak.lock()) {
        s->exits_->post([s, c, gen] { s->on_shim_exit(c, gen); });
      }
    });
  }
  return {};
}

}  // namespace dind::engine
