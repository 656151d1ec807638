// docker stats: GET /containers/{id}/stats (stream, one-shot) from the
// container's cgroups and network namespace (engine/stats.hpp), a sample a
// second as dockerd's collector takes them.

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "dind/api/containers.hpp"
#include "dind/api/errors.hpp"
#include "dind/api/route_util.hpp"
#include "dind/base/time.hpp"
#include "dind/engine/stats.hpp"

namespace dind::api {
using nlohmann::json;

namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";  // Go's zero time
constexpr auto kInterval = std::chrono::seconds(1);

engine::StatsSource source_of(const engine::Containers::StatsTarget& t) {
  engine::StatsSource s;
  s.cgroup = t.cgroup;
  s.pid = t.pid;
  s.read = engine::read_stats_file;
  s.clock_ticks = ::sysconf(_SC_CLK_TCK) > 0 ? ::sysconf(_SC_CLK_TCK) : 100;
  s.online_cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  s.host_memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return s;
}

std::string now_text() {
  return base::rfc3339_nano(std::chrono::system_clock::now());
}

// A stream's state between samples.
struct StatsStream {
  ContainerContext ctx;
  base::Scheduler* scheduler = nullptr;
  std::string id;
  std::shared_ptr<BodyWriter> writer;
  json previous;
  std::string preread = kZeroTime;
  std::atomic<bool> closed{false};

  // Takes a sample (on the query pool), writes it, and comes back in a second.
  static void tick(const std::shared_ptr<StatsStream>& self) {
    self->ctx.queries->post([self] {
      if (self->closed) {
        return;
      }
      auto t = self->ctx.containers->stats_target(self->id);
      if (!t || !t->running) {
        self->writer->finish();  // removed or stopped: the stream ends
        return;
      }
      const json sample = engine::sample_stats(source_of(*t));
      const std::string read = now_text();
      self->writer->write(dump(engine::stats_message(sample, read, self->previous, self->preread, t->name, t->id)));
      self->previous = sample;
      self->preread = read;
      self->scheduler->after(kInterval, [self] { tick(self); });
    });
  }
};

void stats_route(const ContainerContext& ctx, base::Scheduler* scheduler, const Request& req, Reply reply) {
  // Absent means true here (query_bool reads an absent key as false).
  const bool stream = !req.query_value("stream") || req.query_bool("stream").value_or(true);
  const bool one_shot = req.query_bool("one-shot").value_or(false);
  if (one_shot && stream) {
    reply(error_response(400, "cannot have stream=true and one-shot=true"));
    return;
  }
  const std::string id = req.params.at("id");
  ctx.queries->post([ctx, scheduler, id, stream, one_shot, reply] {
    auto t = ctx.containers->stats_target(id);
    if (!t) {
      reply(error_response(t.error()));
      return;
    }
    if (!t->running) {
      // dockerd's answer for a container that does not run: zero times, empty sections.
      reply(Response::json(200, dump(engine::stats_message(nullptr, kZeroTime, nullptr, kZeroTime, t->name, t->id))));
      return;
    }
    if (!stream) {
      const json first = engine::sample_stats(source_of(*t));
      const std::string first_read = now_text();
      if (one_shot) {
        reply(Response::json(200, dump(engine::stats_message(first, first_read, nullptr, kZeroTime, t->name, t->id))));
        return;
      }
      // Without one-shot, dockerd answers with two samples a second apart,
      // so that the CPU percentage has a base.
      scheduler->after(kInterval, [ctx, id, first, first_read, reply] {
        ctx.queries->post([ctx, id, first, first_read, reply] {
          auto again = ctx.containers->stats_target(id);
          if (!again || !again->running) {
            reply(error_response(409, "Container " + id + " is not running"));
            return;
          }
          const json second = engine::sample_stats(source_of(*again));
          reply(Response::json(200, dump(engine::stats_message(second, now_text(), first, first_read,
                                                               again->name, again->id))));
        });
      });
      return;
    }
    Response r;
    r.headers["Content-Type"] = "application/json";
    r.stream = [ctx, scheduler, id](std::shared_ptr<BodyWriter> w) {
      auto s = std::make_shared<StatsStream>();
      s->ctx = ctx;
      s->scheduler = scheduler;
      s->id = id;
      s->writer = w;
      w->on_close([weak = std::weak_ptr<StatsStream>(s)] {
        if (auto self = weak.lock()) {
          self->closed = true;
        }
      });
      StatsStream::tick(s);
    };
    reply(std::move(r));
  });
}

}  // namespace

void add_stats_route(Router& router, ContainerContext ctx, base::Scheduler* scheduler) {
  router.add("GET", "/containers/{id}/stats", [ctx, scheduler](Request req, Reply reply) {
    stats_route(ctx, scheduler, req, std::move(reply));
  });
}

}  // namespace dind::api
