#include "tree_snapshot.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace testsupport {
namespace fs = std::filesystem;

TreeSnapshot snapshot(const fs::path& root) {
  TreeSnapshot out;
  if (!fs::exists(fs::symlink_status(root))) {
    return out;
  }
  auto add = [&](const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      throw std::runtime_error("lstat " + p.string());
    }
    Entry e;
    e.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      e.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      e.type = 'l';
      e.content = fs::read_symlink(p).string();
    } else {
      e.type = 'f';
      e.content = read_text(p);
    }
    out[fs::relative(p, root).string()] = e;
  };
  add(root);
  for (auto& de : fs::recursive_directory_iterator(root)) {
    add(de.path());
  }
  return out;
}

std::string describe_difference(const TreeSnapshot& a, const TreeSnapshot& b) {
  std::ostringstream out;
  for (auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      out << "removed: " << k << "\n";
    } else if (!(it->second == v)) {
      out << "changed: " << k << "\n";
    }
  }
  for (auto& [k, v] : b) {
    if (!a.count(k)) {
      out << "added: " << k << "\n";
    }
  }
  return out.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) {
    throw std::runtime_error("write " + path.string());
  }
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error("stat " + path.string());
  }
  return st.st_mode & 07777;
}

}  // namespace testsupport
