#include "dind/api/build.hpp"
#include "dind/api/route_util.hpp"
#include "dind/model/container_json.hpp"
#include "dind/build/commit.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "dind/api/errors.hpp"
#include "dind/api/progress.hpp"
#include "dind/base/fs.hpp"
#include "dind/base/log.hpp"
#include "dind/base/text.hpp"
#include "dind/image/reference.hpp"

namespace dind::api {
namespace fs = std::filesystem;
using base::ErrorKind;
using base::make_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kNoBuildKit =
    "this daemon has no BuildKit: build with the classic builder (DOCKER_BUILDKIT=0 docker "
    "build ..., or a docker CLI without the buildx plugin)";

Result<json> json_param(const Request& req, const char* name) {
  auto v = req.query_value(name);
  if (!v || v->empty()) {
    return json();
  }
  auto j = json::parse(*v, nullptr, false);
  if (j.is_discarded()) {
    return make_error(ErrorKind::kInvalidArgument, std::string("invalid JSON in ") + name);
  }
  return j;
}

Result<int64_t> int_param(const Request& req, const char* name) {
  auto v = req.query_value(name);
  if (!v || v->empty()) {
    return int64_t{0};
  }
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (*end != '\0' || errno != 0) {
    return make_error(ErrorKind::kInvalidArgument,
                      std::string("invalid value for ") + name + ": " + *v);
  }
  return static_cast<int64_t>(n);
}

// Reads the body's first bytes, then the rest; tells a tar (or compressed
// stream) from a bare Dockerfile.
class PeekReader {
 public:
  explicit PeekReader(std::function<ssize_t(void*, size_t)> inner) : inner_(std::move(inner)) {}

  Result<bool> is_archive() {
    head_.resize(512);
    size_t got = 0;
    while (got < head_.size()) {
      const ssize_t n = inner_(head_.data() + got, head_.size() - got);
      if (n < 0) {
        return make_error(ErrorKind::kInvalidArgument, "reading the build context failed");
      }
      if (n == 0) {
        break;
      }
      got += static_cast<size_t>(n);
    }
    head_.resize(got);
    const auto* u = reinterpret_cast<const unsigned char*>(head_.data());
    if (got >= 2 && u[0] == 0x1f && u[1] == 0x8b) {
      return true;
    }
    if (got >= 3 && std::memcmp(u, "BZh", 3) == 0) {
      return true;
    }
    if (got >= 6 && std::memcmp(u, "\xfd" "7zXZ\0", 6) == 0) {
      return true;
    }
    if (got >= 4 && std::memcmp(u, "\x28\xb5\x2f\xfd", 4) == 0) {
      return true;
    }
    if (got == 512 && std::memcmp(u + 257, "ustar", 5) == 0) {
      plain_tar_ = true;
      return true;
    }
    // An empty body, or a tar without the ustar magic (all zeros): a tar.
    return got == 0 || std::all_of(head_.begin(), head_.end(), [](char c) { return c == 0; });
  }

  // The docker CLI's `-f -` rewrites the context tar and ends it right after
  // the last entry's data, without padding or end-of-archive blocks (Go's
  // tar reader, dockerd's, takes that as the end). For a plain tar, zeros
  // after the body's end complete it the same way.
  void pad_end() { pad_ = 1536; }

  ssize_t read(void* buf, size_t len) {
    if (pos_ < head_.size()) {
      const size_t n = std::min(len, head_.size() - pos_);
      std::memcpy(buf, head_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    const ssize_t n = inner_(buf, len);
    if (n == 0 && pad_ > 0) {
      const size_t z = std::min(len, pad_);
      std::memset(buf, 0, z);
      pad_ -= z;
      return static_cast<ssize_t>(z);
    }
    return n;
  }

 private:
  std::function<ssize_t(void*, size_t)> inner_;
  std::string head_;
  size_t pos_ = 0;
  size_t pad_ = 0;
  bool plain_tar_ = false;

 public:
  bool plain_tar() const { return plain_tar_; }
};

// The context directory of one build, removed when the build ends.
struct ScratchDir {
  fs::path path;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) {
      fs::remove_all(path, ec);
    }
  }
};

}  // namespace

