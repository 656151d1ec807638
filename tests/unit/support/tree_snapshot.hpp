#pragma once
// A directory tree's exact state (paths, types, modes, bytes) so tests can
// assert that a failed operation left it byte-identical.

#include <filesystem>
#include <map>
#include <string>

namespace testsupport {

struct Entry {
  char type = '?';  // 'd', 'f', 'l'
  unsigned mode = 0;
  std::string content;  // file bytes or link target
  bool operator==(const Entry&) const = default;
};
using TreeSnapshot = std::map<std::string, Entry>;

// Missing root gives an empty snapshot.
TreeSnapshot snapshot(const std::filesystem::path& root);
std::string describe_difference(const TreeSnapshot& a, const TreeSnapshot& b);

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);
unsigned mode_of(const std::filesystem::path& path);

}  // namespace testsupport
