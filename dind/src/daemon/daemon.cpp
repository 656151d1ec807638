#include "dind/daemon/daemon.hpp"
#include "netsetup/pools.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "dind/api/containers.hpp"
#include "dind/image/blob_sources.hpp"
#include "dind/api/build.hpp"
#include "dind/api/distribution.hpp"
#include "dind/api/exec.hpp"
#include "dind/api/images.hpp"
#include "dind/api/server.hpp"
#include "dind/api/system.hpp"
#include "dind/api/system_df.hpp"
#include "dind/api/volumes.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/worker_pool.hpp"
#include "dind/daemon/listeners.hpp"
#include "dind/engine/containers.hpp"
#include "dind/engine/execs.hpp"
#include "dind/engine/health.hpp"
#include "dind/engine/host_info.hpp"
#include "dind/engine/networks.hpp"
#include "dind/version.hpp"

namespace dind::daemon {
using namespace engine;  // the composition root wires the engine
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;

namespace {

// A pid file naming a live process of ours means another daemon owns this
// data; a stale one (crash) is replaced. In a restarted appliance container
// /var/run survives and the old pid may now be this process or its
// supervising PID 1: stale too.
base::Status write_pidfile(const std::string& path) {
  if (auto text = base::read_file(path, 64)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(text->c_str()));
    if (pid > 0 && pid != ::getpid() && pid != ::getppid() && ::kill(pid, 0) == 0) {
      auto comm = base::read_file("/proc/" + std::to_string(pid) + "/comm", 64);
      if (comm && comm->rfind("dind", 0) == 0) {
        return make_error(ErrorKind::kAlreadyExists,
                          "pid file found, ensure dind is not running or delete " + path +
                              " (process " + std::to_string(pid) + " is alive)");
      }
    }
  }
  base::FileTransaction tx;
  DIND_TRY(tx.ensure_dir(fs::path(path).parent_path(), 0755));
  DIND_TRY(tx.stage(path, std::to_string(::getpid()) + "\n", 0644));
  return tx.commit();
}

// Tuning knobs for the connection deadlines (tests use short ones).
api::ServerLimits limits_from_env() {
  api::ServerLimits limits;
  auto ms = [](const char* name, std::chrono::milliseconds& slot) {
    if (const char* v = std::getenv(name); v && *v) {
      const long n = std::atol(v);
      if (n > 0) {
        slot = std::chrono::milliseconds(n);
      }
    }
  };
  ms("DIND_HANDSHAKE_TIMEOUT_MS", limits.handshake_timeout);
  ms("DIND_HEADER_TIMEOUT_MS", limits.header_timeout);
  ms("DIND_SHUTDOWN_GRACE_MS", limits.shutdown_grace);
  ms("DIND_WRITE_TIMEOUT_MS", limits.write_timeout);
  ms("DIND_BODY_TIMEOUT_MS", limits.body_timeout);
  return limits;
}

// One I/O thread per CPU (at most 4): more threads than cores only adds
// wake-ups between them. DIND_IO_THREADS overrides.
int io_threads() {
  if (const char* v = std::getenv("DIND_IO_THREADS"); v && std::atoi(v) > 0) {
    return std::atoi(v);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 4u));
}

}  // namespace

