#include "netsetup/claim.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace netsetup {

using dind::base::ErrorKind;
using dind::base::make_error;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNotes = "/run/dind-claims";

// The namespace's identity for the note's name (a live holder keeps its
// namespace, so the inode is not reused while the note matters).
std::string netns_id() {
  struct stat st {};
  if (::stat("/proc/self/ns/net", &st) != 0) {
    return "unknown";
  }
  return std::to_string(static_cast<unsigned long long>(st.st_ino));
}

}  // namespace

dind::base::Result<Claim> Claim::take(const std::string& kind, const std::string& name,
                                      const std::string& owner) {
  const std::string key = "dind-claim:" + kind + ":" + name;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (key.size() + 1 > sizeof(addr.sun_path)) {
    return make_error(ErrorKind::kInvalidArgument, kind + " name too long: " + name);
  }
  std::memcpy(addr.sun_path + 1, key.data(), key.size());  // sun_path[0] = 0: abstract
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + key.size());
  Claim c;
  c.sock_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.sock_.valid()) {
    return dind::base::sys_error(errno, "claim socket");
  }
  const fs::path note = fs::path(kNotes) / (netns_id() + "-" + kind + "-" + name);
  if (::bind(c.sock_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    if (err != EADDRINUSE) {
      return dind::base::sys_error(err, "claiming the " + kind + " " + name);
    }
    std::string who = dind::base::read_file(note, 4096).value_or("");
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) {
      who.pop_back();
    }
    return make_error(ErrorKind::kConflict,
                      "the " + kind + " " + name + " is in use by another dind engine in this network namespace" +
                          (who.empty() ? std::string() : " (" + who + ")"));
  }
  std::error_code ec;
  fs::create_directories(kNotes, ec);
  ::chmod(kNotes, 0700);
  if (dind::base::write_file_atomic(note, owner + "\n", 0600)) {
    c.note_ = note;
  }
  return c;
}

Claim& Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    if (!note_.empty()) {
      std::error_code ec;
      fs::remove(note_, ec);
    }
    sock_ = std::move(other.sock_);
    note_ = std::move(other.note_);
    other.note_.clear();
  }
  return *this;
}

Claim::~Claim() {
  if (!note_.empty() && sock_.valid()) {
    std::error_code ec;
    fs::remove(note_, ec);
  }
}

}  // namespace netsetup
