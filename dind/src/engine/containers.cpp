#include "dind/engine/containers.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
#include "top.hpp"
#include "dind/runtime/resources.hpp"
#include "dind/runtime/seccomp_bpf.hpp"
#include "dind/runtime/security.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_os.hpp"

extern char** environ;

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json mount_spec_json(const MountSpec& m) {
  return {{"type", static_cast<int>(m.type)}, {"source", m.source},
          {"destination", m.destination},     {"ro", m.read_only},
          {"create", m.create_source},        {"tmpfs", m.tmpfs_options}};
}

MountSpec mount_spec_from(const json& j) {
  MountSpec m;
  m.type = static_cast<MountSpec::Type>(j.value("type", 0));
  m.source = j.value("source", "");
  m.destination = j.value("destination", "");
  m.read_only = j.value("ro", false);
  m.create_source = j.value("create", false);
  m.tmpfs_options = j.value("tmpfs", "");
  return m;
}

int open_in_root(int root, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how)));
}

// A file inside the container's root, read without following its symlinks
// out of the root.
std::string read_in_root(const std::string& root, const std::string& path) {
  base::UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return "";
  }
  base::UniqueFd fd(open_in_root(dir.get(), path, O_RDONLY));
  if (!fd.valid()) {
    return "";
  }
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0 && out.size() < (4u << 20)) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Rewrites a file in place (it is bind-mounted into the container: a rename
// would leave the container with the old inode).
base::Status write_in_place(const fs::path& path, const std::string& text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return base::sys_error(errno, "open " + path.string());
  }
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return base::sys_error(errno, "write " + path.string());
  }
  return {};
}

std::string hosts_file(const std::string& hostname, const std::vector<std::string>& ips,
                       const json& extra) {
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  if (extra.is_array()) {
    for (const auto& e : extra) {
      if (!e.is_string()) {
        continue;
      }
      const std::string s = e.get<std::string>();
      const size_t colon = s.find(':');
      if (colon != std::string::npos) {
        out += s.substr(colon + 1) + "\t" + s.substr(0, colon) + "\n";
      }
    }
  }
  for (const auto& ip : ips) {
    out += ip + "\t" + hostname + "\n";
  }
  return out;
}

// Docker's units.HumanDuration.
std::string human_duration(int64_t secs) {
  if (secs < 1) {
    return "Less than a second";
  }
  if (secs == 1) {
    return "1 second";
  }
  if (secs < 60) {
    return std::to_string(secs) + " seconds";
  }
  const int64_t mins = secs / 60;
  if (mins == 1) {
    return "About a minute";
  }
  if (mins < 60) {
    return std::to_string(mins) + " minutes";
  }
  const int64_t hours = secs / 3600;
  if (hours == 1) {
    return "About an hour";
  }
  if (hours < 48) {
    return std::to_string(hours) + " hours";
  }
  if (hours < 24 * 7 * 2) {
    return std::to_string(hours / 24) + " days";
  }
  if (hours < 24 * 30 * 2) {
    return std::to_string(hours / 24 / 7) + " weeks";
  }
  if (hours < 24 * 365 * 2) {
    return std::to_string(hours / 24 / 30) + " months";
  }
  return std::to_string(hours / 24 / 365) + " years";
}

int64_t parse_time_secs(const std::string& t) {
  std::tm tm{};
  if (t.size() < 19 || strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return 0;
  }
  return static_cast<int64_t>(timegm(&tm));
}

int64_t now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

base::Result<std::string> read_sync(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (r == 0) {
    return make_error(ErrorKind::kInternal, "the shim did not answer in time");
  }
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0) {
    return make_error(ErrorKind::kInternal, "the shim exited unexpectedly");
  }
  return std::string(buf, static_cast<size_t>(n));
}

