#pragma once
// Containers: the object model (config, host config, state, names), its
// persistence (<data-root>/containers/<id>/config.v2.json, atomic) and the
// lifecycle through the per-container shim: create, start (rootfs, bundle,
// shim, network between `runc create` and `runc start`), attach, wait, stop,
// kill, remove, and the clean-up when a container exits.
//
// Threading: one mutex guards the table; blocking steps (mounts, runc, the
// network) run on the caller's thread, which is a worker-pool thread for the
// API; exits arrive through the Scheduler (the shim's pidfd) and are handled
// on the worker pool.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dind/base/scheduler.hpp"
#include "dind/base/result.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/engine/container_config.hpp"
#include "dind/engine/container_view.hpp"
#include "dind/engine/events.hpp"
#include "dind/engine/health.hpp"
#include "dind/engine/networks.hpp"
#include "dind/engine/volumes.hpp"
#include "dind/image/image_store.hpp"
#include "dind/image/rooted_tree.hpp"
#include "dind/model/container.hpp"
#include "dind/runtime/spec.hpp"

namespace dind::engine {

struct ContainerPaths {
  std::filesystem::path data_root;
  std::filesystem::path exec_root;
  std::string runtime = "runc";
  std::string shim_exe;                                 // dind-shim, or dind itself
  std::vector<std::string> shim_argv0 = {"dind-shim"};  // {"dind", "shim"} for the latter
  std::string cgroup_parent = "dind";
  std::string init_exe;  // a static init for --init (the static dind-shim); "" when none
  std::chrono::milliseconds log_poll{50};  // how often a followed log is read
};

// What a state change did: kUnchanged when the container already was in the
// state asked for (the API answers 304 Not Modified).
enum class Change { kChanged, kUnchanged };

// docker top: ps's column titles and the container's rows.
struct TopResult {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> processes;
};

// docker diff: a path of the container's upper directory against its image.
struct FileChange {
  enum Kind { kModified = 0, kAdded = 1, kDeleted = 2 };  // Docker's numbers
  std::string path;
  Kind kind = kModified;
};

struct PruneReport {
  std::vector<std::string> deleted;
  uint64_t space_reclaimed = 0;
};

struct ExitInfo {
  int code = 0;
  std::string error;  // non-empty: the start failed
};

class Containers : public std::enable_shared_from_this<Containers> {
 public:
  static base::Result<std::shared_ptr<Containers>> open(
      ContainerPaths paths, image::ImageStore* images, image::LayerStore* layers,
      Networks* networks, Volumes* volumes, base::Scheduler* scheduler, base::WorkerPool* workers,
      base::WorkerPool* exits);
  ~Containers();

  struct Created {
    std::string id;
    std::vector<std::string> warnings;
  };
  // The request as the API decoded it; the image's config fills what it
  // leaves empty (merge_config) and dockerd's defaults are settled here.
  // build_step: a build's intermediate container, which the daemon removes
  // at start when its build died with the last run (remove_abandoned).
  base::Result<Created> create(const std::string& name, model::CreateRequest request,
                               bool build_step = false);
  // Blocking: rootfs, bundle, shim, network, start. kUnchanged: it already ran.
  base::Result<Change> start(const std::string& ref);
  // Sends the stop signal, waits `timeout` seconds (-1: the container's
  // StopTimeout or 10), then SIGKILL; `done` runs once it exited
  // (kUnchanged: it was not running).
  void stop(const std::string& ref, int timeout, std::function<void(base::Result<Change>)> done);
  void kill(const std::string& ref, const std::string& signal,
            std::function<void(base::Status)> done);
  void restart(const std::string& ref, int timeout, std::function<void(base::Status)> done);
  // Daemon shutdown without live restore: stops every running container
  // (stop signal, then SIGKILL after its timeout, at most timeout_cap
  // seconds) without counting it as a manual stop; `done` runs when all
  // exited (or timeout_cap + 5 s passed).
  void shutdown(int timeout_cap, std::function<void()> done);
  // At daemon start: containers whose policy says so (always, unless-stopped
  // unless stopped by hand) start again; pending restarts resume.
  void apply_restart_policies();
  // At daemon start, on the worker pool: the containers the last run left
  // to be removed go (with their anonymous volumes): build steps of builds
  // that died with it, and --rm containers that are not running (exited
  // while no daemon ran, or created and never started), as dockerd does.
  void remove_abandoned();
  // Writes the container records an earlier write could not (a full disk),
  // once their back-off has passed; the daemon calls it every few seconds.
  void retry_saves() const { (void)flush(); }
  // Whether containers get a default seccomp profile (one was found at start).
  bool has_default_seccomp() const { return seccomp_.has_value(); }
  // Blocking. force kills a running container first; volumes removes its
  // anonymous volumes.
  base::Status remove(const std::string& ref, bool force, bool volumes);
  base::Status rename(const std::string& ref, const std::string& new_name);
  // docker commit: the container's ID, image, merged config and upper
  // directory (what it changed), and whether it runs or is paused.
  struct CommitSource {
    std::string id, image_id;
    model::Config config;
    std::filesystem::path upper;
    bool running = false, paused = false;
  };
  base::Result<CommitSource> commit_source(const std::string& ref) const;
  // docker events: the bus container events go to (none: not published).
  void set_events(EventBus* events) { events_ = events; }
  // Publishes a container event (Actor: its ID; attributes: image, name, its
  // labels and `extra`); unknown refs publish nothing. Not under the lock.
  void publish(const std::string& ref, const std::string& action,
               std::map<std::string, std::string> extra = {}) const;

