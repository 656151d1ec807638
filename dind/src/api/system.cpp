#include "dind/api/system.hpp"

#include <dirent.h>

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "dind/api/errors.hpp"
#include "dind/api/filters.hpp"
#include "dind/api/route_util.hpp"
#include "dind/base/time.hpp"
#include "dind/version.hpp"

namespace dind::api {
using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

std::string env_or_empty(const char* a, const char* b) {
  const char* v = std::getenv(a);
  if (v == nullptr) {
    v = std::getenv(b);
  }
  return v ? v : "";
}

// Entries of a /proc directory, without "." and "..".
int count_entries(const char* dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (struct dirent* e = ::readdir(d)) {
      n += e->d_name[0] != '.';
    }
    ::closedir(d);
  }
  return n;
}

json version_json(const SystemContext& c) {
  const std::string api = kMaxApiVersion.to_string();
  const std::string min_api = kMinApiVersion.to_string();
  json engine_details = {{"ApiVersion", api},
                         {"Arch", c.host.architecture == "x86_64" ? "amd64" : c.host.architecture},
                         {"BuildTime", __DATE__ " " __TIME__},
                         {"Experimental", "false"},
                         {"GitCommit", kGitCommit},
                         {"GoVersion", "none (C++20, g++ " __VERSION__ ")"},
                         {"KernelVersion", c.host.kernel_version},
                         {"MinAPIVersion", min_api},
                         {"Os", "linux"}};
  json components = json::array();
  components.push_back(
      {{"Name", "Engine"}, {"Version", kEngineVersion}, {"Details", engine_details}});
  components.push_back({{"Name", "dind"}, {"Version", kDindVersion}, {"Details", json::object()}});
  const RuntimeVersion runc = c.runc_version();
  if (!runc.version.empty()) {
    components.push_back(
        {{"Name", "runc"}, {"Version", runc.version}, {"Details", {{"GitCommit", runc.commit}}}});
  }
  return {{"Platform", {{"Name", "dind " + std::string(kDindVersion)}}},
          {"Components", components},
          {"Version", kEngineVersion},
          {"ApiVersion", api},
          {"MinAPIVersion", min_api},
          {"GitCommit", kGitCommit},
          {"GoVersion", engine_details["GoVersion"]},
          {"Os", "linux"},
          {"Arch", engine_details["Arch"]},
          {"KernelVersion", c.host.kernel_version},
          {"BuildTime", engine_details["BuildTime"]}};
}

