#include "start_run.hpp"

#include "container_util.hpp"

namespace dind::engine {

using base::make_error;

base::Result<StartRun> run_start(StartOs& os, const RunRequest& r) {
  const StartPlan& plan = *r.plan;
  std::vector<std::function<void()>> undo;
  auto fail = [&undo](base::Error e) -> base::Error {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      (*it)();
    }
    return e;
  };
  auto mark = [&r](const char* what) {
    if (r.mark) {
      r.mark(what);
    }
  };
  StartRun run;
  if (!r.rootfs_mounted) {
    if (auto st = os.mount_rootfs(); !st) {
      return fail(std::move(st).error().with_context("mounting the container's root file system"));
    }
    run.mounted_here = true;
    undo.emplace_back([&os] { os.unmount_rootfs(); });
  }
  mark("rootfs");
  for (const auto& [file, text] : {std::pair<const char*, const std::string*>{"hostname", &plan.hostname},
                                   {"hosts", &plan.hosts},
                                   {"resolv.conf", &plan.resolv_conf}}) {
    if (auto st = os.write_file(file, *text); !st) {
      return fail(std::move(st).error());
    }
  }
  // Volumes and created bind sources stay (as with dockerd): they are the
  // user's data, not part of the attempt.
  for (const auto& v : plan.volumes) {
    if (auto st = os.create_volume(v); !st) {
      return fail(std::move(st).error());
    }
  }
  for (const auto& [sources, create] : {std::pair{&plan.bind_sources, true}, std::pair{&plan.required_sources, false}}) {
    for (const auto& src : *sources) {
      if (auto st = os.ensure_bind_source(src, create); !st) {
        return fail(std::move(st).error());
      }
    }
  }
  if (auto st = os.write_bundle(plan.spec); !st) {
    return fail(std::move(st).error());
  }
  mark("spec");
  auto pids = os.spawn_shim(plan.shim);
  if (!pids) {
    return fail(std::move(pids).error());
  }
  undo.emplace_back([&os] { os.abort_shim(); });
  run.init_pid = pids->first;
  run.shim_pid = pids->second;
  mark("created");
  // The network, between create and start.
  if (!r.netns_path.empty()) {
    if (auto st = os.bind_netns(run.init_pid); !st) {
      return fail(std::move(st).error());
    }
    undo.emplace_back([&os] { os.unbind_netns(); });
    std::vector<std::string> ips;
    bool first = true;
    for (const auto& join : r.networks) {
      netsetup::AttachRequest req;
      req.network = join.network;
      req.netns = r.netns_path;
      req.default_route = first;
      req.names = join.names;
      req.ip = join.ip;
      req.ip6 = join.ip6;
      req.mac = join.mac;
      if (first) {
        req.ports = r.ports;
      }
      auto ep = os.attach(req);
      if (!ep) {
        return fail(make_error(ep.error().kind, "failed to set up container networking: " + ep.error().message));
      }
      undo.emplace_back([&os, n = join.network] { os.detach(n); });
      ips.push_back(ep->ip.to_string());
      run.endpoints.emplace_back(join.network, std::move(*ep));
      first = false;
    }
    if (auto st = os.write_file("hosts", hosts_file(r.hostname, ips, plan.extra_hosts)); !st) {
      return fail(std::move(st).error());
    }
  }
  mark("network");
  if (r.before_start) {
    r.before_start();
  }
  if (auto st = os.start_shim(); !st) {
    return fail(std::move(st).error());
  }
  mark("started");
  return run;
}

}  // namespace dind::engine