Result<build::BuildOptions> parse_build_options(const Request& req) {
  build::BuildOptions o;
  o.dockerfile = req.query_value("dockerfile").value_or("");
  for (auto [lo, hi] = req.query.equal_range("t"); lo != hi; ++lo) {
    if (lo->second.empty()) {
      continue;
    }
    auto ref = image::parse_reference(lo->second);
    if (!ref) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid reference format: " + ref.error().message);
    }
    if (ref->digest) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid tag " + lo->second + ": a build cannot tag a digest");
    }
    o.tags.push_back(lo->second);
  }
  DIND_ASSIGN_OR_RETURN(const json args, json_param(req, "buildargs"));
  if (args.is_object()) {
    for (const auto& [k, v] : args.items()) {
      if (v.is_string()) {
        o.build_args[k] = v.get<std::string>();
      } else if (v.is_null()) {
        o.build_args[k] = std::nullopt;
      } else {
        return make_error(ErrorKind::kInvalidArgument, "buildargs: " + k + " must be a string");
      }
    }
  } else if (!args.is_null()) {
    return make_error(ErrorKind::kInvalidArgument, "buildargs must be a JSON object");
  }
  DIND_ASSIGN_OR_RETURN(const json labels, json_param(req, "labels"));
  if (labels.is_object()) {
    for (const auto& [k, v] : labels.items()) {
      if (!v.is_string()) {
        return make_error(ErrorKind::kInvalidArgument, "labels: " + k + " must be a string");
      }
      o.labels[k] = v.get<std::string>();
    }
  } else if (!labels.is_null()) {
    return make_error(ErrorKind::kInvalidArgument, "labels must be a JSON object");
  }
  DIND_ASSIGN_OR_RETURN(const json cache_from, json_param(req, "cachefrom"));
  if (cache_from.is_array()) {
    for (const auto& c : cache_from) {
      if (c.is_string()) {
        o.cache_from.push_back(c.get<std::string>());
      }
    }
  }
  o.target = req.query_value("target").value_or("");
  o.no_cache = req.query_bool("nocache").value_or(false);
  o.pull = req.query_bool("pull").value_or(false);
  // dockerd: rm defaults to true when absent (query_bool says false then).
  o.force_remove = req.query_bool("forcerm").value_or(false);
  o.remove = o.force_remove || req.query_value("rm").value_or("").empty() ||
             req.query_bool("rm").value_or(true);
  o.quiet = req.query_bool("q").value_or(false);
  o.network_mode = req.query_value("networkmode").value_or("");
  o.platform = req.query_value("platform").value_or("");
  for (auto [lo, hi] = req.query.equal_range("extrahosts"); lo != hi; ++lo) {
    std::string list = lo->second;
    size_t i = 0;
    while (i <= list.size()) {
      const size_t j = std::min(list.find(',', i), list.size());
      if (j > i) {
        o.extra_hosts.push_back(list.substr(i, j - i));
      }
      i = j + 1;
    }
  }
  DIND_ASSIGN_OR_RETURN(o.shm_size, int_param(req, "shmsize"));
  DIND_ASSIGN_OR_RETURN(o.memory, int_param(req, "memory"));
  DIND_ASSIGN_OR_RETURN(o.memory_swap, int_param(req, "memswap"));
  DIND_ASSIGN_OR_RETURN(o.cpu_shares, int_param(req, "cpushares"));
  DIND_ASSIGN_OR_RETURN(o.cpu_quota, int_param(req, "cpuquota"));
  DIND_ASSIGN_OR_RETURN(o.cpu_period, int_param(req, "cpuperiod"));
  o.cpuset_cpus = req.query_value("cpusetcpus").value_or("");
  o.cpuset_mems = req.query_value("cpusetmems").value_or("");
  return o;
}