uint16_t free_port(netsetup::Proto proto) {
  base::UniqueFd fd(::socket(
      AF_INET, (proto == netsetup::Proto::kTcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  socklen_t len = sizeof(sa);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return 0;
  }
  return ntohs(sa.sin_port);
}

runtime::HostFacts gather_facts() {
  runtime::HostFacts h;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    h.nofile_hard = rl.rlim_max;
  }
  h.has_unprivileged_port_sysctl = fs::exists("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  h.has_ping_group_range_sysctl = fs::exists("/proc/sys/net/ipv4/ping_group_range");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/devices/system/cpu", ec)) {
    if (fs::exists(e.path() / "thermal_throttle")) {
      h.thermal_throttle_paths.push_back((e.path() / "thermal_throttle").string());
    }
  }
  std::sort(h.thermal_throttle_paths.begin(), h.thermal_throttle_paths.end());
  h.ncpus = std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
  auto first_line = [](const char* path, const std::string& fallback) {
    std::string t = base::read_file(path, 4096).value_or(fallback);
    t = t.substr(0, t.find('\n'));
    return t.empty() ? fallback : t;
  };
  h.cpus_online = first_line("/sys/devices/system/cpu/online", "0-" + std::to_string(h.ncpus - 1));
  h.mems_online = first_line("/sys/devices/system/node/online", "0");
  h.swap_limit = fs::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") ||
                 (fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
                  first_line("/sys/fs/cgroup/cgroup.controllers", "").find("memory") !=
                      std::string::npos);
  h.blkio_weight = fs::exists("/sys/fs/cgroup/blkio/blkio.weight") ||
                   fs::exists("/sys/fs/cgroup/blkio/blkio.bfq.weight") ||
                   (fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
                    first_line("/sys/fs/cgroup/cgroup.controllers", "").find("io") !=
                        std::string::npos);
  for (const auto& [name, resource] : std::initializer_list<std::pair<const char*, int>>{
           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
           {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
           {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
           {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
           {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
           {"stack", RLIMIT_STACK}}) {
    rlimit r{};
    if (::getrlimit(resource, &r) == 0 && r.rlim_max != RLIM_INFINITY) {
      h.rlimit_hard[name] = r.rlim_max;
    }
  }
  // CapBnd: hex mask of the bounding set.
  std::istringstream status(base::read_file("/proc/self/status").value_or(""));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapBnd:", 0) == 0) {
      h.bounding_caps = runtime::capability_names(std::stoull(line.substr(7), nullptr, 16));
    }
  }
  return h;
}

}  // namespace

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
  self->host_ = gather_facts();
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
    auto text = base::read_file(e.path() / "config.v2.json");
    if (!text) {
      continue;
    }
    auto doc = json::parse(*text, nullptr, false);
    if (!doc.is_object() || doc.value("Id", "") != e.path().filename().string()) {
      DIND_LOG(kWarn) << "ignoring unreadable container state in " << e.path();
      continue;
    }
    auto c = std::make_shared<Container>();
    c->id = doc["Id"];
    c->name = doc.value("Name", "/" + short_id(c->id));
    c->image_id = doc.value("Image", "");
    c->image_name = doc.value("ImageName", "");
    c->created = doc.value("Created", "");
    c->config = doc.value("Config", json::object());
    c->host_config = doc.value("HostConfig", json::object());
    c->networking = doc.value("NetworkingConfig", json::object());
    c->network_mode = doc.value("NetworkMode", "bridge");
    for (const auto& m : doc.value("MountSpecs", json::array())) {
      c->mounts.push_back(mount_spec_from(m));
    }
    c->anon_volumes = doc.value("AnonVolumes", std::vector<std::string>{});
    const json st = doc.value("State", json::object());
    c->status = st.value("Status", "created");
    c->paused = st.value("Paused", false);
    c->oom_killed = st.value("OOMKilled", false);
    c->pid = st.value("Pid", 0);
    c->exit_code = st.value("ExitCode", 0);
    c->error = st.value("Error", "");
    c->started_at = st.value("StartedAt", kZeroTime);
    c->finished_at = st.value("FinishedAt", kZeroTime);
    c->restart_count = doc.value("RestartCount", 0);
    c->manually_stopped = doc.value("HasBeenManuallyStopped", false);
    c->shim_pid = doc.value("ShimPid", 0);
    c->endpoints = doc.value("Endpoints", json::object());
    if (c->status == "running" || c->status == "removing") {
      // The shim may still run (re-adopt) or have finished meanwhile. The
      // handles are opened first and the processes verified after: a pid
      // checked before its pidfd is opened may already name another process.
      auto shim_fd = std::make_shared<base::UniqueFd>(base::pidfd_open(c->shim_pid));
      auto comm = base::read_file("/proc/" + std::to_string(c->shim_pid) + "/comm", 64);
      auto init_fd = std::make_shared<base::UniqueFd>(base::pidfd_open(c->pid));
      const bool init_ours = base::parent_pid(c->pid) == c->shim_pid;
      c->mounted = true;
      c->netns = (self->run_dir(c->id) / "netns").string();
      c->generation = 1;
      if (comm && comm->rfind("dind-shim", 0) == 0 && base::pidfd_alive(shim_fd->get())) {
        c->status = "running";
        c->started_steady = std::chrono::steady_clock::now() -
                            std::chrono::seconds(std::max<int64_t>(
                                0, now_secs() - parse_time_secs(c->started_at)));
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
    std::lock_guard lock(self->mu_);
    self->clean_strays_locked();
  }
  return self;
}

void Containers::clean_strays_locked() {
  // Shims of this daemon (by their runc root) that run a container our
  // records do not show running: a daemon killed in the middle of a start or
  // a removal. Their container goes; the shim then records the exit, runs
  // runc delete and exits by itself.
  const std::string runc_root = (paths_.exec_root / "runc").string();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos ||
        base::read_file(e.path() / "comm", 64).value_or("").rfind("dind-shim", 0) != 0) {
      continue;
    }
    const std::string cmdline = base::read_file(e.path() / "cmdline", 1 << 16).value_or("");
    std::vector<std::string> args;
    for (size_t at = 0; at < cmdline.size();) {
      const size_t end = cmdline.find('\0', at);
      args.push_back(cmdline.substr(at, end == std::string::npos ? std::string::npos : end - at));
      at = end == std::string::npos ? cmdline.size() : end + 1;
    }
    auto arg = [&args](const char* flag) {
      auto it = std::find(args.begin(), args.end(), flag);
      return it != args.end() && it + 1 != args.end() ? *(it + 1) : std::string();
    };
    const std::string id = arg("--id");
    if (arg("--runc-root") != runc_root || id.empty()) {
      continue;
    }
    const int pid = std::atoi(name.c_str());
    auto it = by_id_.find(id);
    if (it != by_id_.end() && it->second->status == "running" && it->second->shim_pid == pid) {
      continue;
    }
    DIND_LOG(kWarn) << "stopping the stray container " << short_id(id) << " (shim " << pid << ")";
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    (void)runtime::shim_os::run_runtime(paths_.runtime, runc_root, "/dev/null",
                                        {"kill", id, "KILL"}, devnull.get(), devnull.get(),
                                        devnull.get());
  }
  // Endpoints no running container holds (a start the daemon never
  // finished): their addresses, names and port rules go.
  std::set<std::string> held;
  for (const auto& [id, c] : by_id_) {
    if (c->status == "running" && !c->netns.empty()) {
      held.insert(c->netns);
    }
  }
  for (const auto& [network, netns] : networks_->endpoints()) {
    if (held.count(netns) == 0) {
      DIND_LOG(kWarn) << "releasing the stray endpoint " << netns << " on " << network;
      (void)networks_->detach(network, netns);
    }
  }
  // What a run left behind for containers that no longer run.
  for (auto& [id, c] : by_id_) {
    if (c->status == "running" || !fs::exists(run_dir(id), ec)) {
      continue;
    }
    const fs::path netns = run_dir(id) / "netns";
    ::umount2(netns.c_str(), MNT_DETACH);
    (void)image::unmount(layers_->root() / "mounts" / id / "merged");
    fs::remove_all(run_dir(id), ec);
    ::unlink(socket_path(id).c_str());
  }
}

base::Status Containers::save(const Container& c) const {
  json mounts = json::array();
  for (const auto& m : c.mounts) {
    mounts.push_back(mount_spec_json(m));
  }
  json doc = {{"Id", c.id},
              {"Name", c.name},
              {"Image", c.image_id},
              {"ImageName", c.image_name},
              {"Created", c.created},
              {"Config", c.config},
              {"HostConfig", c.host_config},
              {"NetworkingConfig", c.networking},
              {"NetworkMode", c.network_mode},
              {"MountSpecs", mounts},
              {"AnonVolumes", c.anon_volumes},
              {"State",
               {{"Status", c.status},
                {"Paused", c.paused},
                {"OOMKilled", c.oom_killed},
                {"Pid", c.pid},
                {"ExitCode", c.exit_code},
                {"Error", c.error},
                {"StartedAt", c.started_at},
                {"FinishedAt", c.finished_at}}},
              {"RestartCount", c.restart_count},
              {"HasBeenManuallyStopped", c.manually_stopped},
              {"ShimPid", c.shim_pid},
              {"Endpoints", c.endpoints}};
  return base::write_file_atomic(dir(c.id) / "config.v2.json", doc.dump() + "\n", 0600);
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
  std::lock_guard lock(mu_);
  return find_locked(ref);
}

