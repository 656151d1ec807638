// Containers: exits and the release of a run, signals, stop, kill, restart, shutdown.
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
// exit, release, notify

Containers::RunLeftovers Containers::take_run_locked(Container& c) {
  RunLeftovers r;
  r.id = c.id;
  r.netns = std::exchange(c.netns, "");
  if (!r.netns.empty()) {
    for (const auto& [n, e] : c.endpoints) {
      (void)e;
      r.networks.push_back(n);
    }
  }
  c.endpoints.clear();
  r.mounted = std::exchange(c.mounted, false);
  r.sync = std::move(c.sync);
  r.shim_pidfd = std::move(c.shim_pidfd);
  r.init_pidfd = std::move(c.init_pidfd);
  // runc removes the container's leaf cgroups; our parent goes with the last
  // running container (not every time: runc would re-create it at the next
  // start in every hierarchy).
  r.last_running = std::none_of(by_id_.begin(), by_id_.end(), [&](const auto& kv) {
    return kv.second.get() != &c && (kv.second->status == RunStatus::kRunning || kv.second->starting);
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
    const fs::path merged = layers_->root() / "mounts" / r.id / "merged";
    if (auto st = image::unmount(merged); !st && st.error().sys_errno == EBUSY) {
      // A docker cp or export still reads it: detached now, gone with its last file.
      ::umount2(merged.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    }
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
  EngineLock lock(*this);
  c.releasing = false;
  released_cv_.notify_all();
}

void Containers::wait_released_locked(EngineLock& lock, const Container& c) {
  released_cv_.wait(lock.native(), [&c] { return !c.releasing; });
}

void Containers::on_shim_exit(const std::shared_ptr<Container>& c, uint64_t generation) {
  RunLeftovers left;
  std::vector<std::function<void(ExitInfo)>> waiters;
  ExitInfo info;
  bool orphaned = false;
  {
    EngineLock lock(*this);
    if (c->generation != generation || c->status != RunStatus::kRunning) {
      return;
    }
    auto text = base::read_file(dir(c->id) / "exit.json", 4096);
    if (!text) {  // the shim could not write it there (a full data root)
      text = base::read_file(run_dir(c->id) / runtime::kExitFallback, 4096);
    }
    json doc = text ? json::parse(*text, nullptr, false) : json();
    if (doc.is_object()) {
      c->exit_code = doc.value("ExitCode", 255);
      c->oom_killed = doc.value("OOMKilled", false);
      c->finished_at =
          doc.value("FinishedAt", base::rfc3339_nano(std::chrono::system_clock::now()));
    } else {
      orphaned = true;
      c->exit_code = 255;
      c->error = "the container's shim exited without recording an exit status";
      c->finished_at = base::rfc3339_nano(std::chrono::system_clock::now());
    }
    emit_run(*c, false);
    c->status = RunStatus::kExited;
    c->paused = false;
    c->pid = 0;
    if (c->oom_killed) {
      emit(*c, "oom");
    }
    emit(*c, "die", {{"exitCode", std::to_string(c->exit_code)}});
    left = take_run_locked(*c);
    (void)save(*c);
    info = ExitInfo{c->exit_code, ""};
    waiters = std::exchange(c->exit_waiters, {});
  }
  if (orphaned) {
    // The shim went (killed?) without recording an exit: the container's
    // processes may outlive it. runc kills and deletes what is left, so
    // that "exited" is true and the release finds its cgroups empty.
    const std::string runc_root = (paths_.exec_root / "runc").string();
    base::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    (void)runtime::shim_os::run_runtime(paths_.runtime, runc_root, "/dev/null",
                                        {"delete", "--force", c->id}, devnull.get(), devnull.get(),
                                        devnull.get());
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
    EngineLock lock(*this);
    if (!maybe_restart_locked(c)) {
      auto_remove = c->host_config.auto_remove;
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
    if (auto p = parse_signal(c.config.stop_signal); p) {
      stop_sig = *p;
    }
    if (sig == SIGKILL || sig == stop_sig) {
      thaw_later(c.id);  // runc resume: not under the engine's lock
    }
  }
  return {};
}

namespace {

// The container a lookup found, or null after answering `done` with the
// lookup's error once the lock is released.
template <typename Done>
std::shared_ptr<Containers::Container> found_or_answer(
    Containers::EngineLock& lock, base::Result<std::shared_ptr<Containers::Container>> found,
    const Done& done) {
  if (found) {
    return *found;
  }
  lock.unlock();
  done(std::move(found).error());
  return nullptr;
}

}  // namespace

void Containers::stop(const std::string& ref, int timeout,
                      std::function<void(base::Result<Change>)> done) {
  EngineLock lock(*this);
  auto c = found_or_answer(lock, find_locked(ref), done);
  if (!c) {
    return;
  }
  // The lifecycle table: a stopped (or starting) container is unchanged.
  auto admitted = admit(state_of(*c), Op::kStop, c->id);
  if (!admitted || *admitted == Admission::kUnchanged) {
    lock.unlock();
    done(admitted ? base::Result<Change>(Change::kUnchanged)
                  : base::Result<Change>(std::move(admitted).error()));
    return;
  }
  if (c->status == RunStatus::kRestarting) {
    cancel_restart_locked(*c);
    lock.unlock();
    done(Change::kChanged);
    return;
  }
  // docker stop suspends the restart policy until the next start.
  c->manually_stopped = true;
  (void)save(*c);
  // dockerd's "stop" follows the "kill" and the "die".
  auto self = shared_from_this();
  c->exit_waiters.push_back([self, c, done](const ExitInfo&) {
    self->publish(c->id, "stop");
    done(Change::kChanged);
  });
  stop_locked(c, timeout);
}

void Containers::stop_locked(const std::shared_ptr<Container>& c, int timeout) {
  c->stop_requested = true;
  int sig = SIGTERM;
  if (const auto& s = c->config.stop_signal; !s.empty()) {
    if (auto parsed = parse_signal(s)) {
      sig = *parsed;
    }
  }
  if (timeout < 0) {
    timeout = stop_timeout(c->config);
  }
  emit(*c, "kill", {{"signal", std::to_string(sig)}});
  (void)signal(*c, sig);
  const uint64_t gen = c->generation;
  auto kill_later = [weak = std::weak_ptr<Containers>(shared_from_this()), c, gen] {
    if (auto s = weak.lock()) {
      EngineLock l(*s);
      if (c->generation == gen && c->status == RunStatus::kRunning) {
        s->emit(*c, "kill", {{"signal", "9"}});
        (void)s->signal(*c, SIGKILL);
      }
    }
  };
  if (timeout == 0 || sig == SIGKILL) {
    if (sig != SIGKILL) {
      emit(*c, "kill", {{"signal", "9"}});
      (void)signal(*c, SIGKILL);
    }
  } else {
    scheduler_->after(std::chrono::seconds(std::max(timeout, 0)), kill_later);
  }
}

void Containers::shutdown(int timeout_cap, std::function<void()> done) {
  auto finish = [done, once = std::make_shared<std::once_flag>()] { std::call_once(*once, done); };
  std::vector<std::shared_ptr<Container>> running;
  EngineLock lock(*this);
  for (auto& [id, c] : by_id_) {
    if (c->status == RunStatus::kRestarting) {
      c->restart_timer++;  // resumes at the next daemon start
    } else if (c->status == RunStatus::kRunning) {
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
    const int t = stop_timeout(c->config);
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
  EngineLock lock(*this);
  auto c = found_or_answer(lock, find_locked(ref), done);
  if (!c) {
    return;
  }
  if (auto admitted = admit(state_of(*c), Op::kKill, c->id, ref); !admitted) {
    lock.unlock();
    done(std::move(admitted).error());
    return;
  }
  if (c->status == RunStatus::kRestarting) {
    cancel_restart_locked(*c);
    lock.unlock();
    done({});
    return;
  }
  // As dockerd: a kill counts as a manual stop (unless-stopped stays down;
  // always restarts).
  c->manually_stopped = true;
  (void)save(*c);
  emit(*c, "kill", {{"signal", std::to_string(*sig)}});
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
      if (started) {
        self->publish(ref, "restart");
      }
      done(started ? base::Status() : base::Status(std::move(started).error()));
    });
  });
}

}  // namespace dind::engine
