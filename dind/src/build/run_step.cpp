// RUN steps: the command in a container of the engine (the same runtime,
// network and limits as `docker run`), its output streamed to the client,
// the container's upper directory committed as the step's layer.

#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "build_internal.hpp"
#include "dind/base/log.hpp"
#include "dind/base/stdcopy.hpp"
#include "dind/base/stream.hpp"

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;
using base::Status;

namespace {

// The container's output as the attach stream delivers it (stdcopy frames):
// each payload becomes a "stream" line. No stdin (reads end at once).
class StepOutput : public base::RawStream {
 public:
  explicit StepOutput(Build* build) : build_(build) {}

  void read(std::function<void(std::string_view, bool)> cb) override { cb({}, true); }

  void write(std::string data, std::function<void(bool)> done) override {
    std::vector<base::StdcopyDecoder::Frame> frames;
    bool ok = decoder_.feed(data, frames);
    for (const auto& f : frames) {
      ok = build_->say(f.payload) && ok;
    }
    if (done) {
      done(ok);
    }
  }

  void shutdown_write() override { end(); }
  void close() override { end(); }

  // Waits (up to `limit`) until the output ended.
  bool wait_ended(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return ended_; });
  }

 private:
  void end() {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  Build* build_;
  base::StdcopyDecoder decoder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
};

// "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"" alone on the line.
bool is_bare_heredoc(const std::string& line, const std::vector<Heredoc>& heredocs) {
  if (heredocs.size() != 1) {
    return false;
  }
  std::string t = line;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) {
    t.pop_back();
  }
  const auto& name = heredocs[0].name;
  for (const char* prefix : {"<<", "<<-"}) {
    for (const std::string q : {"", "'", "\""}) {
      if (t == prefix + q + name + q) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

Result<std::string> Build::create_step_container(const model::Config& config) {
  model::CreateRequest request;
  request.config = config;
  request.config.hostname.clear();
  const std::string& mode = options_.network_mode;
  request.host_config.network_mode = mode == "default" ? "" : mode;
  auto& r = request.host_config.resources;
  r.memory = options_.memory;
  r.memory_swap = options_.memory_swap;
  r.cpu_shares = options_.cpu_shares;
  r.cpu_quota = options_.cpu_quota;
  r.cpu_period = options_.cpu_period;
  r.cpuset_cpus = options_.cpuset_cpus;
  r.cpuset_mems = options_.cpuset_mems;
  request.host_config.shm_size = options_.shm_size;
  if (!options_.extra_hosts.empty()) {
    request.host_config.extra_hosts = options_.extra_hosts;
  }
  auto created = deps_.containers->create("", std::move(request), /*build_step=*/true);
  if (!created) {
    return std::move(created).error();
  }
  for (const auto& w : created->warnings) {
    say(" ---> [Warning] " + w + "\n");
  }
  say(" ---> Running in " + short_id(created->id) + "\n");
  return created->id;
}

Result<std::string> Build::nop_container(const StageState& s, const model::Config& probe) {
  if (s.image_id.empty()) {
    return std::string();
  }
  return create_step_container(probe);
}

void Build::remove_step_container(const std::string& id, bool failed) {
  if (!options_.remove && !options_.force_remove) {
    return;
  }
  if (!failed) {
    say("Removing intermediate container " + short_id(id) + "\n");
  }
  if (auto st = deps_.containers->remove(id, true, true); !st) {
    DIND_LOG(kWarn) << "build: remove intermediate container " << short_id(id) << ": "
                       << st.error().message;
  }
}

Status Build::run_step(const Instruction& ins, StageState& s) {
  if (s.image_id.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "RUN on an empty image (FROM scratch): there is no shell or program to run");
  }
  model::Strings cmd;
  if (ins.json) {
    cmd = ins.args;
  } else {
    cmd = shell_of(s.config);
    std::string line = ins.args.empty() ? "" : ins.args[0];
    if (is_bare_heredoc(line, ins.heredocs)) {
      // RUN <<EOF: the heredoc is the script (BuildKit's rule).
      line = ins.heredocs[0].content;
    } else {
      // RUN cmd <<EOF: the shell reads the heredocs itself, as written.
      for (const auto& h : ins.heredocs) {
        line += "\n" + h.content + h.name;
      }
    }
    cmd.push_back(line);
  }
  const auto allowed = s.args.allowed(s.config.env);
  model::Strings save_cmd = cmd;
  if (!allowed.empty()) {
    const auto recorded = s.args.recorded(s.config.env);
    save_cmd = {"|" + std::to_string(recorded.size())};
    save_cmd.insert(save_cmd.end(), recorded.begin(), recorded.end());
    save_cmd.insert(save_cmd.end(), cmd.begin(), cmd.end());
  }
  model::Config probe = s.config;
  probe.cmd = save_cmd;
  probe.entrypoint.reset();
  probe.image = s.image_id;
  if (auto hit = probe_cache(s, probe)) {
    return use_cached(s, *hit);
  }
  model::Config run = s.config;
  run.cmd = cmd;
  run.entrypoint = model::Strings{};
  run.healthcheck = model::HealthConfig{{"NONE"}};
  run.image = s.image_id;
  run.attach_stdout = run.attach_stderr = true;
  for (const auto& kv : allowed) {
    run.env->push_back(kv);
  }
  auto id = create_step_container(run);
  if (!id) {
    return std::move(id).error();
  }
  auto output = std::make_shared<StepOutput>(this);
  engine::Containers::AttachOptions ao;
  ao.stdin = false;
  ao.stdout = ao.stderr = true;
  Status st = deps_.containers->attach(*id, ao, output);
  int code = 0;
  if (st) {
    auto started = deps_.containers->start(*id);
    st = started ? Status{} : Status(std::move(started).error());
  }
  if (st) {
    auto exited = std::make_shared<std::promise<engine::ExitInfo>>();
    auto done = exited->get_future();
    st = deps_.containers->wait(*id, engine::Containers::WaitCondition::kNotRunning,
                                [exited](engine::ExitInfo info) { exited->set_value(info); });
    bool killed = false;
    while (st && done.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
      if (!alive() && !killed) {
        // The client left: the step stops now.
        killed = true;
        deps_.containers->kill(*id, "KILL", [](base::Status) {});
      }
    }
    if (st) {
      const auto info = done.get();
      code = info.code;
      if (!info.error.empty()) {
        st = make_error(ErrorKind::kInternal, info.error);
      }
    }
    // The last output may trail the exit by a moment.
    output->wait_ended(std::chrono::seconds(5));
    if (st && !alive()) {
      st = make_error(ErrorKind::kUnavailable, "the build was cancelled (the client left)");
    }
  }
  if (st && code != 0) {
    failed_code_ = code;
    st = make_error(ErrorKind::kFailedPrecondition, "The command '" + join_words(cmd) +
                                                        "' returned a non-zero code: " +
                                                        std::to_string(code));
  }
  if (st) {
    const auto upper = deps_.layers->root() / "mounts" / *id / "diff";
    st = commit(s, StepCommit{probe, *id, join_words(save_cmd), upper.string()});
  }
  remove_step_container(*id, !st.ok());
  return st;
}

}  // namespace dind::build
