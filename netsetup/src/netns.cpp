#include "netsetup/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace netsetup {
using dind::base::Result;
using dind::base::Status;
using dind::base::sys_error;

Result<Netns> Netns::open(const std::filesystem::path& path) {
  Netns ns;
  ns.fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.fd_.valid()) {
    return sys_error(errno, "open network namespace " + path.string());
  }
  ns.description_ = path.string();
  return ns;
}

Result<Netns> Netns::of_pid(pid_t pid) {
  return open("/proc/" + std::to_string(pid) + "/ns/net");
}

Status run_in_netns(const Netns& ns, const std::function<Status()>& fn) {
  Status result;
  // A fresh thread: after setns() it is never reused for anything else, so no
  // later work can run in the wrong namespace by accident.
  std::thread worker([&] {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
      result = sys_error(errno, "enter network namespace " + ns.description());
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

Status write_sysctl(const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/" + key;
  dind::base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return sys_error(errno, "open " + path);
  }
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return sys_error(errno, "write " + path);
  }
  return {};
}

Result<std::string> read_sysctl(const std::string& key) {
  auto text = dind::base::read_file("/proc/sys/" + key, 4096);
  if (!text) {
    return std::move(text).error();
  }
  while (!text->empty() && text->back() == '\n') {
    text->pop_back();
  }
  return text;
}

}  // namespace netsetup