  // docker stats: where a container's figures are.
  struct StatsTarget {
    std::string id, name;  // name with its "/"
    bool running = false;
    int pid = 0;         // its init, while it runs; 0 with the host's network
    std::string cgroup;  // "/<cgroup parent>/<id>"
  };
  base::Result<StatsTarget> stats_target(const std::string& ref) const;

  // docker cp and docker export: runs `fn` over the container's file system
  // as its processes see it (with_mounts: its volumes, binds and hosts files
  // too), with the container's Config. A container that does not run has
  // its root file system mounted for the call; its starts wait meanwhile.
  base::Status with_fs(const std::string& ref, bool with_mounts,
                       const std::function<base::Status(const image::RootedTree&,
                                                        const model::Config&)>& fn);
  // docker rm --link PARENT/ALIAS: the legacy link goes (404 when there is none).
  base::Status remove_link(const std::string& parent, const std::string& alias);
  // docker update: resource limits (applied to a running container through
  // the runtime) and the restart policy; the warnings.
  base::Result<std::vector<std::string>> update(const std::string& ref,
                                                const model::UpdateRequest& request);
  // docker network connect/disconnect: a created container's endpoint
  // settings change (applied at its start); a running one is attached or
  // detached at once. 403 already connected / not connected, as dockerd.
  base::Status connect_network(const std::string& ref, const std::string& network,
                               const model::EndpointConfig& endpoint_config);
  base::Status disconnect_network(const std::string& ref, const std::string& network);
  // The freezer: 409 when not running / already paused / not paused.
  base::Status pause(const std::string& ref);
  base::Status unpause(const std::string& ref);
  // The terminal size of a running TTY container (TIOCSWINSZ through its shim).
  base::Status resize(const std::string& ref, int height, int width);

  enum class WaitCondition { kNotRunning, kNextExit, kRemoved };
  // `ready` runs at once (or with the lookup error); `done` once the
  // condition holds.
  base::Status wait(const std::string& ref, WaitCondition condition,
                    std::function<void(ExitInfo)> done);

  struct AttachOptions {
    bool stdin = false, stdout = true, stderr = true, logs = false, stream = true;
    // The detach sequence (bytes) watched for in the input of a TTY container.
    std::string detach_keys = std::string("\x10\x11");
  };
  // Replays logs (if asked) and joins the client's hijacked stream to the
  // container's shim (now, or at start for a created container).
  base::Status attach(const std::string& ref, const AttachOptions& options,
                      std::shared_ptr<base::RawStream> client);

  struct LogOptions {
    bool stdout = true, stderr = true, follow = false, timestamps = false;
    int64_t since_nanos = 0, until_nanos = 0;  // 0: unbounded
    std::optional<size_t> tail;
  };
  // Streams the json-file log as stdcopy frames (or raw for a TTY
  // container) through `write`; `finish` ends the response.
  base::Status logs(const std::string& ref, const LogOptions& options,
                    std::function<void(std::string, std::function<void(bool)>)> write,
                    std::function<void()> finish,
                    std::function<void(std::function<void()>)> on_close);

  // For exec: a running container's run facts, with the exec's user (""
  // for the container's) resolved in its root. 409 "Container X is not
  // running"; Docker's messages for an unknown user.
  struct ExecTarget {
    std::string id;
    std::filesystem::path bundle;  // holds config.json; exec files go in bundle/exec
    std::filesystem::path socket;  // the shim's
    model::Config config;          // the container's Config
    runtime::User user;
    uint64_t generation = 0;  // this run of the container
  };
  base::Result<ExecTarget> exec_target(const std::string& ref, const std::string& user) const;
  // Whether the container still runs the run `generation` names.
  bool running(const std::string& id, uint64_t generation) const;
  const runtime::HostFacts& host_facts() const { return host_; }