json info_json(const SystemContext& c, ApiVersion version) {
  const auto& h = c.host;
  json mirrors = c.config.registry_mirrors;
  json insecure_cidrs = json::array({"127.0.0.0/8"});
  json index_configs = {
      {"docker.io",
       {{"Name", "docker.io"}, {"Mirrors", mirrors}, {"Secure", true}, {"Official", true}}}};
  for (const auto& r : c.config.insecure_registries) {
    if (r.find('/') != std::string::npos) {
      insecure_cidrs.push_back(r);
    } else {
      index_configs[r] = {
          {"Name", r}, {"Mirrors", json::array()}, {"Secure", false}, {"Official", false}};
    }
  }
  const bool v1 = h.cgroup_version == "1";
  json info = {
      {"ID", c.engine_id},
      {"Containers", c.container_count ? c.container_count("") : 0},
      {"ContainersRunning", c.container_count ? c.container_count("running") : 0},
      {"ContainersPaused", 0},
      {"ContainersStopped", c.container_count ? c.container_count("") - c.container_count("running") : 0},
      {"Images", c.image_count ? c.image_count() : 0},
      {"Driver", "overlay2"},
      {"DriverStatus", json::array({json::array({"Backing Filesystem", h.backing_filesystem}),
                                    json::array({"Supports d_type", "true"})})},
      {"Plugins",
       {{"Volume", {"local"}},
        {"Network", {"bridge", "host", "null"}},
        {"Authorization", nullptr},
        {"Log", {"json-file"}}}},
      {"MemoryLimit", h.memory_controller},
      {"SwapLimit", h.swap_limit},
      {"CpuCfsPeriod", h.cpu_controller},
      {"CpuCfsQuota", h.cpu_controller},
      {"CPUShares", h.cpu_controller},
      {"CPUSet", h.cpuset_controller},
      {"PidsLimit", h.pids_controller},
      {"IPv4Forwarding", h.ipv4_forwarding},
      {"BridgeNfIptables", h.bridge_nf_iptables},
      {"BridgeNfIp6tables", h.bridge_nf_ip6tables},
      {"Debug", c.config.log_level == "debug"},
      {"NFd", count_entries("/proc/self/fd") - 1},  // minus the directory stream
      {"NGoroutines", count_entries("/proc/self/task")},
      {"SystemTime", base::rfc3339_nano(Clock::now())},
      {"LoggingDriver", "json-file"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", h.cgroup_version},
      {"NEventsListener", 0},
      {"KernelVersion", h.kernel_version},
      {"OperatingSystem", h.operating_system},
      {"OSVersion", h.os_version},
      {"OSType", "linux"},
      {"Architecture", h.architecture},
      {"IndexServerAddress", "https://index.docker.io/v1/"},
      {"RegistryConfig",
       {{"AllowNondistributableArtifactsCIDRs", json::array()},
        {"AllowNondistributableArtifactsHostnames", json::array()},
        {"InsecureRegistryCIDRs", insecure_cidrs},
        {"IndexConfigs", index_configs},
        {"Mirrors", mirrors}}},
      {"NCPU", h.ncpu},
      {"MemTotal", h.mem_total},
      {"GenericResources", nullptr},
      {"DockerRootDir", c.config.data_root},
      {"HttpProxy", env_or_empty("HTTP_PROXY", "http_proxy")},
      {"HttpsProxy", env_or_empty("HTTPS_PROXY", "https_proxy")},
      {"NoProxy", env_or_empty("NO_PROXY", "no_proxy")},
      {"Name", h.hostname},
      {"Labels", json::array()},
      {"ExperimentalBuild", false},
      {"ServerVersion", kEngineVersion},
      {"Runtimes", {{"runc", {{"path", "runc"}}}}},
      {"DefaultRuntime", "runc"},
      {"Swarm",
       {{"NodeID", ""},
        {"NodeAddr", ""},
        {"LocalNodeState", "inactive"},
        {"ControlAvailable", false},
        {"Error", ""},
        {"RemoteManagers", nullptr}}},
      {"LiveRestoreEnabled", false},
      {"Isolation", ""},
      {"InitBinary", ""},
      {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
      {"RuncCommit", {{"ID", c.runc_version().commit}, {"Expected", c.runc_version().commit}}},
      {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
      // Only what is enforced today; seccomp and cgroupns arrive with the
      // container runtime.
      {"SecurityOptions", c.security_options},
      {"OomKillDisable", v1 && h.memory_controller},
      {"Warnings", c.warnings.empty() ? json(nullptr) : json(c.warnings)},
  };
  // Kernel memory accounting is not offered: API 1.42+ omits the fields then
  // (CHANGELOG v1.42), older versions always carried them.
  if (version < ApiVersion{1, 42}) {
    info["KernelMemory"] = false;
    info["KernelMemoryTCP"] = false;
  }
  if (version >= ApiVersion{1, 44}) {
    info["CDISpecDirs"] = json::array();  // added in 1.44
  }
  return info;
}

}  // namespace

std::optional<Clock::time_point> parse_event_time(std::string_view text) {
  auto dot = text.find('.');
  std::string_view secs = text.substr(0, dot);
  long long s = 0;
  auto [p, ec] = std::from_chars(secs.data(), secs.data() + secs.size(), s);
  if (secs.empty() || ec != std::errc() || p != secs.data() + secs.size() || s < 0) {
    return std::nullopt;
  }
  long long nanos = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 9) {
      return std::nullopt;
    }
    auto [q, ec2] = std::from_chars(frac.data(), frac.data() + frac.size(), nanos);
    if (ec2 != std::errc() || q != frac.data() + frac.size()) {
      return std::nullopt;
    }
    for (size_t i = frac.size(); i < 9; ++i) {
      nanos *= 10;
    }
  }
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(s) + std::chrono::nanoseconds(nanos)));
}

RuntimeVersion SystemContext::runc_version() const {
  if (runc.valid() && runc.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    return runc.get();
  }
  return {};
}

RuntimeVersion parse_runc_version(std::string_view text) {
  RuntimeVersion v;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.starts_with("runc version ")) {
      v.version = std::string(line.substr(13));
    } else if (line.starts_with("commit: ")) {
      v.commit = std::string(line.substr(8));
    }
  }
  return v;
}

RuntimeVersion probe_runc_version() {
  std::string out;
  if (FILE* p = ::popen("runc --version 2>/dev/null", "re")) {
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
      out.append(buf, n);
    }
    ::pclose(p);
  }
  return parse_runc_version(out);
}

Headers common_headers() {
  Headers h;
  h["Api-Version"] = kMaxApiVersion.to_string();
  h["Docker-Experimental"] = "false";
  h["Ostype"] = "linux";
  h["Server"] = std::string("Docker/") + kEngineVersion + " (linux)";
  return h;
}

