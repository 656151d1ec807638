// dind-shim: the per-container shim as a small executable of its own (the
// daemon starts it; `dind shim` runs the same code). See runtime/shim.hpp.

#include "dind/runtime/shim.hpp"

int main(int argc, char** argv) {
  return dind::runtime::shim_main(argc, argv);
}
