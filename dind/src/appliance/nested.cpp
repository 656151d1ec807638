#include "dind/appliance/nested.hpp"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "dind/base/fs.hpp"

namespace dind::appliance {

namespace {

bool is_mountpoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == path) {
      return true;
    }
  }
  return false;
}

bool write_text(const std::string& path, const std::string& text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

}  // namespace

NestedPlan plan_nested(const NestedFacts& f) {
  NestedPlan p;
  p.evacuate_cgroup2 = f.cgroup2_root;
  p.mount_securityfs = f.securityfs_dir && !f.securityfs_mounted;
  bool engine_in_tmp = false;
  for (const auto& path : f.engine_paths) {
    engine_in_tmp = engine_in_tmp || path == "/tmp" || path.rfind("/tmp/", 0) == 0;
  }
  p.mount_tmp = !f.tmp_is_mountpoint && !engine_in_tmp;
  return p;
}

NestedFacts gather_nested_facts(std::vector<std::string> engine_paths) {
  NestedFacts f;
  struct statfs st {};
  f.cgroup2_root = ::statfs("/sys/fs/cgroup", &st) == 0 &&
                   static_cast<unsigned long>(st.f_type) == CGROUP2_SUPER_MAGIC;
  struct stat sb {};
  f.securityfs_dir = ::stat("/sys/kernel/security", &sb) == 0 && S_ISDIR(sb.st_mode);
  f.securityfs_mounted = is_mountpoint("/sys/kernel/security");
  f.tmp_is_mountpoint = is_mountpoint("/tmp");
  f.engine_paths = std::move(engine_paths);
  return f;
}

void apply_nested(const NestedPlan& p, std::vector<std::string>& log) {
  if (p.evacuate_cgroup2) {
    // New processes may appear meanwhile: a few rounds, as hack/dind does.
    ::mkdir("/sys/fs/cgroup/init", 0755);
    bool moved_all = false;
    for (int round = 0; round < 10 && !moved_all; ++round) {
      const std::string procs = base::read_file("/sys/fs/cgroup/cgroup.procs").value_or("");
      std::istringstream in(procs);
      std::string pid;
      while (in >> pid) {
        (void)write_text("/sys/fs/cgroup/init/cgroup.procs", pid);
      }
      std::string controllers = base::read_file("/sys/fs/cgroup/cgroup.controllers").value_or("");
      std::istringstream cs(controllers);
      std::string enable;
      for (std::string c; cs >> c;) {
        enable += (enable.empty() ? "+" : " +") + c;
      }
      moved_all = enable.empty() || write_text("/sys/fs/cgroup/cgroup.subtree_control", enable);
    }
    log.push_back(moved_all ? "cgroup v2: processes moved to /init, controllers enabled for children"
                            : std::string("cgroup v2: could not enable the controllers: ") +
                                  std::strerror(errno));
  }
  if (p.mount_securityfs) {
    log.push_back(::mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr) == 0
                      ? "mounted securityfs"
                      : std::string("securityfs: ") + std::strerror(errno));
  }
  if (p.make_root_shared && ::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0) {
    log.push_back(std::string("making / shared: ") + std::strerror(errno));
  }
  if (p.mount_tmp) {
    log.push_back(::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0
                      ? "mounted a tmpfs on /tmp"
                      : std::string("tmpfs on /tmp: ") + std::strerror(errno));
  }
}

}  // namespace dind::appliance