void add_system_routes(Router& router, std::shared_ptr<const SystemContext> ctx) {
  auto ping = [](Request req, Reply reply) {
    Response r = Response::text(200, req.method == "HEAD" ? "" : "OK");
    if (req.method == "HEAD") {
      r.headers["Content-Length"] = "0";
    }
    r.headers["Cache-Control"] = "no-cache, no-store, must-revalidate";
    r.headers["Pragma"] = "no-cache";
    r.headers["Builder-Version"] = "1";
    r.headers["Swarm"] = "inactive";
    reply(std::move(r));
  };
  router.add("GET", "/_ping", ping);
  router.add("GET", "/version",
             [ctx](Request, Reply reply) { reply(Response::json(200, dump(version_json(*ctx)))); });
  router.add("GET", "/info", [ctx](Request req, Reply reply) {
    reply(Response::json(200, dump(info_json(*ctx, req.version))));
  });
  router.add("GET", "/events", [ctx](Request req, Reply reply) {
    std::optional<Clock::time_point> since, until;
    for (auto [key, slot] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
      if (auto v = req.query_value(key); v && !v->empty()) {
        *slot = parse_event_time(*v);
        if (!*slot) {
          reply(error_response(
              400, std::string("invalid ") + key + " value \"" + *v + "\": expected unix seconds"));
          return;
        }
      }
    }
    auto filters = filters_of(req);
    if (!filters) {
      reply(error_response(filters.error()));
      return;
    }
    if (auto st = check_filter_keys(*filters, {"config", "container", "daemon", "event", "image", "label",
                                               "network", "node", "plugin", "scope", "secret", "service",
                                               "type", "volume"});
        !st) {
      reply(error_response(st.error()));
      return;
    }
    if (since && until && *until < *since) {
      reply(error_response(400, "since must be before until"));
      return;
    }
    // The kept history from `since` (or up to `until`), then live events
    // until `until`, the client leaving or the daemon stopping.
    Response r;
    r.headers["Content-Type"] = "application/json";
    base::Scheduler* scheduler = ctx->scheduler;
    engine::EventBus* bus = ctx->events;
    auto wanted = *filters;
    r.stream = [since, until, scheduler, bus, wanted](std::shared_ptr<BodyWriter> w) {
      auto nanos = [](Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
      };
      const int64_t until_nano = until ? nanos(*until) : 0;
      std::vector<engine::EventMessage> history;
      if (bus != nullptr) {
        auto filter = [wanted](const engine::EventMessage& e) { return engine::event_matches(e, wanted); };
        // Live events past `until` end nothing here: the timer below does.
        auto sink = [w, until_nano](const engine::EventMessage& e) {
          if (until_nano == 0 || e.time_nano <= until_nano) {
            w->write(dump(engine::event_json(e)));
          }
          return true;
        };
        const bool replay = since || until;
        std::vector<engine::EventMessage> kept;
        const uint64_t id = bus->subscribe(filter, sink, since ? nanos(*since) : 0, until_nano, kept);
        if (replay) {
          history = std::move(kept);
        }
        w->on_close([bus, id] { bus->unsubscribe(id); });
        for (const auto& e : history) {
          w->write(dump(engine::event_json(e)));
        }
        if (until) {
          auto end = [w, bus, id] {
            bus->unsubscribe(id);
            w->finish();
          };
          const auto now = Clock::now();
          if (*until <= now || scheduler == nullptr) {
            end();
            return;
          }
          scheduler->after(std::chrono::duration_cast<std::chrono::milliseconds>(*until - now) +
                               std::chrono::milliseconds(1),
                           end);
        }
        return;
      }
      if (until) {
        w->finish();
      }
    };
    reply(std::move(r));
  });
}

void add_swarm_routes(Router& router) {
  // dockerd outside a swarm answers every swarm object with 503; SDK and test
  // teardown code tolerates that (a 404 makes it fail).
  static const std::string kNotManager =
      "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
      "connect this node to swarm and try again.";
  auto not_manager = [](Request, Reply reply) { reply(error_response(503, kNotManager)); };
  for (const char* kind : {"nodes", "services", "tasks", "secrets", "configs"}) {
    for (const char* method : {"GET", "POST", "DELETE"}) {
      router.add(method, std::string("/") + kind, not_manager);
      router.add(method, std::string("/") + kind + "/{rest*}", not_manager);
    }
  }
  router.add("GET", "/swarm", not_manager);
  router.add("GET", "/swarm/unlockkey", not_manager);
  router.add("POST", "/swarm/update", not_manager);
  router.add("POST", "/swarm/unlock", not_manager);
  router.add("POST", "/swarm/leave", [](Request, Reply reply) {
    reply(error_response(503, "This node is not part of a swarm"));
  });
  for (const char* op : {"init", "join"}) {
    router.add("POST", std::string("/swarm/") + op, [](Request, Reply reply) {
      reply(error_response(503, "swarm mode is not supported by this engine (dind)"));
    });
  }
}

}  // namespace dind::api
