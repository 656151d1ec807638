// dind-shim: the per-container shim as a small executable of its own (the
// daemon starts it; `dind shim` runs the same code). See runtime/shim.hpp.
// Bound into a container at /sbin/docker-init it is the container's init
// (--init); see runtime/init.hpp.

#include <cstring>

#include "dind/runtime/init.hpp"
#include "dind/runtime/shim.hpp"

int main(int argc, char** argv) {
  const char* slash = std::strrchr(argv[0], '/');
  if (std::strcmp(slash != nullptr ? slash + 1 : argv[0], "docker-init") == 0) {
    return dind::runtime::init_main(argc, argv);
  }
  return dind::runtime::shim_main(argc, argv);
}
