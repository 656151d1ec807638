#include "dind/runtime/security.hpp"

#include "dind/runtime/capabilities.hpp"

#include <algorithm>
#include <set>

namespace dind::runtime {
using base::ErrorKind;
using base::make_error;
using json = nlohmann::json;

namespace {

std::string normalized_cap(std::string c) {
  std::transform(c.begin(), c.end(), c.begin(), [](unsigned char ch) { return std::toupper(ch); });
  return c.rfind("CAP_", 0) == 0 ? c : "CAP_" + c;
}

}  // namespace

bool known_capability(const std::string& name) {
  const std::string c = normalized_cap(name);
  return c == "CAP_ALL" || capability_number(c) >= 0;
}

base::Result<SecurityOptions> parse_security_opts(const model::HostConfig& hc) {
  SecurityOptions o;
  for (const auto& opt : hc.security_opt.value_or(model::Strings{})) {
    const std::string quoted = json(opt).dump();
    if (opt == "no-new-privileges") {
      o.no_new_privileges = true;
      continue;
    }
    if (opt == "disable") {
      continue;  // label=disable: no SELinux here
    }
    size_t sep = opt.find('=');
    if (sep == std::string::npos) {
      sep = opt.find(':');  // the deprecated separator
    }
    if (sep == std::string::npos) {
      return make_error(ErrorKind::kInvalidArgument, "invalid --security-opt 1: " + quoted);
    }
    const std::string key = opt.substr(0, sep);
    const std::string value = opt.substr(sep + 1);
    if (key == "label" || key == "apparmor") {
      continue;  // neither SELinux nor AppArmor is in use here
    }
    if (key == "no-new-privileges") {
      if (value == "true" || value == "1" || value == "t" || value == "TRUE" || value == "True") {
        o.no_new_privileges = true;
      } else if (value == "false" || value == "0" || value == "f" || value == "FALSE" ||
                 value == "False") {
        o.no_new_privileges = false;
      } else {
        return make_error(ErrorKind::kInvalidArgument, "invalid --security-opt 2: " + quoted);
      }
      continue;
    }
    if (key == "seccomp") {
      if (value == "unconfined") {
        o.seccomp_unconfined = true;
        o.seccomp_profile.reset();
        continue;
      }
      // The CLI sends the profile file's content.
      auto profile = json::parse(value, nullptr, false);
      if (profile.is_discarded() || !profile.is_object()) {
        return make_error(ErrorKind::kInvalidArgument,
                          "Decoding seccomp profile failed: invalid JSON");
      }
      if (profile.contains("syscalls") && !profile["syscalls"].is_array()) {
        return make_error(ErrorKind::kInvalidArgument,
                          "Decoding seccomp profile failed: syscalls must be a list");
      }
      o.seccomp_unconfined = false;
      o.seccomp_profile = std::move(profile);
      continue;
    }
    return make_error(ErrorKind::kInvalidArgument, "invalid --security-opt 2: " + quoted);
  }
  return o;
}

base::Status check_caps_and_sysctls(const model::HostConfig& hc, bool host_network) {
  const std::pair<const char*, const model::OptStrings*> lists[] = {{"CapAdd", &hc.cap_add},
                                                                    {"CapDrop", &hc.cap_drop}};
  for (const auto& [key, list] : lists) {
    for (const auto& c : list->value_or(model::Strings{})) {
      if (!known_capability(c)) {
        return make_error(ErrorKind::kInvalidArgument, std::string("invalid ") + key +
                                                           ": unknown capability: \"" +
                                                           normalized_cap(c) + "\"");
      }
    }
  }
  static const std::set<std::string> kIpc = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",  "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  for (const auto& [k, v] : hc.sysctls) {
    (void)v;
    const bool net = k.rfind("net.", 0) == 0;
    if (net && host_network) {
      return make_error(ErrorKind::kInvalidArgument,
                        "sysctl '" + k + "' is not allowed in host network namespace");
    }
    if (!net && kIpc.count(k) == 0 && k.rfind("fs.mqueue.", 0) != 0) {
      return make_error(ErrorKind::kInvalidArgument, "sysctl '" + k + "' is not allowed");
    }
  }
  return {};
}

std::vector<std::string> container_capabilities(const model::HostConfig& hc,
                                                const std::vector<std::string>& bounding) {
  if (hc.privileged) {
    return bounding;
  }
  std::vector<std::string> caps = default_capabilities();
  for (const auto& drop : hc.cap_drop.value_or(model::Strings{})) {
    const std::string c = normalized_cap(drop);
    if (c == "CAP_ALL") {
      caps.clear();
    } else {
      caps.erase(std::remove(caps.begin(), caps.end(), c), caps.end());
    }
  }
  for (const auto& add : hc.cap_add.value_or(model::Strings{})) {
    const std::string c = normalized_cap(add);
    if (c == "CAP_ALL") {
      for (const auto& b : bounding) {
        if (std::find(caps.begin(), caps.end(), b) == caps.end()) {
          caps.push_back(b);
        }
      }
    } else if (std::find(caps.begin(), caps.end(), c) == caps.end()) {
      caps.push_back(c);
    }
  }
  return caps;
}

base::Result<std::vector<std::string>> granted_capabilities(
    const model::HostConfig& hc, const std::vector<std::string>& bounding) {
  auto caps = container_capabilities(hc, bounding);
  for (const auto& c : bounding.empty() ? std::vector<std::string>{} : caps) {
    if (std::find(bounding.begin(), bounding.end(), c) == bounding.end()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "cannot grant " + c +
                            ": it is not in the daemon's capability bounding set (this host "
                            "withholds it)");
    }
  }
  return caps;
}

}  // namespace dind::runtime
