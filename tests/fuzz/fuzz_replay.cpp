// The ordinary build's driver: `dind-fuzz-replay TARGET PATH...` runs the
// target once per file (directories are walked), as libFuzzer would run its
// corpus, so the seeds are regression tests in CI.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_targets.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: dind-fuzz-replay TARGET PATH...\n");
    return 2;
  }
  const dind::fuzz::Target* t = dind::fuzz::find_target(argv[1]);
  if (t == nullptr) {
    std::fprintf(stderr, "dind-fuzz-replay: no target %s\n", argv[1]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i])) {
        if (e.is_regular_file()) {
          files.push_back(e.path());
        }
      }
    } else {
      files.emplace_back(argv[i]);
    }
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    t->run(data);
  }
  std::printf("%s: %zu inputs replayed\n", t->name, files.size());
  return files.empty() ? 1 : 0;  // an empty corpus is a mistake
}