std::vector<std::string> Containers::volume_users(const std::string& name) const {
  std::lock_guard lock(mu_);
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

base::Result<Containers::Created> Containers::create(const std::string& name_in, const json& body) {
  if (!body.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the request body must be a JSON object");
  }
  const std::string image_ref = body.value("Image", "");
  if (image_ref.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "No image specified");  // dockerd: "config cannot be empty..."
  }
  if (!name_in.empty()) {
    DIND_TRY(validate_container_name(name_in));
  }
  auto image_id = images_->resolve(image_ref);
  if (!image_id) {
    return std::move(image_id).error();
  }
  auto image = images_->get(*image_id);
  if (!image) {
    return std::move(image).error();
  }
  const json image_doc = json::parse(image->config, nullptr, false);
  json hc = body.value("HostConfig", json::object());
  if (!hc.is_object()) {
    hc = json::object();
  }
  json request_config = body;
  request_config.erase("HostConfig");
  request_config.erase("NetworkingConfig");
  auto c = std::make_shared<Container>();
  c->id = base::random_hex(64);
  c->config = merge_config(request_config, image_doc.value("config", json::object()), c->id);
  c->config["Image"] = image_ref;
  if (auto args = runtime::process_args(c->config); !args) {
    return std::move(args).error();
  }
  auto mounts = parse_mounts(c->config, hc);
  if (!mounts) {
    return std::move(mounts).error();
  }
  if (auto ports = parse_port_bindings(c->config, hc); !ports) {
    return std::move(ports).error();
  }
  if (auto policy = parse_restart_policy(hc); !policy) {
    return std::move(policy).error();
  }
  if (auto sec = runtime::parse_security_opts(hc); !sec) {
    return std::move(sec).error();
  }
  if (auto st = runtime::check_caps_and_sysctls(
          hc, hc.value("NetworkMode", json("")) == json("host"));
      !st) {
    return std::move(st).error();
  }
  if (auto caps = runtime::granted_capabilities(hc, host_.bounding_caps); !caps) {
    return std::move(caps).error();
  }
  std::vector<std::string> warnings;
  if (auto settled = runtime::settle_resources(hc, host_, false, &warnings); !settled) {
    return std::move(settled).error();
  } else {
    hc = std::move(*settled);
  }
  std::string mode = hc.value("NetworkMode", "");
  if (mode.empty() || mode == "default") {
    mode = "bridge";
  }
  if (mode.rfind("container:", 0) == 0) {
    return make_error(ErrorKind::kUnimplemented, "--network container:<name> is not supported yet");
  }
  if (mode != "none" && mode != "host") {
    auto net = networks_->find(mode);
    if (!net) {
      return std::move(net).error();
    }
    mode = net->name;
  }
  hc["NetworkMode"] = hc.value("NetworkMode", "").empty() ? "default" : hc["NetworkMode"];
  // The defaults dockerd fills in (clients read them back from inspect).
  json log_config = hc.value("LogConfig", json::object());
  if (!log_config.is_object()) {
    log_config = json::object();
  }
  const std::string log_type = log_config.value("Type", "");
  if (!log_type.empty() && log_type != "json-file") {
    return make_error(ErrorKind::kInvalidArgument,
                      "logging driver \"" + log_type + "\" is not supported (only json-file)");
  }
  log_config["Type"] = "json-file";
  if (!log_config.contains("Config") || !log_config["Config"].is_object()) {
    log_config["Config"] = json::object();
  }
  hc["LogConfig"] = log_config;
  if (!hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object()) {
    hc["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  } else if (hc["RestartPolicy"].value("Name", "").empty()) {
    hc["RestartPolicy"]["Name"] = "no";
  }
  c->network_mode = mode;
  for (auto& m : *mounts) {
    if (m.type == MountSpec::Type::kVolume && m.source.empty()) {
      m.source = base::random_hex(64);
      c->anon_volumes.push_back(m.source);
    }
  }
  c->mounts = *mounts;
  c->image_id = *image_id;
  c->image_name = image_ref;
  c->host_config = hc;
  c->networking = body.value("NetworkingConfig", json::object());
  c->created = base::rfc3339_nano(std::chrono::system_clock::now());

  std::unique_lock lock(mu_);
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
  DIND_TRY(name_free_locked(name));
  c->name = name;
  std::error_code ec;
  fs::create_directories(dir(c->id), ec);
  if (ec) {
    return make_error(base::kind_from_errno(ec.value()),
                      "create " + dir(c->id).string() + ": " + ec.message());
  }
  if (auto st = save(*c); !st) {
    fs::remove_all(dir(c->id), ec);
    return std::move(st).error();
  }
  by_id_[c->id] = c;
  names_[name] = c->id;
  return Created{c->id, warnings};
}

// ---------------------------------------------------------------------------
// start

base::Result<Change> Containers::start(const std::string& ref) {
  std::shared_ptr<Container> c;
  {
    std::unique_lock lock(mu_);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    c = *found;
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
  auto st = start_locked_out(c);
  std::vector<std::pair<AttachOptions, std::shared_ptr<base::RawStream>>> pending;
  std::vector<std::function<void(ExitInfo)>> waiters;
  bool auto_remove = false;
  {
    std::lock_guard lock(mu_);
    c->starting = false;
    pending.swap(c->pending_attaches);
    if (!st) {
      c->error = st.error().message;
      c->exit_code = 128;
      if (by_policy) {
        c->status = "exited";
        c->finished_at = base::rfc3339_nano(std::chrono::system_clock::now());
      }
      (void)save(*c);
      waiters = std::exchange(c->exit_waiters, {});
      if (by_policy) {
        (void)maybe_restart_locked(c);
      }
      auto_remove = c->host_config.value("AutoRemove", false);
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
  c->status = "restarting";
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
    std::unique_lock lock(mu_);
    wait_released_locked(lock, *c);
    if (c->restart_timer != timer || c->status != "restarting" || c->removing || c->starting ||
        by_id_.count(c->id) == 0) {
      return;  // cancelled, removed or started meanwhile
    }
    c->starting = true;
  }
  (void)run_start(c, true);
}

void Containers::cancel_restart_locked(Container& c) {
  c.restart_timer++;
  c.status = "exited";
  c.manually_stopped = true;
  (void)save(c);
}

void Containers::apply_restart_policies() {
  std::lock_guard lock(mu_);
  for (auto& [id, c] : by_id_) {
    if (c->status == "running" || c->starting || c->removing) {
      continue;
    }
    auto policy = parse_restart_policy(c->host_config);
    if (c->status == "restarting") {
      schedule_restart_locked(c, std::max(c->restart_delay, std::chrono::milliseconds(100)));
    } else if (policy && restart_on_daemon_start(*policy, c->manually_stopped) &&
               c->started_at != kZeroTime) {
      c->status = "restarting";
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

base::Result<std::vector<runtime::Device>> Containers::host_devices(const json& hc) const {
  std::vector<runtime::Device> out;
  if (hc.value("Privileged", json(false)) == json(true)) {
    DIND_TRY(add_device("/dev", "/dev", "rwm", out, true));
    return out;
  }
  const json devices = hc.value("Devices", json());
  for (const auto& d : devices.is_array() ? devices : json::array()) {
    if (!d.is_object() || !d.value("PathOnHost", json()).is_string()) {
      return make_error(ErrorKind::kInvalidArgument, "invalid device: " + d.dump());
    }
    const std::string host = d.value("PathOnHost", "");
    std::string target = d.value("PathInContainer", "");
    std::string perms = d.value("CgroupPermissions", "");
    if (target.empty()) {
      target = host;
    }
    if (perms.empty()) {
      perms = "rwm";
    }
    if (host.empty() || host[0] != '/' || target[0] != '/' ||
        perms.find_first_not_of("rwm") != std::string::npos) {
      return make_error(ErrorKind::kInvalidArgument, "invalid device mapping: " + d.dump());
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

base::Status Containers::start_locked_out(const std::shared_ptr<Container>& c) {
  const std::string id = c->id;
  const fs::path rdir = run_dir(id);
  base::Stopwatch watch;
  auto mark = [&](const char* what) { watch.mark(what); };
  std::error_code ec;
  fs::remove_all(rdir, ec);
  fs::create_directories(rdir, ec);
  ::unlink((dir(id) / "exit.json").c_str());
  bool shim_started = false;
  base::UniqueFd sync;
  std::vector<std::string> attached;
  std::string netns;
  bool mounted_here = false;
  auto undo = [&] {
    if (sync.valid()) {
      (void)::send(sync.get(), "A", 1, MSG_NOSIGNAL);
      (void)read_sync(sync.get(), 5000);  // the shim deletes the container, then exits
      sync.reset();
    }
    for (const auto& n : attached) {
      (void)networks_->detach(n, netns);
    }
    if (!netns.empty()) {
      ::umount2(netns.c_str(), MNT_DETACH);
      ::unlink(netns.c_str());
    }
    if (mounted_here) {
      auto plan_merged = layers_->root() / "mounts" / id / "merged";
      (void)image::unmount(plan_merged);
    }
    (void)shim_started;
  };
  auto fail = [&](base::Error e) -> base::Status {
    undo();
    return e;
  };

  // The root file system.
  auto image = images_->get(c->image_id);
  if (!image) {
    return fail(std::move(image).error());
  }
  auto plan = layers_->prepare_rootfs(id, image->top_layer);
  if (!plan) {
    return fail(std::move(plan).error());
  }
  if (!c->mounted) {
    if (auto st = image::mount_overlay(*plan); !st) {
      return fail(std::move(st).error().with_context("mounting the container's root file system"));
    }
    mounted_here = true;
  }
  const std::string rootfs = plan->merged.string();
  mark("rootfs");

  // Files the container sees at /etc.
  const std::string hostname = c->config.value("Hostname", short_id(id));
  const json extra_hosts = c->host_config.value("ExtraHosts", json());
  if (auto st = write_in_place(dir(id) / "hostname", hostname + "\n"); !st) {
    return fail(std::move(st).error());
  }
  if (auto st = write_in_place(dir(id) / "hosts", hosts_file(hostname, {}, extra_hosts)); !st) {
    return fail(std::move(st).error());
  }
  std::string resolv = c->network_mode == "none" ? "" : networks_->resolv_conf_for(c->network_mode);
  if (c->network_mode == "host") {
    resolv = base::read_file("/etc/resolv.conf").value_or("");
  }
  const json dns = c->host_config.value("Dns", json::array());
  if (dns.is_array() && !dns.empty()) {
    std::string custom;
    for (const auto& s : dns) {
      if (s.is_string()) {
        custom += "nameserver " + s.get<std::string>() + "\n";
      }
    }
    std::istringstream in(resolv);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("nameserver", 0) != 0) {
        custom += line + "\n";
      }
    }
    resolv = custom;
  }
  if (auto st = write_in_place(dir(id) / "resolv.conf", resolv); !st) {
    return fail(std::move(st).error());
  }

  // Mounts: volumes created on demand, missing -v sources created, a
  // missing --mount bind source refused.
  for (const auto& m : c->mounts) {
    if (m.type == MountSpec::Type::kVolume) {
      if (auto p = volumes_->create(m.source, {}); !p) {
        return fail(std::move(p).error());
      }
    } else if (m.type == MountSpec::Type::kBind && !fs::exists(m.source)) {
      if (!m.create_source) {
        return fail(
            make_error(ErrorKind::kInvalidArgument,
                       "invalid mount config for type \"bind\": bind source path does not exist: " +
                           m.source));
      }
      fs::create_directories(m.source, ec);
    }
  }
  const auto mounts = oci_mounts(c->mounts, [this](const std::string& name) {
    return (paths_.data_root / "volumes" / name / "_data").string();
  });

  // The user, from the image's own files, and its --group-add groups.
  const std::string group_file = read_in_root(rootfs, "/etc/group");
  auto user = runtime::resolve_user(c->config.value("User", ""),
                                    read_in_root(rootfs, "/etc/passwd"), group_file);
  if (!user) {
    return fail(make_error(ErrorKind::kInternal,
                           "OCI runtime create failed: " + user.error().message + ": unknown"));
  }
  std::vector<std::string> group_add;
  if (const json g = c->host_config.value("GroupAdd", json()); g.is_array()) {
    for (const auto& e : g) {
      if (e.is_string()) {
        group_add.push_back(e.get<std::string>());
      }
    }
  }
  if (auto st = runtime::add_groups(*user, group_add, group_file); !st) {
    return fail(std::move(st).error());
  }
  auto devices = host_devices(c->host_config);
  if (!devices) {
    return fail(std::move(devices).error());
  }
  runtime::SpecInput in;
  in.id = id;
  in.config = c->config;
  in.host_config = c->host_config;
  in.rootfs = rootfs;
  in.container_dir = dir(id).string();
  in.cgroups_path = "/" + paths_.cgroup_parent + "/" + id;
  in.host_network = c->network_mode == "host";
  in.user = *user;
  in.mounts = mounts;
  in.seccomp = seccomp_;
  in.host = host_;
  in.devices = std::move(*devices);
  if (c->host_config.value("Init", json(false)) == json(true)) {
    if (paths_.init_exe.empty()) {
      return fail(make_error(ErrorKind::kInvalidArgument,
                             "--init needs the static dind-shim installed next to dind"));
    }
    in.init_path = paths_.init_exe;
  }
  auto spec = runtime::plan_spec(in);
  if (!spec) {
    return fail(std::move(spec).error());
  }
  if (auto st = base::write_file_atomic(rdir / "config.json", spec->dump(), 0600); !st) {
    return fail(std::move(st).error());
  }
  // The compiled filter, for the shim's own execs (runc compiles it again
  // for the container's process).
  if (const json& sc = (*spec)["linux"].value("seccomp", json()); sc.is_object()) {
    if (auto bpf = seccomp_bpf(sc)) {
      (void)base::write_file_atomic(rdir / "seccomp.bpf", *bpf, 0600);
    }
  }

  mark("spec");
  // The shim.
  runtime::ShimOptions so;
  so.id = id;
  so.bundle = rdir.string();
  so.runc_root = (paths_.exec_root / "runc").string();
  so.runtime = paths_.runtime;
  so.log_path = (dir(id) / (id + "-json.log")).string();
  so.socket = socket_path(id).string();
  so.exit_file = (dir(id) / "exit.json").string();
  so.open_stdin = c->config.value("OpenStdin", false);
  so.stdin_once = c->config.value("StdinOnce", false);
  so.tty = c->config.value("Tty", false);
  so.cgroup = in.cgroups_path;
  so.runc_exec = std::getenv("DIND_RUNC_EXEC") != nullptr;  // for comparisons
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return fail(base::sys_error(errno, "socketpair"));
  }
  sync.reset(sp[0]);
  base::UniqueFd theirs(sp[1]);
  std::vector<std::string> args = paths_.shim_argv0;
  for (auto& a : runtime::shim_args(so)) {
    args.push_back(std::move(a));
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
  // Nothing else: a listening API socket a shim inherited would outlive a
  // killed daemon and make its successor think it still runs.
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t first = 0;
  const int rc = posix_spawn(&first, paths_.shim_exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  theirs.reset();
  if (rc != 0) {
    sync.reset();
    return fail(base::sys_error(rc, "starting the shim " + paths_.shim_exe));
  }
  int wst = 0;
  while (::waitpid(first, &wst, 0) < 0 && errno == EINTR) {
  }
  shim_started = true;
  auto created = read_sync(sync.get(), 60000);
  if (!created) {
    sync.reset();
    return fail(std::move(created).error());
  }
  if (created->rfind("E ", 0) == 0) {
    sync.reset();
    return fail(make_error(ErrorKind::kInternal,
                           "failed to create task for container: OCI runtime create failed: " +
                               created->substr(2) + ": unknown"));
  }
  int init_pid = 0;
  int shim_pid = 0;
  if (std::sscanf(created->c_str(), "P %d %d", &init_pid, &shim_pid) != 2 || init_pid <= 0 ||
      shim_pid <= 0) {
    return fail(make_error(ErrorKind::kInternal, "the shim said \"" + *created + "\""));
  }
  // The init waits in runc's exec fifo until `runc start`: it cannot have
  // exited yet, so this handle is the container's (verified by its parent).
  auto init_pidfd = std::make_shared<base::UniqueFd>(base::pidfd_open(init_pid));
  if (init_pidfd->get() < 0 || base::parent_pid(init_pid) != shim_pid ||
      !base::pidfd_alive(init_pidfd->get())) {
    return fail(make_error(ErrorKind::kInternal, "the container's process " + std::to_string(init_pid) +
                                                     " is not the shim's"));
  }

  mark("created");
  // The network, between create and start.
  std::vector<std::string> ips;
  json endpoints = json::object();
  if (c->network_mode != "none" && c->network_mode != "host") {
    netns = (rdir / "netns").string();
    { base::UniqueFd f(::open(netns.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0444)); }
    const std::string src = "/proc/" + std::to_string(init_pid) + "/ns/net";
    if (::mount(src.c_str(), netns.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      const int err = errno;
      ::unlink(netns.c_str());
      netns.clear();
      return fail(base::sys_error(err, "bind-mounting the network namespace"));
    }
    std::vector<std::string> nets = {c->network_mode};
    const json eps = c->networking.value("EndpointsConfig", json::object());
    if (eps.is_object()) {
      for (const auto& [n, cfg] : eps.items()) {
        (void)cfg;
        auto info = networks_->find(n);
        if (info && std::find(nets.begin(), nets.end(), info->name) == nets.end()) {
          nets.push_back(info->name);
        }
      }
    }
    auto ports = parse_port_bindings(c->config, c->host_config);
    if (!ports) {
      return fail(std::move(ports).error());
    }
    for (auto& p : *ports) {
      if (p.host_port == 0) {
        p.host_port = free_port(p.proto);
      }
    }
    bool first_net = true;
    for (const auto& n : nets) {
      netsetup::AttachRequest req;
      req.network = n;
      req.netns = netns;
      req.default_route = first_net;
      if (n != "bridge") {
        json config;
        if (eps.is_object()) {
          for (const auto& [k, v] : eps.items()) {
            auto info = networks_->find(k);
            if (info && info->name == n) {
              config = v;
            }
          }
        }
        req.names = dns_names(*c, config);
      }
      if (first_net) {
        req.ports = *ports;
      }
      auto ep = networks_->attach(req);
      if (!ep) {
        return fail(make_error(ep.error().kind,
                               "failed to set up container networking: " + ep.error().message));
      }
      attached.push_back(n);
      json e = endpoint_json(*networks_, n, *ep, req.names);
      endpoints[n] = e;
      ips.push_back(ep->ip.to_string());
      first_net = false;
    }
    if (auto st = write_in_place(dir(id) / "hosts", hosts_file(hostname, ips, extra_hosts)); !st) {
      return fail(std::move(st).error());
    }
  }

  mark("network");
  // Attach streams that waited for the start.
  std::vector<std::pair<AttachOptions, std::shared_ptr<base::RawStream>>> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(c->pending_attaches);
  }
  for (auto& [o, client] : pending) {
    if (auto st = connect_attach(c, o, client); !st) {
      DIND_LOG(kWarn) << "attach to " << short_id(id) << ": " << st.error().message;
      client->close();
    }
  }

  if (::send(sync.get(), "S", 1, MSG_NOSIGNAL) != 1) {
    return fail(make_error(ErrorKind::kInternal, "the shim went away before the start"));
  }
  auto started = read_sync(sync.get(), 60000);
  if (!started || *started != "R") {
    const std::string why =
        started ? started->substr(std::min<size_t>(2, started->size())) : started.error().message;
    sync.reset();  // the shim already deleted the container
    return fail(
        make_error(ErrorKind::kInternal,
                   "failed to start container: OCI runtime start failed: " + why + ": unknown"));
  }
  mark("started");
  DIND_LOG(kDebug) << "started " << short_id(id) << " (ms:" << watch.laps() << ")";
  const int pidfd = base::pidfd_open(shim_pid);
  std::lock_guard lock(mu_);
  c->init_pidfd = std::move(init_pidfd);
  c->generation++;
  c->status = "running";
  c->started_steady = std::chrono::steady_clock::now();
  c->stop_requested = false;
  c->paused = false;
  c->oom_killed = false;
  c->pid = init_pid;
  c->shim_pid = shim_pid;
  c->exit_code = 0;
  c->error.clear();
  c->started_at = base::rfc3339_nano(std::chrono::system_clock::now());
  c->mounted = true;
  c->netns = netns;
  c->endpoints = endpoints;
  c->sync = std::move(sync);
  (void)save(*c);
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

// ---------------------------------------------------------------------------
// exit, release, notify

Containers::RunLeftovers Containers::take_run_locked(Container& c) {
  RunLeftovers r;
  r.id = c.id;
  r.netns = std::exchange(c.netns, "");
  if (!r.netns.empty()) {
    for (const auto& [n, e] : c.endpoints.items()) {
      (void)e;
      r.networks.push_back(n);
    }
  }
  c.endpoints = json::object();
  r.mounted = std::exchange(c.mounted, false);
  r.sync = std::move(c.sync);
  r.shim_pidfd = std::move(c.shim_pidfd);
  r.init_pidfd = std::move(c.init_pidfd);
  // runc removes the container's leaf cgroups; our parent goes with the last
  // running container (not every time: runc would re-create it at the next
  // start in every hierarchy).
  r.last_running = std::none_of(by_id_.begin(), by_id_.end(), [&](const auto& kv) {
    return kv.second.get() != &c && (kv.second->status == "running" || kv.second->starting);
  });
  c.releasing = true;
  return r;
}

void Containers::release(RunLeftovers r) {
  std::error_code ec;
  base::Stopwatch watch;
  auto mark = [&](const char* what) { watch.mark(what); };
  if (!r.netns.empty()) {
    // The namespace goes first: with the container gone the kernel then
    // destroys it and its veth in the background, and the detach only
    // releases the address, names and rules.
    ::umount2(r.netns.c_str(), MNT_DETACH);
    ::unlink(r.netns.c_str());
    mark("netns");
    for (const auto& n : r.networks) {
      if (auto st = networks_->detach(n, r.netns); !st) {
        DIND_LOG(kDebug) << "detach " << short_id(r.id) << " from " << n << ": " << st.error().message;
      }
    }
    mark("detach");
  }
  if (r.mounted) {
    (void)image::unmount(layers_->root() / "mounts" / r.id / "merged");
    mark("rootfs");
  }
  r.sync.reset();
  fs::remove_all(run_dir(r.id), ec);
  mark("rundir");
  ::unlink(socket_path(r.id).c_str());
  if (r.last_running) {
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      ::rmdir((e.path() / paths_.cgroup_parent).c_str());
    }
  }
  mark("cgroups");
  DIND_LOG(kDebug) << "released " << short_id(r.id) << " (ms:" << watch.laps() << ")";
}

void Containers::released(Container& c) {
  std::lock_guard lock(mu_);
  c.releasing = false;
  released_cv_.notify_all();
}

void Containers::wait_released_locked(std::unique_lock<std::mutex>& lock, const Container& c) {
  released_cv_.wait(lock, [&c] { return !c.releasing; });
}

void Containers::on_shim_exit(const std::shared_ptr<Container>& c, uint64_t generation) {
  RunLeftovers left;
  std::vector<std::function<void(ExitInfo)>> waiters;
  ExitInfo info;
  {
    std::lock_guard lock(mu_);
    if (c->generation != generation || c->status != "running") {
      return;
    }
    auto text = base::read_file(dir(c->id) / "exit.json", 4096);
    json doc = text ? json::parse(*text, nullptr, false) : json();
    if (doc.is_object()) {
      c->exit_code = doc.value("ExitCode", 255);
      c->oom_killed = doc.value("OOMKilled", false);
      c->finished_at =
          doc.value("FinishedAt", base::rfc3339_nano(std::chrono::system_clock::now()));
    } else {
      c->exit_code = 255;
      c->error = "the container's shim exited without recording an exit status";
      c->finished_at = base::rfc3339_nano(std::chrono::system_clock::now());
    }
    c->status = "exited";
    c->paused = false;
    c->pid = 0;
    left = take_run_locked(*c);
    (void)save(*c);
    info = ExitInfo{c->exit_code, ""};
    waiters = std::exchange(c->exit_waiters, {});
  }
  // Mounts, netlink and directory removal without the engine's lock; a start
  // of this container waits for them (wait_released_locked).
  base::Stopwatch watch;
  release(std::move(left));
  released(*c);
  DIND_LOG(kDebug) << "exited " << short_id(c->id) << " with " << info.code << "; released in "
                   << watch.elapsed_ms() << " ms";
  bool auto_remove = false;
  {
    std::lock_guard lock(mu_);
    if (!maybe_restart_locked(c)) {
      auto_remove = c->host_config.value("AutoRemove", false);
    }
  }
  for (auto& w : waiters) {  // after the lock: a waiter may call back in
    w(info);
  }
  if (auto_remove) {
    (void)remove_now(c, true);
  }
}

// ---------------------------------------------------------------------------
// signals, stop, kill, restart

base::Status Containers::signal(Container& c, int sig) {
  // Through the pidfd: once the shim reaped the init, its pid may name
  // another process, the handle never does.
  if (const int err = base::pidfd_signal(c.init_pidfd ? c.init_pidfd->get() : -1, sig); err != 0) {
    if (err == ESRCH) {
      return make_error(ErrorKind::kConflict, "Container " + c.id + " is not running");
    }
    return base::sys_error(err, "kill");
  }
  // As dockerd: a paused container thaws for its stop signal or SIGKILL
  // (which then arrive); other signals wait for the unpause.
  if (c.paused) {
    int stop_sig = SIGTERM;
    if (auto p = parse_signal(c.config.value("StopSignal", "")); p) {
      stop_sig = *p;
    }
    if (sig == SIGKILL || sig == stop_sig) {
      thaw_later(c.id);  // runc resume: not under the engine's lock
    }
  }
  return {};
}

std::shared_ptr<Containers::Container> Containers::running_or_answer(
    std::unique_lock<std::mutex>& lock, const std::string& ref,
    const std::function<void(base::Status)>& done,
    const std::function<base::Error(const Container&)>& not_running) {
  auto found = find_locked(ref);
  if (found && (*found)->status == "running") {
    return *found;
  }
  base::Error e = found ? not_running(**found) : std::move(found).error();
  lock.unlock();
  done(std::move(e));
  return nullptr;
}

void Containers::stop(const std::string& ref, int timeout,
                      std::function<void(base::Result<Change>)> done) {
  std::unique_lock lock(mu_);
  auto found = find_locked(ref);
  if (!found) {
    lock.unlock();
    done(std::move(found).error());
    return;
  }
  auto c = *found;
  if (c->status == "restarting") {
    cancel_restart_locked(*c);
    lock.unlock();
    done(Change::kChanged);
    return;
  }
  if (c->status != "running") {
    lock.unlock();
    done(Change::kUnchanged);
    return;
  }
  // docker stop suspends the restart policy until the next start.
  c->manually_stopped = true;
  (void)save(*c);
  c->exit_waiters.push_back([done](const ExitInfo&) { done(Change::kChanged); });
  stop_locked(c, timeout);
}

void Containers::stop_locked(const std::shared_ptr<Container>& c, int timeout) {
  c->stop_requested = true;
  int sig = SIGTERM;
  if (auto s = c->config.value("StopSignal", ""); !s.empty()) {
    if (auto parsed = parse_signal(s)) {
      sig = *parsed;
    }
  }
  if (timeout < 0) {
    timeout = c->config.contains("StopTimeout") && c->config["StopTimeout"].is_number_integer()
                  ? c->config["StopTimeout"].get<int>()
                  : 10;
  }
  (void)signal(*c, sig);
  const uint64_t gen = c->generation;
  auto kill_later = [weak = std::weak_ptr<Containers>(shared_from_this()), c, gen] {
    if (auto s = weak.lock()) {
      std::lock_guard l(s->mu_);
      if (c->generation == gen && c->status == "running") {
        (void)s->signal(*c, SIGKILL);
      }
    }
  };
  if (timeout == 0 || sig == SIGKILL) {
    if (sig != SIGKILL) {
      (void)signal(*c, SIGKILL);
    }
  } else {
    scheduler_->after(std::chrono::seconds(std::max(timeout, 0)), kill_later);
  }
}

void Containers::shutdown(int timeout_cap, std::function<void()> done) {
  auto finish = [done, once = std::make_shared<std::once_flag>()] { std::call_once(*once, done); };
  std::vector<std::shared_ptr<Container>> running;
  std::unique_lock lock(mu_);
  for (auto& [id, c] : by_id_) {
    if (c->status == "restarting") {
      c->restart_timer++;  // resumes at the next daemon start
    } else if (c->status == "running") {
      running.push_back(c);
    }
  }
  if (running.empty()) {
    lock.unlock();
    finish();
    return;
  }
  DIND_LOG(kInfo) << "stopping " << running.size() << " containers (at most " << timeout_cap
                  << " s each)";
  auto left = std::make_shared<std::atomic<size_t>>(running.size());
  for (auto& c : running) {
    // Not a manual stop: the restart policies bring them back with the daemon.
    c->exit_waiters.push_back([left, finish](const ExitInfo&) {
      if (left->fetch_sub(1) == 1) {
        finish();
      }
    });
    int t = c->config.contains("StopTimeout") && c->config["StopTimeout"].is_number_integer()
                ? c->config["StopTimeout"].get<int>()
                : 10;
    stop_locked(c, std::min(t < 0 ? timeout_cap : t, timeout_cap));
  }
  // Never let a stuck container hold the daemon.
  scheduler_->after(std::chrono::seconds(timeout_cap + 5), finish);
}

void Containers::kill(const std::string& ref, const std::string& signal_name,
                      std::function<void(base::Status)> done) {
  auto sig = parse_signal(signal_name.empty() ? "KILL" : signal_name);
  if (!sig) {
    done(std::move(sig).error());
    return;
  }
  std::unique_lock lock(mu_);
  if (auto found = find_locked(ref); found && (*found)->status == "restarting") {
    cancel_restart_locked(**found);
    lock.unlock();
    done({});
    return;
  }
  auto c = running_or_answer(lock, ref, done, [&ref](const Container& found) {
    return make_error(ErrorKind::kConflict, "Cannot kill container: " + ref + ": Container " +
                                                found.id + " is not running");
  });
  if (!c) {
    return;
  }
  // As dockerd: a kill counts as a manual stop (unless-stopped stays down;
  // always restarts).
  c->manually_stopped = true;
  (void)save(*c);
  if (*sig == SIGKILL) {
    c->exit_waiters.push_back([done](const ExitInfo&) { done({}); });
    (void)signal(*c, SIGKILL);
    return;
  }
  auto st = signal(*c, *sig);
  lock.unlock();
  done(st);
}

void Containers::restart(const std::string& ref, int timeout,
                         std::function<void(base::Status)> done) {
  auto self = shared_from_this();
  stop(ref, timeout, [self, ref, done](base::Result<Change> stopped) {
    if (!stopped) {
      done(std::move(stopped).error());
      return;
    }
    self->workers_->post([self, ref, done] {
      auto started = self->start(ref);
      done(started ? base::Status() : base::Status(std::move(started).error()));
    });
  });
}

// ---------------------------------------------------------------------------
// wait, remove, rename

base::Status Containers::wait(const std::string& ref, WaitCondition cond,
                              std::function<void(ExitInfo)> done) {
  std::unique_lock lock(mu_);
  auto found = find_locked(ref);
  if (!found) {
    return std::move(found).error();
  }
  auto c = *found;
  if (cond == WaitCondition::kNotRunning && c->status != "running" && !c->starting) {
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
    std::unique_lock lock(mu_);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    c = *found;
    if (c->removing) {
      return make_error(ErrorKind::kConflict,
                        "removal of container " + ref + " is already in progress");
    }
    if (c->status == "restarting") {
      if (!force) {
        return make_error(ErrorKind::kConflict,
                          "You cannot remove a restarting container " + c->id +
                              ". Stop the container before attempting removal or force remove");
      }
      cancel_restart_locked(*c);
    }
    if (c->status == "running" || c->starting) {
      if (!force) {
        return make_error(ErrorKind::kConflict,
                          "You cannot remove a running container " + c->id +
                              ". Stop the container before attempting removal or force remove");
      }
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

base::Status Containers::remove_now(const std::shared_ptr<Container>& c, bool volumes) {
  RunLeftovers left;
  {
    std::unique_lock lock(mu_);
    if (by_id_.count(c->id) == 0 || c->removing) {
      return {};
    }
    c->removing = true;
    wait_released_locked(lock, *c);  // an exit's release still under way
    left = take_run_locked(*c);
  }
  base::Stopwatch watch;
  release(std::move(left));
  (void)layers_->remove_rootfs(c->id);
  std::error_code ec;
  fs::remove_all(dir(c->id), ec);
  DIND_LOG(kDebug) << "removed " << short_id(c->id) << " in " << watch.elapsed_ms() << " ms";
  std::vector<std::function<void(ExitInfo)>> waiters;
  ExitInfo info;
  {
    std::lock_guard lock(mu_);
    c->releasing = false;
    names_.erase(c->name);
    by_id_.erase(c->id);
    info = ExitInfo{c->exit_code, ""};
    waiters = std::exchange(c->exit_waiters, {});
    auto removal = std::exchange(c->removal_waiters, {});
    waiters.insert(waiters.end(), std::make_move_iterator(removal.begin()),
                   std::make_move_iterator(removal.end()));
  }
  released_cv_.notify_all();
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
    std::lock_guard lock(mu_);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    c = *found;
    DIND_TRY(admit(state_of(*c), Op::kResize, c->id));
    if (!c->config.value("Tty", false)) {
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
    std::lock_guard lock(mu_);
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
  auto u = runtime::resolve_user(user.empty() ? t.config.value("User", "") : user,
                                 read_in_root(rootfs, "/etc/passwd"),
                                 read_in_root(rootfs, "/etc/group"));
  if (!u) {
    return make_error(ErrorKind::kInternal, u.error().message);
  }
  t.user = *u;
  return t;
}

bool Containers::running(const std::string& id, uint64_t generation) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  return it != by_id_.end() && it->second->status == "running" &&
         it->second->generation == generation;
}

base::Status Containers::rename(const std::string& ref, const std::string& new_name) {
  DIND_TRY(validate_container_name(new_name));
  std::lock_guard lock(mu_);
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
  c->name = name;
  names_[name] = c->id;
  return save(*c);
}

// ---------------------------------------------------------------------------
// attach, logs

base::Status Containers::connect_attach(const std::shared_ptr<Container>& c, const AttachOptions& o,
                                        const std::shared_ptr<base::RawStream>& client) {
  auto connected = connect_shim(socket_path(c->id));
  if (!connected) {
    return std::move(connected).error();
  }
  base::UniqueFd fd = std::move(*connected);
  uint8_t flags = 0;
  flags |= o.stdin ? runtime::kAttachStdin : 0;
  flags |= o.stdout ? runtime::kAttachStdout : 0;
  flags |= o.stderr ? runtime::kAttachStderr : 0;
  const char hello[2] = {'a', static_cast<char>(flags)};
  if (::send(fd.get(), hello, 2, MSG_NOSIGNAL) != 2) {
    return base::sys_error(errno, "attach");
  }
  pollfd p{fd.get(), POLLIN, 0};
  char k = 0;
  if (::poll(&p, 1, 5000) != 1 || ::recv(fd.get(), &k, 1, 0) != 1 || k != 'K') {
    return make_error(ErrorKind::kInternal, "the shim did not accept the attach");
  }
  splice(scheduler_->adopt(std::move(fd)), client, o.stdin);
  return {};
}

namespace {

struct LogRead {
  std::string frames;
  uint64_t offset = 0;
};

// Reads complete lines of the log from `offset`, filtered, as frames (or raw
// text for a TTY container).
LogRead read_log(const fs::path& path, uint64_t offset, const Containers::LogOptions& o, bool tty,
                 std::optional<size_t> tail) {
  LogRead out;
  out.offset = offset;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return out;
  }
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<runtime::LogEntry> entries;
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) {
      break;  // a partial last line: next time
    }
    out.offset += line.size() + 1;
    auto e = runtime::parse_json_log_line(line);
    if (!e) {
      continue;
    }
    if ((e->stream == "stdout" && !o.stdout) || (e->stream == "stderr" && !o.stderr)) {
      continue;
    }
    if (o.since_nanos > 0 && e->unix_nanos < o.since_nanos) {
      continue;
    }
    if (o.until_nanos > 0 && e->unix_nanos > o.until_nanos) {
      continue;
    }
    entries.push_back(std::move(*e));
  }
  size_t start = 0;
  if (tail && *tail < entries.size()) {
    start = entries.size() - *tail;
  }
  for (size_t i = start; i < entries.size(); ++i) {
    const auto& e = entries[i];
    std::string text = o.timestamps ? e.time + " " + e.text : e.text;
    if (tty) {
      out.frames += text;
    } else {
      base::stdcopy_append(out.frames, e.stream == "stderr" ? base::StdStream::kStderr : base::StdStream::kStdout, text);
    }
  }
  return out;
}

}  // namespace

base::Status Containers::attach(const std::string& ref, const AttachOptions& o,
                                std::shared_ptr<base::RawStream> client) {
  std::shared_ptr<Container> c;
  std::string replay;
  {
    std::lock_guard lock(mu_);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    c = *found;
  }
  if (o.logs) {
    LogOptions lo;
    lo.stdout = o.stdout;
    lo.stderr = o.stderr;
    replay = read_log(dir(c->id) / (c->id + "-json.log"), 0, lo, c->config.value("Tty", false),
                      std::nullopt)
                 .frames;
    if (!replay.empty()) {
      client->write(replay);
    }
  }
  auto end_client = [client] {
    client->shutdown_write();
    client->read([client](std::string_view, bool) { client->close(); });
  };
  if (!o.stream) {
    end_client();
    return {};
  }
  std::unique_lock lock(mu_);
  if (c->status == "running" && !c->starting) {
    lock.unlock();
    auto st = connect_attach(c, o, client);
    if (!st) {
      end_client();
    }
    return {};
  }
  if (c->removing) {
    lock.unlock();
    end_client();
    return {};
  }
  // Created (or stopped, to be started again): joined at the next start.
  c->pending_attaches.emplace_back(o, client);
  return {};
}

base::Status Containers::logs(const std::string& ref, const LogOptions& o,
                              std::function<void(std::string, std::function<void(bool)>)> write,
                              std::function<void()> finish,
                              std::function<void(std::function<void()>)> on_close) {
  std::shared_ptr<Container> c;
  {
    std::lock_guard lock(mu_);
    auto found = find_locked(ref);
    if (!found) {
      return std::move(found).error();
    }
    c = *found;
  }
  const fs::path path = dir(c->id) / (c->id + "-json.log");
  const bool tty = c->config.value("Tty", false);
  auto first = read_log(path, 0, o, tty, o.tail);
  if (!o.follow) {
    write(std::move(first.frames), {});
    finish();
    return {};
  }
  // Follow: poll the file until the container stops (then one last read).
  auto closed = std::make_shared<std::atomic<bool>>(false);
  on_close([closed] { closed->store(true); });
  auto self = shared_from_this();
  struct Tick {
    static void run(std::shared_ptr<Containers> s, std::shared_ptr<Container> c, fs::path path,
                    LogOptions o, bool tty, uint64_t offset,
                    std::shared_ptr<std::atomic<bool>> closed,
                    std::function<void(std::string, std::function<void(bool)>)> write,
                    std::function<void()> finish) {
      if (closed->load()) {
        return;
      }
      bool running;
      {
        std::lock_guard lock(s->mu_);
        running = (c->status == "running" || c->starting) && s->by_id_.count(c->id) != 0;
      }
      auto r = read_log(path, offset, o, tty, std::nullopt);
      if (!r.frames.empty()) {
        write(std::move(r.frames), {});
      }
      if (!running) {
        finish();
        return;
      }
      s->scheduler_->after(std::chrono::milliseconds(50),
                           [=] { run(s, c, path, o, tty, r.offset, closed, write, finish); });
    }
  };
  if (!first.frames.empty()) {
    write(std::move(first.frames), {});
  }
  Tick::run(self, c, path, o, tty, first.offset, closed, write, finish);
  return {};
}

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
  const bool running = c.status == "running";
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
  if (c.config.contains("ExposedPorts") && c.config["ExposedPorts"].is_object()) {
    for (const auto& [k, v] : c.config["ExposedPorts"].items()) {
      (void)v;
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
       {{"Status", c.paused && running ? "paused" : c.status},
        {"Running", running},
        {"Paused", c.paused && running},
        {"Restarting", c.status == "restarting"},
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
      {"HostConfig", c.host_config},
      {"GraphDriver",
       {{"Data",
         {{"MergedDir", (layer / "merged").string()},
          {"UpperDir", (layer / "diff").string()},
          {"WorkDir", (layer / "work").string()}}},
        {"Name", "overlay2"}}},
      {"Mounts", mounts},
      {"Config", c.config},
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
    std::lock_guard lock(mu_);
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
  std::lock_guard lock(mu_);
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
    const bool running = c->status == "running";
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
    const std::string shown = c->paused && c->status == "running" ? "paused" : c->status;
    if (!any_of("status", [&](const std::string& v) { return v == shown; })) {
      continue;
    }
    if (!any_of("exited", [&](const std::string& v) {
          return c->status == "exited" && std::to_string(c->exit_code) == v;
        })) {
      continue;
    }
    const json labels = c->config.value("Labels", json::object());
    if (!any_of("label", [&](const std::string& v) {
          const size_t eq = v.find('=');
          const std::string k = v.substr(0, eq);
          if (!labels.is_object() || !labels.contains(k)) {
            return false;
          }
          return eq == std::string::npos || labels[k] == v.substr(eq + 1);
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
    } else if (c->status == "restarting") {
      status = "Restarting (" + std::to_string(c->exit_code) + ") " +
               human_duration(now - parse_time_secs(c->finished_at)) + " ago";
    } else if (c->status == "exited" || (c->status == "created" && c->finished_at != kZeroTime)) {
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
                 {"Labels", labels.is_object() ? labels : json::object()},
                 {"State", shown},
                 {"Status", status},
                 {"HostConfig", {{"NetworkMode", c->host_config.value("NetworkMode", "default")}}},
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

base::Result<json> Containers::top(const std::string& ref, const std::string& ps_args) const {
  int pid = 0;
  std::string id;
  {
    std::lock_guard lock(mu_);
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

json Containers::prune() {
  std::vector<std::shared_ptr<Container>> victims;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : by_id_) {
      if (c->status != "running" && !c->starting && !c->removing) {
        victims.push_back(c);
      }
    }
  }
  json deleted = json::array();
  for (const auto& c : victims) {
    if (remove_now(c, false)) {
      deleted.push_back(c->id);
    }
  }
  return {{"ContainersDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", 0}};
}

base::Result<json> Containers::changes(const std::string& ref) const {
  std::string id;
  std::optional<std::string> top;
  {
    std::lock_guard lock(mu_);
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
  // The lower layers, top-most first (the image's chain).
  std::vector<fs::path> lower;
  for (std::optional<std::string> chain = top; chain;) {
    auto info = layers_->get(*chain);
    if (!info) {
      break;
    }
    lower.push_back(info->diff_dir);
    chain = info->parent;
  }
  auto in_lower = [&](const std::string& rel) {
    std::error_code ec;
    return std::any_of(lower.begin(), lower.end(), [&](const fs::path& l) {
      return fs::symlink_status(l / rel, ec).type() != fs::file_type::not_found;
    });
  };
  // Kind: 0 changed, 1 added, 2 deleted (an overlay whiteout: a 0/0 char device).
  std::vector<std::pair<std::string, int>> out;
  const fs::path upper = layers_->root() / "mounts" / id / "diff";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(upper, fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), upper, ec).string();
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      continue;
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
      out.emplace_back("/" + rel, 2);
    } else {
      out.emplace_back("/" + rel, in_lower(rel) ? 0 : 1);
    }
  }
  std::sort(out.begin(), out.end());
  json arr = json::array();
  for (const auto& [path, kind] : out) {
    arr.push_back({{"Path", path}, {"Kind", kind}});
  }
  return arr;
}

std::optional<std::string> Containers::using_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, c] : by_id_) {
    if (c->image_id == image_id) {
      return id;
    }
  }
  return std::nullopt;
}

size_t Containers::count(const std::string& status) const {
  std::lock_guard lock(mu_);
  if (status.empty()) {
    return by_id_.size();
  }
  return static_cast<size_t>(std::count_if(
      by_id_.begin(), by_id_.end(), [&](const auto& kv) { return kv.second->status == status; }));
}

}  // namespace dind::engine