void add_build_routes(Router& router, BuildContext ctx) {
  const RouteOptions upload = RouteOptions::upload(true);
  router.add(
      "POST", "/build",
      [ctx](Request req, Reply reply) {
        if (req.query_value("version").value_or("1") == "2") {
          reply(error_response(400, kNoBuildKit));
          return;
        }
        if (auto remote = req.query_value("remote"); remote && !remote->empty()) {
          reply(error_response(400, "building from a remote context (" + *remote +
                                        ") is not supported: send the context as a tar"));
          return;
        }
        auto options = parse_build_options(req);
        if (!options) {
          reply(error_response(options.error()));
          return;
        }
        auto stream = std::make_shared<ProgressStream>(std::move(reply));
        auto body = req.body_file;
        auto progress = req.body_progress;
        ctx.threads->post([ctx, body, progress, stream, o = std::move(*options)]() mutable {
          ScratchDir dir;
          dir.path = ctx.scratch / ("ctx-" + base::random_hex(16));
          std::error_code ec;
          fs::create_directories(dir.path, ec);
          if (ec) {
            stream->fail(make_error(ErrorKind::kInternal,
                                    "cannot create the context directory: " + ec.message()));
            return;
          }
          std::function<ssize_t(void*, size_t)> inner;
          if (body && progress) {
            inner = progress_reader(body, progress);
          } else if (body) {
            inner = [fd = body](void* buf, size_t len) { return ::read(fd->get(), buf, len); };
          } else {
            inner = [](void*, size_t) -> ssize_t { return 0; };
          }
          PeekReader reader(inner);
          auto archive = reader.is_archive();
          if (!archive) {
            stream->fail(archive.error());
            return;
          }
          auto read = [&reader](void* buf, size_t len) { return reader.read(buf, len); };
          base::Status st;
          if (*archive) {
            if (reader.plain_tar()) {
              reader.pad_end();
            }
            st = build::extract_context(read, dir.path);
          } else {
            // A bare Dockerfile as the body (docker build - < Dockerfile).
            std::string text;
            char buf[65536];
            ssize_t n;
            while ((n = read(buf, sizeof buf)) > 0 && text.size() < (16u << 20)) {
              text.append(buf, static_cast<size_t>(n));
            }
            st = base::write_file_atomic(dir.path / "Dockerfile", text, 0600);
            o.dockerfile = "Dockerfile";
          }
          if (!st) {
            stream->fail(st.error());
            return;
          }
          int code = 0;
          auto out = [stream](const std::string& line) { return stream->emit(line); };
          auto built = ctx.builder->build(dir.path, o, out, code);
          if (!built) {
            DIND_LOG(kInfo) << "build: " << built.error().message;
            stream->fail(built.error(), code);
            return;
          }
          stream->finish();
        });
      },
      upload);
  // The build cache here is the builder's images: prune drops those nothing
  // holds (images still under a tag keep their steps cached).
  router.add("POST", "/build/prune", [ctx](Request, Reply reply) {
    ctx.threads->post([ctx, reply] {
      uint64_t reclaimed = 0;
      Result<image::ImageStore::Removal> removed = image::ImageStore::Removal{};
      {
        std::lock_guard lock(*ctx.mutations);
        removed = ctx.images->prune_built(ctx.in_use, reclaimed);
      }
      if (!removed) {
        reply(error_response(removed.error()));
        return;
      }
      json body = {{"CachesDeleted", removed->deleted.empty() ? json(nullptr) : json(removed->deleted)},
                   {"SpaceReclaimed", reclaimed}};
      reply(Response::json(200, body.dump() + "\n"));
    });
  });
  // docker commit: the container's changes as an image (the builder's layer diff).
  router.add("POST", "/commit", [ctx](Request req, Reply reply) {
    build::CommitOptions o;
    o.container = req.query_value("container").value_or("");
    o.repo = req.query_value("repo").value_or("");
    o.tag = req.query_value("tag").value_or("");
    o.comment = req.query_value("comment").value_or("");
    o.author = req.query_value("author").value_or("");
    o.pause = req.query_value("pause").has_value() ? req.query_bool("pause").value_or(true) : true;
    auto [lo, hi] = req.query.equal_range("changes");
    for (auto it = lo; it != hi; ++it) {
      // One parameter per change; a value may hold several lines.
      size_t start = 0;
      const std::string& v = it->second;
      while (start <= v.size()) {
        const size_t nl = v.find('\n', start);
        o.changes.push_back(v.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) {
          break;
        }
        start = nl + 1;
      }
    }
    if (!req.body.empty()) {
      auto body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !(body.is_object() || body.is_null())) {
        reply(error_response(400, "invalid JSON in the request body"));
        return;
      }
      if (body.is_object()) {
        auto config = model::decode_config(body);
        if (!config) {
          reply(error_response(config.error()));
          return;
        }
        o.config = std::move(*config);
      }
    }
    if (o.container.empty()) {
      reply(error_response(404, "No such container: "));
      return;
    }
    ctx.threads->post([ctx, o = std::move(o), reply] {
      auto id = build::commit_container(ctx.builder->deps(), o);
      if (id && ctx.builder->deps().containers != nullptr) {
        ctx.builder->deps().containers->publish(o.container, "commit",
                                                {{"comment", o.comment}, {"imageID", *id}});
      }
      reply(id ? Response::json(201, dump({{"Id", *id}})) : error_response(id.error()));
    });
  });
  router.add("POST", "/session", [](Request, Reply reply) {
    reply(error_response(400, kNoBuildKit));
  });
  router.add("POST", "/grpc", [](Request, Reply reply) { reply(error_response(400, kNoBuildKit)); });
}

}  // namespace dind::api
