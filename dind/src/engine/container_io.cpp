// Containers: attach and logs.
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
#include "dind/runtime/shim_protocol.hpp"
#include "dind/runtime/shim_os.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;

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
  const std::string hello = runtime::shim_protocol::encode(runtime::shim_protocol::Attach{flags});
  if (::send(fd.get(), hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    return base::sys_error(errno, "attach");
  }
  pollfd p{fd.get(), POLLIN, 0};
  char k = 0;
  if (::poll(&p, 1, 5000) != 1 || ::recv(fd.get(), &k, 1, 0) != 1 || k != 'K') {
    return make_error(ErrorKind::kInternal, "the shim did not accept the attach");
  }
  // dockerd watches for the detach keys only with a TTY.
  splice(scheduler_->adopt(std::move(fd)), client, o.stdin, {},
         c->config.tty ? std::optional<std::string>(o.detach_keys) : std::nullopt);
  return {};
}

namespace {

struct LogRead {
  std::string frames;
  uint64_t offset = 0;
};

// Reads complete lines of the open log from `offset`, filtered, as frames
// (or raw text for a TTY container).
LogRead read_log(std::istream& in, uint64_t offset, const Containers::LogOptions& o, bool tty,
                 std::optional<size_t> tail) {
  LogRead out;
  out.offset = offset;
  in.clear();  // a previous read ended at the end of the file
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) {
    return out;
  }
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

LogRead read_log(const fs::path& path, uint64_t offset, const Containers::LogOptions& o, bool tty,
                 std::optional<size_t> tail) {
  std::ifstream in(path, std::ios::binary);
  return in ? read_log(in, offset, o, tty, tail) : LogRead{{}, offset};
}

}  // namespace

base::Status Containers::attach(const std::string& ref, const AttachOptions& o,
                                std::shared_ptr<base::RawStream> client) {
  std::shared_ptr<Container> c;
  std::string replay;
  {
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(c, find_locked(ref));
    emit(*c, "attach");
  }
  if (o.logs && c->host_config.log_config.type != "none") {
    LogOptions lo;
    lo.stdout = o.stdout;
    lo.stderr = o.stderr;
    replay = read_log(dir(c->id) / (c->id + "-json.log"), 0, lo, c->config.tty,
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
  EngineLock lock(*this);
  if (c->status == RunStatus::kRunning && !c->starting) {
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
    EngineLock lock(*this);
    DIND_ASSIGN_OR_RETURN(c, find_locked(ref));
  }
  if (c->host_config.log_config.type == "none") {
    return make_error(ErrorKind::kUnimplemented, "configured logging driver does not support reading");
  }
  const fs::path path = dir(c->id) / (c->id + "-json.log");
  const bool tty = c->config.tty;
  // Followed, the log is read through one open file: a client may remove the
  // container before it reads what the container wrote last (the python
  // SDK's run() does), and the open file keeps those lines readable.
  auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
  auto first = file->is_open() ? read_log(*file, 0, o, tty, o.tail) : LogRead{};
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
                    std::shared_ptr<std::ifstream> file, LogOptions o, bool tty, uint64_t offset,
                    std::shared_ptr<std::atomic<bool>> closed,
                    std::function<void(std::string, std::function<void(bool)>)> write,
                    std::function<void()> finish) {
      if (closed->load()) {
        return;
      }
      bool running;
      {
        EngineLock lock(*s);
        running = (c->status == RunStatus::kRunning || c->starting) && s->by_id_.count(c->id) != 0;
      }
      if (!file->is_open()) {  // not written yet when the client came
        file->open(path, std::ios::binary);
      }
      auto r = file->is_open() ? read_log(*file, offset, o, tty, std::nullopt)
                               : LogRead{{}, offset};
      if (!r.frames.empty()) {
        write(std::move(r.frames), {});
      }
      if (!running) {
        finish();
        return;
      }
      s->scheduler_->after(s->paths_.log_poll,
                           [=] { run(s, c, path, file, o, tty, r.offset, closed, write, finish); });
    }
  };
  if (!first.frames.empty()) {
    write(std::move(first.frames), {});
  }
  Tick::run(self, c, path, file, o, tty, first.offset, closed, write, finish);
  return {};
}

}  // namespace dind::engine
