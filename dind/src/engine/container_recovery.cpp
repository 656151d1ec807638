// Containers, start-up recovery: which shim a process is, the strays a
// killed daemon left (shims, endpoints, mounts, run directories) and the
// containers it left to be removed (build steps, --rm).
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/process.hpp"
#include "dind/engine/containers.hpp"
#include "dind/runtime/shim_os.hpp"
#include "container_record.hpp"
#include "container_util.hpp"

namespace dind::engine {
using base::ErrorKind;
namespace fs = std::filesystem;

std::string Containers::shim_of(int pid) const {
  const fs::path proc = "/proc/" + std::to_string(pid);
  if (pid <= 0 || base::read_file(proc / "comm", 64).value_or("").rfind("dind-shim", 0) != 0) {
    return {};
  }
  const std::string cmdline = base::read_file(proc / "cmdline", 1 << 16).value_or("");
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
  if (arg("--runc-root") != (paths_.exec_root / "runc").string()) {
    return {};
  }
  // A shim's own child (its exec zygote, a runc it is starting) carries
  // the shim's arguments too: only the shim itself counts.
  if (const int parent = base::parent_pid(pid);
      parent > 1 && base::read_file("/proc/" + std::to_string(parent) + "/comm", 64)
                            .value_or("")
                            .rfind("dind-shim", 0) == 0) {
    return {};
  }
  return arg("--id");
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
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const int pid = std::atoi(name.c_str());
    const std::string id = shim_of(pid);
    if (id.empty()) {
      continue;
    }
    auto it = by_id_.find(id);
    if (it != by_id_.end() && it->second->status == RunStatus::kRunning && it->second->shim_pid == pid) {
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
    if (c->status == RunStatus::kRunning && !c->netns.empty()) {
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
    if (c->status == RunStatus::kRunning) {
      continue;
    }
    // Mounted by a run, or for a docker cp or export of a stopped container.
    (void)image::unmount(layers_->root() / "mounts" / id / "merged");
    if (!fs::exists(run_dir(id), ec)) {
      continue;
    }
    const fs::path netns = run_dir(id) / "netns";
    ::umount2(netns.c_str(), MNT_DETACH);
    fs::remove_all(run_dir(id), ec);
    ::unlink(socket_path(id).c_str());
  }
}
void Containers::remove_abandoned() {
  std::vector<std::string> doomed;
  {
    EngineLock lock(*this);
    for (const auto& [id, c] : by_id_) {
      const bool idle = c->status != RunStatus::kRunning && c->status != RunStatus::kRestarting &&
                        !c->starting;
      if (!c->removing && (c->build_step || (c->host_config.auto_remove && idle))) {
        doomed.push_back(id);
      }
    }
    DIND_LOG(kDebug) << "abandoned containers: " << doomed.size() << " of " << by_id_.size();
  }
  if (doomed.empty()) {
    return;
  }
  std::weak_ptr<Containers> weak = weak_from_this();
  workers_->post([weak, doomed] {
    auto self = weak.lock();
    for (size_t i = 0; self && i < doomed.size(); ++i) {
      DIND_LOG(kInfo) << "removing " << short_id(doomed[i])
                      << ", which the last run left to be removed (a build step or --rm)";
      if (auto st = self->remove(doomed[i], true, true); !st && st.error().kind != ErrorKind::kNotFound) {
        DIND_LOG(kWarn) << "removing " << short_id(doomed[i]) << ": " << st.error().message;
      }
    }
  });
}

}  // namespace dind::engine
