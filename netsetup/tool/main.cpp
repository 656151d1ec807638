// dind-netsetup: exercises the netsetup library on its own. For now it
// reports the uplink; bridge/veth/NAT/DNS subcommands arrive with issue #4.

#include <iostream>
#include <string>

#include "netsetup/uplink.hpp"

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "uplink";
  if (cmd == "-h" || cmd == "--help") {
    std::cout << "Usage: dind-netsetup uplink   print the default-route interface and its MTU\n";
    return 0;
  }
  if (cmd != "uplink") {
    std::cerr << "dind-netsetup: unknown command \"" << cmd << "\" (only \"uplink\" exists yet)\n";
    return 2;
  }
  auto up = netsetup::detect_uplink();
  if (!up) {
    std::cerr << "dind-netsetup: error: " << up.error().message << "\n";
    return 1;
  }
  std::cout << up->name << " mtu " << up->mtu << "\n";
  return 0;
}
