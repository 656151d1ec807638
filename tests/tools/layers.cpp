// dind-test-layers: drives image/layer_store from the priv tests.
//   register ROOT PARENT|- [EXPECTED_DIFF_ID] < layer.tar   -> "chain diff"
//   mount ROOT ID TOP|-      prepare and mount a rootfs     -> merged path
//   umount ROOT ID           unmount and remove it
//   gc ROOT [CHAIN...]       keep only these chains         -> removed count
//   open ROOT                just open the store
#include <iostream>
#include <set>
#include <string>

#include "dind/image/layer_store.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: see the source\n";
    return 2;
  }
  const std::string cmd = argv[1];
  auto store = dind::image::LayerStore::open(argv[2]);
  if (!store) {
    std::cerr << "error: " << store.error().message << "\n";
    return 1;
  }
  auto opt = [&](int i) -> std::optional<std::string> {
    if (argc <= i || std::string(argv[i]) == "-") {
      return std::nullopt;
    }
    return std::string(argv[i]);
  };
  if (cmd == "open") {
    return 0;
  }
  if (cmd == "register") {
    auto info = store->register_layer(0, opt(3), opt(4));
    if (!info) {
      std::cerr << "error: " << info.error().message << "\n";
      return 1;
    }
    std::cout << info->chain_id << " " << info->diff_id << "\n";
    return 0;
  }
  if (cmd == "mount" && argc >= 5) {
    auto plan = store->prepare_rootfs(argv[3], opt(4));
    if (!plan) {
      std::cerr << "error: " << plan.error().message << "\n";
      return 1;
    }
    if (auto st = dind::image::mount_overlay(*plan); !st) {
      std::cerr << "error: " << st.error().message << "\n";
      return 1;
    }
    std::cout << plan->merged.string() << "\n";
    return 0;
  }
  if (cmd == "umount" && argc >= 4) {
    auto st = dind::image::unmount(store->root() / "mounts" / argv[3] / "merged");
    if (st) {
      st = store->remove_rootfs(argv[3]);
    }
    if (!st) {
      std::cerr << "error: " << st.error().message << "\n";
      return 1;
    }
    return 0;
  }
  if (cmd == "gc") {
    std::set<std::string> keep(argv + 3, argv + argc);
    auto n = store->gc(keep);
    if (!n) {
      std::cerr << "error: " << n.error().message << "\n";
      return 1;
    }
    std::cout << *n << "\n";
    return 0;
  }
  std::cerr << "unknown command\n";
  return 2;
}
