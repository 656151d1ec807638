// dind-test-unpack: unpacks a layer tar from stdin into DIR and prints its
// diff ID (drives image/layer_unpack from the priv tests).
#include <iostream>

#include "dind/image/layer_unpack.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dind-test-unpack DIR < layer.tar\n";
    return 2;
  }
  auto r = dind::image::unpack_layer(0, argv[1]);
  if (!r) {
    std::cerr << "error: " << r.error().message << "\n";
    return 1;
  }
  std::cout << r->diff_id << " " << r->entries << " " << r->bytes << "\n";
  return 0;
}
