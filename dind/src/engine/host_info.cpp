#include "dind/engine/host_info.hpp"

#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <random>
#include <sstream>

#include "dind/base/fs.hpp"

namespace dind::engine {
namespace fs = std::filesystem;

std::map<std::string, std::string> parse_os_release(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      continue;
    }
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[line.substr(0, eq)] = value;
  }
  return out;
}

std::map<std::string, bool> parse_proc_cgroups(std::string_view text) {
  std::map<std::string, bool> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream f(line);
    std::string name;
    int hierarchy = 0, cgroups = 0, enabled = 0;
    if (f >> name >> hierarchy >> cgroups >> enabled) {
      out[name] = enabled == 1;
    }
  }
  return out;
}

namespace {

bool file_is_one(const char* path) {
  auto text = base::read_file(path, 64);
  return text && !text->empty() && (*text)[0] == '1';
}

std::string fs_type_name(const fs::path& path) {
  struct statfs st {};
  fs::path p = path;
  while (::statfs(p.c_str(), &st) != 0) {  // the data root may not exist yet
    if (!p.has_parent_path() || p == p.parent_path()) {
      return "unknown";
    }
    p = p.parent_path();
  }
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "extfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794c7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "0x%lx", static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

}  // namespace

HostInfo gather_host_info(const fs::path& data_root) {
  HostInfo h;
  utsname u{};
  if (::uname(&u) == 0) {
    h.kernel_version = u.release;
    h.architecture = u.machine;
  }
  auto os = base::read_file("/etc/os-release", 64 * 1024);
  if (!os) {
    os = base::read_file("/usr/lib/os-release", 64 * 1024);
  }
  if (os) {
    auto kv = parse_os_release(*os);
    h.operating_system = kv.count("PRETTY_NAME") ? kv["PRETTY_NAME"] : kv["NAME"];
    h.os_version = kv["VERSION_ID"];
  }
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0) {
    h.hostname = name;
  }
  h.ncpu = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  struct sysinfo si {};
  if (::sysinfo(&si) == 0) {
    h.mem_total = static_cast<int64_t>(si.totalram) * si.mem_unit;
  }
  struct statfs cg {};
  const bool v2 = ::statfs("/sys/fs/cgroup", &cg) == 0 &&
                  static_cast<unsigned long>(cg.f_type) == 0x63677270;  // CGROUP2_SUPER_MAGIC
  h.cgroup_version = v2 ? "2" : "1";
  if (auto text = base::read_file("/proc/cgroups", 64 * 1024)) {
    auto c = parse_proc_cgroups(*text);
    h.memory_controller = c["memory"];
    h.cpu_controller = c["cpu"];
    h.cpuset_controller = c["cpuset"];
    h.pids_controller = c["pids"];
  }
  h.swap_limit = v2 ? fs::exists("/sys/fs/cgroup/memory.swap.max") || h.memory_controller
                    : fs::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  h.ipv4_forwarding = file_is_one("/proc/sys/net/ipv4/ip_forward");
  h.bridge_nf_iptables = file_is_one("/proc/sys/net/bridge/bridge-nf-call-iptables");
  h.bridge_nf_ip6tables = file_is_one("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
  h.backing_filesystem = fs_type_name(data_root);
  return h;
}

base::Result<std::string> load_or_create_engine_id(const fs::path& data_root) {
  const fs::path file = data_root / "engine-id";
  if (auto text = base::read_file(file, 256)) {
    std::string id = *text;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
      id.pop_back();
    }
    if (id.size() == 36) {
      return id;
    }
    return base::make_error(base::ErrorKind::kDataLoss,
                            file.string() + " is corrupt; remove it to get a new engine ID");
  } else if (text.error().sys_errno != ENOENT) {
    return std::move(text).error();
  }
  std::random_device rd;
  unsigned char b[16];
  for (auto& x : b) {
    x = static_cast<unsigned char>(rd());
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char id[37];
  std::snprintf(id, sizeof(id),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  base::FileTransaction tx;
  DIND_TRY(tx.ensure_dir(data_root, 0711));
  DIND_TRY(tx.stage(file, std::string(id) + "\n", 0600));
  DIND_TRY(tx.commit());
  return std::string(id);
}

}  // namespace dind::engine