int run_daemon(DaemonConfig config) {
  const auto t0 = std::chrono::steady_clock::now();
  auto level = base::parse_log_level(config.log_level);
  if (!level) {
    DIND_LOG(kError) << level.error().message;
    return 1;
  }
  base::set_log_level(*level);

  std::vector<std::string> warnings;
  auto listeners = plan_listeners(config, warnings);
  if (!listeners) {
    DIND_LOG(kError) << listeners.error().message;
    return 1;
  }
  for (const auto& w : warnings) {
    DIND_LOG(kWarn) << w;
  }
  for (const auto& dir : {config.data_root, config.exec_root}) {
    base::FileTransaction tx;
    auto st = tx.ensure_dir(dir, 0711);
    if (st) {
      st = tx.commit();
    }
    if (!st) {
      DIND_LOG(kError) << "cannot create " << dir << ": " << st.error().message;
      return 1;
    }
  }
  base::remove_interrupted_writes(config.data_root);  // the engine ID's, say; each store sweeps its own
  if (auto st = write_pidfile(config.pidfile); !st) {
    DIND_LOG(kError) << st.error().message;
    return 1;
  }
  auto remove_pidfile = [&] { ::unlink(config.pidfile.c_str()); };

  // docker events: outlives the server and every stream it serves.
  engine::EventBus events;
  auto ctx = std::make_shared<api::SystemContext>();
  ctx->config = config;
  ctx->host = gather_host_info(config.data_root);
  auto id = load_or_create_engine_id(config.data_root);
  if (!id) {
    DIND_LOG(kError) << id.error().message;
    remove_pidfile();
    return 1;
  }
  ctx->engine_id = *id;
  for (const auto& w : warnings) {
    ctx->warnings.push_back("WARNING: " + w);
  }
  ctx->runc = std::async(std::launch::async, api::probe_runc_version).share();

  // The image store on the data root (refused when that is overlayfs).
  const fs::path image_root = fs::path(config.data_root) / "image";
  auto content = image::ContentStore::open(image_root / "content");
  if (!content) {
    DIND_LOG(kError) << content.error().message;
    remove_pidfile();
    return 1;
  }
  auto layers = image::LayerStore::open(image_root / "overlay2");
  if (!layers) {
    DIND_LOG(kError) << layers.error().message;
    remove_pidfile();
    return 1;
  }
  auto images = image::ImageStore::open(image_root, *content, *layers);
  if (!images) {
    DIND_LOG(kError) << images.error().message;
    remove_pidfile();
    return 1;
  }
  // Which compressed blobs the layers are (registries, and the copies pulls
  // keep): the image store keeps the kept ones while their layers live.
  image::BlobSources blob_sources(image_root / "distribution" / "blobs");
  (*images)->set_blob_sources(&blob_sources);
  ctx->image_count = [store = images->get()] { return store->list().size(); };

  api::Router router;
  api::ServerLimits limits = limits_from_env();
  // Uploads spool on the data root (a volume in the appliance), never in a
  // tmpfs /tmp that would hold them in memory.
  limits.spool_dir = fs::path(config.data_root) / "tmp";
  {
    base::FileTransaction tx;
    auto st = tx.ensure_dir(limits.spool_dir, 0700);
    if (st) {
      st = tx.commit();
    }
    if (!st) {
      DIND_LOG(kError) << "cannot create " << limits.spool_dir.string() << ": "
                       << st.error().message;
      remove_pidfile();
      return 1;
    }
  }
  // Networks (the default bridge is created here). Declared before the
  // worker pools: queued container jobs still use it while the pools drain.
  engine::NetworkOptions nopts;
  nopts.state_dir = fs::path(config.data_root) / "network";
  nopts.bridge = config.bridge;
  nopts.table = engine::nat_table_for(config.bridge, config.data_root);
  nopts.owner = "pid " + std::to_string(::getpid()) + ", data root " + config.data_root;
  nopts.bip = config.bip;
  nopts.mtu = config.mtu;
  for (const auto& pool : config.address_pools) {
    if (auto spec = netsetup::parse_pool(pool)) {
      nopts.pools.push_back(*spec);
    }
  }
  auto networks = engine::Networks::open(nopts);
  if (!networks) {
    DIND_LOG(kError) << "networking: " << networks.error().message;
    remove_pidfile();
    return 1;
  }
  api::Server server(router, api::common_headers(), limits);
  ctx->scheduler = &server;
  ctx->events = &events;
  api::add_system_routes(router, ctx);
  api::add_swarm_routes(router);
  // Declared after the server: destroyed (queued jobs finished) before it,
  // while the io_context its replies are posted to still exists.
  base::WorkerPool workers(2);
  // Container jobs block on runc and mounts: their own, larger pool; exits
  // have a pool of their own so that jobs waiting for an exit never starve it.
  base::WorkerPool container_workers(8);
  base::WorkerPool exit_workers(2);
  // Inspect, list, stop, kill: short but blocking (the engine's lock, fsync,
  // size walks), never behind a slow start nor on an I/O thread.
  base::WorkerPool query_workers(2);

  engine::ContainerPaths cpaths;
  cpaths.data_root = config.data_root;
  cpaths.exec_root = config.exec_root;
  cpaths.cgroup_parent = config.cgroup_parent;
  // A test knob: another runc-compatible program (e.g. a wrapper that is
  // slow on purpose) for this daemon only.
  if (const char* rt = std::getenv("DIND_RUNTIME"); rt != nullptr && *rt != '\0') {
    cpaths.runtime = rt;
  }
  // A test knob: how often a followed log is read (a long interval lets a
  // test remove the container between a write and its read).
  if (const char* ms = std::getenv("DIND_TEST_LOG_POLL_MS"); ms != nullptr && std::atoi(ms) > 0) {
    cpaths.log_poll = std::chrono::milliseconds(std::atoi(ms));
  }
  {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    // The small dind-shim next to us when installed; else `dind shim`.
    if (fs::exists(self.parent_path() / "dind-shim")) {
      cpaths.shim_exe = (self.parent_path() / "dind-shim").string();
#if DIND_STATIC_SHIM
      cpaths.init_exe = cpaths.shim_exe;  // static: it runs in any image as --init
#endif
    } else {
      cpaths.shim_exe = self.string();
      cpaths.shim_argv0 = {"dind", "shim"};
    }
  }
  engine::Volumes volumes(fs::path(config.data_root) / "volumes");
  auto containers = engine::Containers::open(cpaths, images->get(), &*layers, networks->get(), &volumes,
                                             &server, &container_workers, &exit_workers);
  if (!containers) {
    DIND_LOG(kError) << containers.error().message;
    remove_pidfile();
    return 1;
  }  (*containers)->set_events(&events);

  volumes.set_users([weak = std::weak_ptr<engine::Containers>(*containers)](const std::string& name) {
    auto c = weak.lock();
    return c ? c->volume_users(name) : std::vector<std::string>{};
  });
  ctx->container_count = [c = *containers](const std::string& status) { return c->count(status); };
  if ((*containers)->has_default_seccomp()) {
    ctx->security_options.push_back("name=seccomp,profile=builtin");  // dockerd's words for its default
  }
  registry::RegistryOptions ropts;
  ropts.mirrors = config.registry_mirrors;
  ropts.insecure = config.insecure_registries;
  ropts.certs_dir = config.registry_certs_dir;
  ropts.max_downloads = config.max_concurrent_downloads;
  ropts.max_uploads = config.max_concurrent_uploads;
  ropts.gzip_level = config.push_gzip_level;
  // A test knob: how long a registry may stay silent (a stalled blob).
  if (const char* ms = std::getenv("DIND_TEST_REGISTRY_IDLE_MS"); ms && std::atoi(ms) > 0) {
    ropts.timeouts.idle = std::chrono::milliseconds(std::atoi(ms));
  }
  if (auto st = registry::validate_options(ropts); !st) {
    DIND_LOG(kError) << st.error().message;
    remove_pidfile();
    return 1;
  }
  auto mutations = std::make_shared<std::mutex>();

  registry::Service registry_service(
      ropts, std::string("docker/") + kEngineVersion + " os/linux", *images->get(), *layers, *content, blob_sources, mutations);
  // Pull and push orchestration: each waits on its transfers.
  base::WorkerPool transfer_workers(8);
  api::DistributionContext dist_ctx{&registry_service, &transfer_workers, &events};
  api::add_distribution_routes(router, dist_ctx);
  api::ImageContext image_ctx{images->get(), &*layers, &*content, &workers};
  image_ctx.mutations = mutations;
  image_ctx.events = &events;
  image_ctx.pull = [dist_ctx](const api::Request& req, api::Reply reply) {
    api::pull_handler(dist_ctx, req, std::move(reply));
  };
  image_ctx.in_use = [c = *containers](const std::string& image_id) {
    return c->using_image(image_id);
  };
  api::add_image_routes(router, image_ctx);
  // The builder: its RUN steps are containers of the engine, its missing
  // base images pulled like docker pull.
  build::BuilderDeps bdeps;
  bdeps.images = images->get();
  bdeps.layers = &*layers;
  bdeps.content = &*content;
  bdeps.containers = containers->get();
  bdeps.mutations = mutations;
  bdeps.scratch = fs::path(config.data_root) / "tmp";
  bdeps.pull = [&registry_service](const std::string& name, const build::BuildOutput& out)
      -> base::Result<std::string> {
    auto ref = image::parse_reference(name);
    if (!ref) {
      return std::move(ref).error();
    }
    if (!ref->tag && !ref->digest) {
      ref->tag = "latest";
    }
    auto pulled = registry_service.pull(registry::PullRequest{*ref, {}, std::nullopt},
                                        [&out](const registry::Progress& p) {
                                          return out(api::progress_line(p));
                                        });
    if (!pulled) {
      return std::move(pulled).error();
    }
    return pulled->image_id;
  };
  build::Builder builder(bdeps);
  base::WorkerPool build_workers(4);
  api::add_build_routes(router, api::BuildContext{&builder, &build_workers,
                                                  fs::path(config.data_root) / "tmp", images->get(),
                                                  mutations, image_ctx.in_use});
  api::add_container_routes(
      router, api::ContainerContext{*containers, networks->get(), &container_workers, &query_workers, &events});
  api::add_network_routes(
      router, api::ContainerContext{*containers, networks->get(), &container_workers, &query_workers, &events});
  api::add_archive_routes(
      router, api::ContainerContext{*containers, networks->get(), &container_workers, &query_workers, &events});
  api::add_stats_route(
      router, api::ContainerContext{*containers, networks->get(), &container_workers, &query_workers, &events},
      &server);
  api::add_volume_routes(router, api::VolumeContext{&volumes, &container_workers, &events});
  api::add_system_df_route(router, api::DfContext{images->get(), &*layers, *containers, &volumes, &query_workers});
  auto execs = std::make_shared<engine::Execs>(*containers, &server);
  api::add_exec_routes(router, execs, &container_workers);
  // Healthchecks: probes through native exec, on a pool of their own (a
  // probe may wait up to its timeout).
  base::WorkerPool health_workers(4);
  auto health = std::make_shared<engine::HealthMonitor>(*containers, execs, &server, &health_workers);
  health->start();
  // Every 5 s on a query worker: the NAT table checked (one flushed or
  // edited behind our back is put back; a few milliseconds when nothing
  // changed), and container records a full disk refused written again.
  auto nat_check = std::make_shared<std::function<void()>>();
  *nat_check = [&server, &query_workers, nets = networks->get(), engine = containers->get(),
                weak = std::weak_ptr<std::function<void()>>(nat_check)] {
    query_workers.post([nets, engine] {
      nets->repair_nat();
      engine->retry_saves();
    });
    if (auto self = weak.lock()) {
      server.after(std::chrono::seconds(5), *self);
    }
  };
  server.after(std::chrono::seconds(5), *nat_check);

  for (const auto& l : *listeners) {
    auto bound = server.listen(l);
    if (!bound) {
      DIND_LOG(kError) << bound.error().message;
      remove_pidfile();
      return 1;
    }
    DIND_LOG(kInfo) << "API listen on " << *bound;
  }
  (*containers)->remove_abandoned();
  (*containers)->apply_restart_policies();
  const auto ms =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count() /
      1000.0;
  DIND_LOG(kInfo) << "dind " << kDindVersion << " (engine " << kEngineVersion << ", API "
                  << api::kMaxApiVersion.to_string() << ") ready in " << ms << " ms; data root "
                  << config.data_root;
  if (!config.live_restore) {
    server.on_shutdown([c = *containers, t = config.shutdown_timeout](std::function<void()> go) {
      c->shutdown(t, std::move(go));
    });
  }
  server.run(io_threads(), /*handle_signals=*/true);
  health->stop();  // probes queued behind the stop do not run
  remove_pidfile();
  DIND_LOG(kInfo) << "daemon stopped";
  return 0;
}

}  // namespace dind::daemon
