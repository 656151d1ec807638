#include "container_util.hpp"

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
#include "top.hpp"
#include "dind/runtime/resources.hpp"
#include "dind/runtime/seccomp_bpf.hpp"
#include "dind/runtime/security.hpp"
#include "dind/runtime/json_log.hpp"
#include "dind/runtime/shim.hpp"
#include "dind/runtime/shim_os.hpp"

namespace dind::engine {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;
namespace fs = std::filesystem;


json mount_spec_json(const MountSpec& m) {
  return {{"type", static_cast<int>(m.type)}, {"source", m.source},
          {"destination", m.destination},     {"ro", m.read_only},
          {"create", m.create_source},        {"tmpfs", m.tmpfs_options},
          {"mode", m.mode},                   {"propagation", m.propagation}};
}

MountSpec mount_spec_from(const json& j) {
  MountSpec m;
  m.type = static_cast<MountSpec::Type>(j.value("type", 0));
  m.source = j.value("source", "");
  m.destination = j.value("destination", "");
  m.read_only = j.value("ro", false);
  m.create_source = j.value("create", false);
  m.tmpfs_options = j.value("tmpfs", "");
  m.mode = j.value("mode", "");
  m.propagation = j.value("propagation", "");
  return m;
}

// A file inside the container's root, read without following its symlinks
// out of the root.
std::string read_in_root(const std::string& root, const std::string& path) {
  base::UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return "";
  }
  base::UniqueFd fd(base::open_in_root(dir.get(), path, O_RDONLY));
  return fd.valid() ? base::read_up_to(fd.get(), 4u << 20) : "";
}

// Rewrites a file in place (it is bind-mounted into the container: a rename
// would leave the container with the old inode).
base::Status write_in_place(const fs::path& path, const std::string& text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return base::sys_error(errno, "open " + path.string());
  }
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return base::sys_error(errno, "write " + path.string());
  }
  return {};
}

std::string hosts_file(const std::string& hostname, const std::vector<std::string>& ips,
                       const std::vector<std::string>& extra) {
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  for (const auto& s : extra) {
    const size_t colon = s.find(':');
    if (colon != std::string::npos) {
      out += s.substr(colon + 1) + "\t" + s.substr(0, colon) + "\n";
    }
  }
  for (const auto& ip : ips) {
    out += ip + "\t" + hostname + "\n";
  }
  return out;
}

int stop_timeout(const model::Config& config) {
  return config.stop_timeout ? static_cast<int>(*config.stop_timeout) : 10;
}


std::string resolver_network(
    const std::string& network_mode, const model::EndpointsConfig& networking,
    const std::function<std::optional<std::string>(const std::string&)>& name_of) {
  auto user_network = [&](const std::string& ref) -> std::optional<std::string> {
    if (ref == "bridge" || ref == "default" || ref == "host" || ref == "none" ||
        ref.rfind("container:", 0) == 0) {
      return std::nullopt;
    }
    auto name = name_of(ref);
    return name && *name != "bridge" ? name : std::nullopt;
  };
  if (auto own = user_network(network_mode)) {
    return *own;
  }
  for (const auto& [ref, cfg] : networking) {
    (void)cfg;
    if (auto name = user_network(ref)) {
      return *name;
    }
  }
  return "bridge";
}

}  // namespace dind::engine