  // Healthchecks (engine/health.hpp). The hook each successful start calls
  // with the run's generation (it must not call back into the engine); the
  // runs going now; the probe a run is due (nullopt once that run ended or
  // when it has no healthcheck); a probe's result, answered with the wait
  // before the next probe (nullopt once the run ended).
  void on_run(std::function<void(const std::string& id, uint64_t generation)> hook);
  std::vector<std::pair<std::string, uint64_t>> runs() const;
  struct HealthPlan {
    std::vector<std::string> args;
    std::chrono::milliseconds timeout{0};
    bool paused = false;
  };
  std::optional<HealthPlan> health_plan(const std::string& id, uint64_t generation) const;
  std::optional<std::chrono::milliseconds> record_health(const std::string& id, uint64_t generation,
                                                         const HealthResult& result);
  std::optional<std::chrono::milliseconds> health_delay(const std::string& id, uint64_t generation) const;

  // What inspect shows (the sizes only when asked: a directory walk).
  base::Result<ContainerView> inspect(const std::string& ref, bool size) const;
  struct ListOptions {
    bool all = false;
    int limit = -1;
    bool size = false;
    std::map<std::string, std::vector<std::string>> filters;
  };
  // docker ps: the containers the filters keep, newest first.
  base::Result<std::vector<ContainerView>> list(const ListOptions& options) const;
  base::Result<TopResult> top(const std::string& ref, const std::string& ps_args) const;
  // docker diff: the container's upper directory against its image's layers.
  base::Result<std::vector<FileChange>> changes(const std::string& ref) const;
  // Removes stopped containers.
  // Removes the stopped containers `wanted` (created, labels) keeps; all when empty.
  PruneReport prune(std::function<bool(int64_t created, const model::StringMap& labels)> wanted = {});

  // IDs of the containers that mount the named volume (Volumes::Users).
  std::vector<std::string> volume_users(const std::string& name) const;

  // The ID of a container created from image_id, if any (for rmi).
  std::optional<std::string> using_image(const std::string& image_id) const;
  size_t count(const std::string& status = "") const;

  struct Container;  // defined in containers.cpp
  class EngineLock;  // container_record.hpp: mu_, and the records' writes after it

