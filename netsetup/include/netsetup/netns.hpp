#pragma once
// Network namespaces: open one by path or pid, and run work inside it on a
// dedicated thread (a netlink socket and /proc/sys/net belong to the netns of
// the thread that opened them; setns() on a worker thread leaves every other
// thread of the process where it was).

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>

#include "dind/base/fs.hpp"
#include "dind/base/result.hpp"

namespace netsetup {

class Netns {
 public:
  // "/run/netns/x", "/proc/<pid>/ns/net", or a bind-mounted netns file.
  static dind::base::Result<Netns> open(const std::filesystem::path& path);
  static dind::base::Result<Netns> of_pid(pid_t pid);
  int fd() const { return fd_.get(); }
  const std::string& description() const { return description_; }

 private:
  dind::base::UniqueFd fd_;
  std::string description_;
};

// Runs fn on a new thread that has entered ns; blocks until it returns.
// Errors from setns() come back as the Status.
dind::base::Status run_in_netns(const Netns& ns, const std::function<dind::base::Status()>& fn);

// Writes a sysctl (e.g. "net/ipv4/ip_forward") in the calling thread's netns.
dind::base::Status write_sysctl(const std::string& key, const std::string& value);
dind::base::Result<std::string> read_sysctl(const std::string& key);

}  // namespace netsetup
