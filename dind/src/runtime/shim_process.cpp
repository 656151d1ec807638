#include "dind/runtime/shim_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>

#include "dind/runtime/shim_protocol.hpp"

extern char** environ;

namespace dind::runtime {

namespace proto = shim_protocol;
using base::ErrorKind;
using base::make_error;

namespace {

// One packet of the sync channel within timeout_ms.
base::Result<std::string> read_packet(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (r == 0) {
    return make_error(ErrorKind::kInternal, "the shim did not answer in time");
  }
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0) {
    return make_error(ErrorKind::kInternal, "the shim exited unexpectedly");
  }
  return std::string(buf, static_cast<size_t>(n));
}

bool send_order(int fd, proto::Order o) {
  const std::string m = proto::encode(o);
  return ::send(fd, m.data(), m.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(m.size());
}

}  // namespace

base::Result<ShimProcess> ShimProcess::create(const Spawn& spawn, int timeout_ms) {
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return base::sys_error(errno, "socketpair");
  }
  ShimProcess shim;
  shim.sync_.reset(sp[0]);
  base::UniqueFd theirs(sp[1]);
  std::vector<std::string> args = spawn.argv0;
  for (auto& a : shim_args(spawn.options)) {
    args.push_back(std::move(a));
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
  // Nothing else: a listening API socket a shim inherited would outlive a
  // killed daemon and make its successor think it still runs.
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t first = 0;
  const int rc = ::posix_spawn(&first, spawn.exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  theirs.reset();
  if (rc != 0) {
    shim.sync_.reset();
    return base::sys_error(rc, "starting the shim " + spawn.exe);
  }
  // The shim forks once more and this child exits: reap it.
  int wst = 0;
  while (::waitpid(first, &wst, 0) < 0 && errno == EINTR) {
  }
  auto packet = read_packet(shim.sync_.get(), timeout_ms);
  if (!packet) {
    shim.sync_.reset();
    return std::move(packet).error();
  }
  auto report = proto::decode_report(*packet);
  if (!report) {
    return std::move(report).error();  // shim's destructor aborts
  }
  if (const auto* f = std::get_if<proto::Failed>(&*report)) {
    shim.sync_.reset();  // nothing was created
    return make_error(ErrorKind::kInternal,
                      "failed to create task for container: OCI runtime create failed: " + f->reason + ": unknown");
  }
  const auto* created = std::get_if<proto::Created>(&*report);
  if (created == nullptr) {
    return make_error(ErrorKind::kInternal, "the shim reported a start it was not asked for");
  }
  shim.init_pid_ = created->init_pid;
  shim.shim_pid_ = created->shim_pid;
  return shim;
}

base::Status ShimProcess::start(int timeout_ms) {
  if (!sync_.valid() || !send_order(sync_.get(), proto::Order::kStart)) {
    return make_error(ErrorKind::kInternal, "the shim went away before the start");
  }
  auto packet = read_packet(sync_.get(), timeout_ms);
  auto report = packet ? proto::decode_report(*packet) : base::Result<proto::Report>(packet.error());
  if (!report || !std::holds_alternative<proto::Started>(*report)) {
    const std::string why = !report ? report.error().message
                            : std::holds_alternative<proto::Failed>(*report)
                                ? std::get<proto::Failed>(*report).reason
                                : std::string("unexpected report");
    sync_.reset();  // the shim already deleted the container
    return make_error(ErrorKind::kInternal,
                      "failed to start container: OCI runtime start failed: " + why + ": unknown");
  }
  started_ = true;
  return {};
}

base::UniqueFd ShimProcess::release() {
  return std::move(sync_);
}

void ShimProcess::abort() {
  if (sync_.valid() && !started_) {
    (void)send_order(sync_.get(), proto::Order::kAbort);
    (void)read_packet(sync_.get(), 5000);  // the shim deletes the container, then exits
  }
  sync_.reset();
}

ShimProcess::~ShimProcess() {
  abort();
}

}  // namespace dind::runtime