 private:
  Containers() = default;
  std::function<void(const std::string&, uint64_t)> run_hook_;
  EventBus* events_ = nullptr;
  // A container event (callable under the lock: the bus only queues).
  void emit(const Container& c, const std::string& action,
            std::map<std::string, std::string> extra = {}) const;
  // The network connects and volume mounts of a run's start (or their ends).
  void emit_run(const Container& c, bool start) const;
  base::Result<std::shared_ptr<Container>> find_locked(const std::string& ref) const;
  base::Result<std::shared_ptr<Container>> find(const std::string& ref) const;
  // Docker's 409 when another container has the name ("/name").
  base::Status name_free_locked(const std::string& name) const;
  // Under the lock: takes the record's bytes; the write (atomic, fsync) runs
  // once the lock is released (EngineLock's destructor calls flush()), so
  // nobody waits behind a disk. Records of one container land in order.
  base::Status save(const Container& c) const;
  // Writes the records saved so far; never called with mu_ held.
  base::Status flush() const;
  base::Status start_locked_out(const std::shared_ptr<Container>& c);
  // Runs a start that start() or a policy restart prepared (`starting` set).
  base::Status run_start(const std::shared_ptr<Container>& c, bool by_policy);
  // Restart policies: after an exit, decide and schedule (status
  // "restarting"); true when a restart is pending.
  bool maybe_restart_locked(const std::shared_ptr<Container>& c);
  void schedule_restart_locked(const std::shared_ptr<Container>& c,
                               std::chrono::milliseconds delay);
  void restart_now(const std::shared_ptr<Container>& c, uint64_t timer);
  void cancel_restart_locked(Container& c);
  // The BPF of an OCI seccomp object, compiled once per distinct profile.
  std::optional<std::string> seccomp_bpf(const nlohmann::json& oci_seccomp);
  // At open: containers of stray shims are killed, leftovers of runs cleaned.
  void clean_strays_locked();
  // The container ID of this daemon's shim with that pid (by its name and
  // runc root; never a shim's child); "" for anything else.
  std::string shim_of(int pid) const;
  // A network's name from a name or ID (nullopt: gone), for resolver_network.
  std::function<std::optional<std::string>(const std::string&)> network_name_of() const;
  // A running container's resolv.conf names `from`'s resolver: name `to`'s
  // instead (a file the user edited, or --dns, stays).
  void switch_resolver(const Container& c, const std::string& from, const std::string& to) const;
  // For connect/disconnect: the network's name and the container.
  base::Result<std::pair<std::string, std::shared_ptr<Container>>> network_target_locked(
      const std::string& ref, const std::string& network) const;
  // Stop signal now, SIGKILL after `timeout` s (-1: the container's own).
  void stop_locked(const std::shared_ptr<Container>& c, int timeout);
  // --device entries (or every host device when privileged) as spec devices.
  base::Result<std::vector<runtime::Device>> host_devices(const model::HostConfig& hc) const;
  // `runc <args> <id>`; the error carries runc's reason after `what`.
  base::Status runtime_command(const Container& c, std::vector<std::string> args,
                               const std::string& what) const;
  // pause (true) or unpause (false): runc under the container's op lock.
  base::Status freeze(const std::string& ref, bool pause);
  // Unfreezes a paused container on a worker (a frozen process takes no
  // signal until then); callable under the lock.
  void thaw_later(const std::string& id);
  void on_shim_exit(const std::shared_ptr<Container>& c, uint64_t generation);
  // What a finished run holds (mounts, network namespace and endpoints, the
  // shim's handles): taken from the record under the lock (marking it
  // `releasing`), released without it, then released() clears the mark.
  struct RunLeftovers {
    std::string id;
    std::string netns;
    std::vector<std::string> networks;
    bool mounted = false;
    bool last_running = false;  // the cgroup parent goes too
    base::UniqueFd sync;
    std::shared_ptr<base::UniqueFd> shim_pidfd, init_pidfd;
  };
  RunLeftovers take_run_locked(Container& c);
  void release(RunLeftovers r);
  void released(Container& c);
  // Waits (releasing the lock meanwhile) until no release of c is under way.
  void wait_released_locked(EngineLock& lock, const Container& c);
  base::Status remove_now(const std::shared_ptr<Container>& c, bool volumes);
  ContainerView view_locked(const Container& c) const;
  // SizeRw, SizeRootFs: a directory walk, called without the lock.
  std::pair<int64_t, int64_t> sizes(const std::string& id, const std::string& image_id) const;
  base::Status connect_attach(const std::shared_ptr<Container>& c, const AttachOptions& options,
                              const std::shared_ptr<base::RawStream>& client);
  base::Status signal(Container& c, int sig);
  std::filesystem::path dir(const std::string& id) const;
  std::filesystem::path run_dir(const std::string& id) const;
  std::filesystem::path socket_path(const std::string& id) const;

  ContainerPaths paths_;
  image::ImageStore* images_ = nullptr;
  image::LayerStore* layers_ = nullptr;
  Networks* networks_ = nullptr;
  Volumes* volumes_ = nullptr;
  base::Scheduler* scheduler_ = nullptr;
  base::WorkerPool* workers_ = nullptr;
  base::WorkerPool* exits_ = nullptr;  // exit handling: never behind blocked API jobs
  runtime::HostFacts host_;
  std::optional<nlohmann::json> seccomp_;

  mutable std::mutex mu_;
  // Records saved under mu_ and not yet written: id -> (sequence, bytes).
  mutable std::map<std::string, std::pair<uint64_t, std::string>> unsaved_;
  // Records whose write failed (under mu_): tried again from retry_at_ on,
  // the wait doubling from 1 s to 60 s while writes keep failing, so a disk
  // that stays full costs no write and no error line per engine operation.
  mutable std::map<std::string, std::pair<uint64_t, std::string>> failed_;
  mutable std::chrono::steady_clock::time_point retry_at_{};
  mutable std::chrono::milliseconds retry_wait_{0};
  mutable uint64_t record_seq_ = 0;
  mutable std::mutex persist_mu_;                       // one writer at a time, never under mu_
  mutable std::map<std::string, uint64_t> written_;     // id -> the newest sequence on disk
  std::condition_variable released_cv_;  // a container's `releasing` cleared
  std::mutex seccomp_mu_;
  std::map<std::string, std::string> seccomp_cache_;  // OCI seccomp JSON -> BPF
  std::map<std::string, std::shared_ptr<Container>> by_id_;
  std::map<std::string, std::string> names_;  // "/name" -> id
};

}  // namespace dind::engine
