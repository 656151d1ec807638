// dind-netsetup: the netsetup library on its own, with its state in a
// directory so that separate invocations compose.
//
//   dind-netsetup [--state DIR] [--table NAME] network create NAME [--subnet CIDR]
//                 [--gateway IP] [--mtu N] [--bridge IFNAME] [--internal]
//   dind-netsetup ... network rm NAME
//   dind-netsetup ... attach --network NAME --netns PATH [--ip IP] [--name N]...
//                 [-p [HOSTIP:]HOSTPORT:CPORT[/udp]]...
//   dind-netsetup ... detach --network NAME --netns PATH
//   dind-netsetup ... show
//   dind-netsetup uplink

// clang-format off
#include <utility>  // first: boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
// clang-format on
#include <iostream>
#include <string>
#include <vector>

#include "dind/base/fs.hpp"
#include "netsetup/dns_server.hpp"
#include "netsetup/manager.hpp"
#include "netsetup/resolv_conf.hpp"
#include "netsetup/uplink.hpp"

namespace {

constexpr const char* kUsage =
    R"(Usage: dind-netsetup [--state DIR] [--table NAME] [--pool base=CIDR,size=N]... COMMAND
  network create NAME [--subnet CIDR] [--gateway IP] [--mtu N] [--bridge IFNAME] [--internal]
  network rm NAME
  attach --network NAME --netns PATH [--ip IP] [--name N]... [-p [HOSTIP:]HOSTPORT:CPORT[/udp]]...
  detach --network NAME --netns PATH
  show
  dns [--upstream IP]...   serve DNS on every network's gateway:53 until SIGTERM
                           (default upstreams: the host's resolv.conf)
  resolv-conf --network NAME   the resolv.conf a container on NAME gets
  uplink            the default-route interface and its MTU
Defaults: --state /run/dind-netsetup, --table dind_netsetup, Docker's default address pools.
)";

int fail(const dind::base::Error& e) {
  std::cerr << "dind-netsetup: error: " << e.message << "\n";
  return 1;
}

int usage(const std::string& msg) {
  std::cerr << "dind-netsetup: " << msg << "\n\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  netsetup::ManagerOptions opts;
  opts.state_dir = "/run/dind-netsetup";
  opts.table = "dind_netsetup";
  bool custom_pools = false;
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("--", 0) == 0; i += 2) {
    if (args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= args.size()) {
      return usage(args[i] + " needs a value");
    }
    if (args[i] == "--state") {
      opts.state_dir = args[i + 1];
    } else if (args[i] == "--table") {
      opts.table = args[i + 1];
    } else if (args[i] == "--pool") {
      auto pool = netsetup::parse_pool(args[i + 1]);
      if (!pool) {
        return fail(pool.error());
      }
      if (!custom_pools) {
        opts.pools.clear();
        custom_pools = true;
      }
      opts.pools.push_back(*pool);
    } else {
      return usage("unknown option " + args[i]);
    }
  }
  if (i >= args.size()) {
    return usage("missing command");
  }
  const std::string cmd = args[i++];
  if (cmd == "uplink") {
    auto up = netsetup::detect_uplink();
    if (!up) {
      return fail(up.error());
    }
    std::cout << up->name << " mtu " << up->mtu << "\n";
    return 0;
  }
  // Flags after the command: --key value pairs (repeatable), and switches.
  std::string sub;
  if (cmd == "network" && i < args.size()) {
    sub = args[i++];
  }
  std::string positional;
  std::vector<std::pair<std::string, std::string>> flags;
  bool internal = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--internal") {
      internal = true;
    } else if (a.rfind("-", 0) == 0) {
      if (i + 1 >= args.size()) {
        return usage(a + " needs a value");
      }
      flags.emplace_back(a, args[++i]);
    } else if (positional.empty()) {
      positional = a;
    } else {
      return usage("unexpected argument " + a);
    }
  }
  auto m = netsetup::NetworkManager::open(opts);
  if (!m) {
    return fail(m.error());
  }
  if (cmd == "show") {
    std::cout << m->describe();
    return 0;
  }
  if (cmd == "network" && sub == "create") {
    netsetup::NetworkSpec spec;
    spec.name = positional;
    spec.internal = internal;
    for (auto& [k, v] : flags) {
      if (k == "--subnet") {
        auto p = netsetup::Ipv4Prefix::parse(v);
        if (!p) {
          return fail(p.error());
        }
        spec.subnet = *p;
      } else if (k == "--gateway") {
        spec.gateway = netsetup::Ipv4::parse(v);
        if (!spec.gateway) {
          return usage("invalid --gateway " + v);
        }
      } else if (k == "--mtu") {
        spec.mtu = std::atoi(v.c_str());
      } else if (k == "--bridge") {
        spec.bridge = v;
      } else {
        return usage("unknown option " + k);
      }
    }
    auto n = m->create_network(spec);
    if (!n) {
      return fail(n.error());
    }
    std::cout << n->name << " " << n->bridge << " " << n->subnet.to_string() << " gateway "
              << n->gateway.to_string() << " mtu " << n->mtu << "\n";
    return 0;
  }
  if (cmd == "dns") {
    netsetup::DnsServerOptions dopts;
    for (auto& [k, v] : flags) {
      if (k != "--upstream") {
        return usage("unknown option " + k);
      }
      dopts.upstreams.push_back(v);
    }
    if (dopts.upstreams.empty()) {
      if (auto text = dind::base::read_file("/etc/resolv.conf")) {
        dopts.upstreams = netsetup::upstreams(netsetup::parse_resolv_conf(*text));
      }
    }
    boost::asio::io_context ioc;
    netsetup::DnsServer dns(ioc, dopts);
    dns.update(m->dns_records(), m->endpoint_networks());
    for (const auto& [name, n] : m->networks()) {
      if (auto st = dns.listen(n.gateway); !st) {
        return fail(st.error());
      }
    }
    boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
    signals.async_wait([&](boost::system::error_code, int) {
      dns.stop();
      ioc.stop();
    });
    std::cout << "ready" << std::endl;
    ioc.run();
    return 0;
  }
  if (cmd == "resolv-conf") {
    std::string network;
    for (auto& [k, v] : flags) {
      if (k == "--network") {
        network = v;
      }
    }
    auto it = m->networks().find(network);
    if (it == m->networks().end()) {
      return usage("resolv-conf needs --network NAME of an existing network");
    }
    auto host = dind::base::read_file("/etc/resolv.conf");
    std::cout << netsetup::container_resolv_conf(
        netsetup::parse_resolv_conf(host ? *host : std::string()), it->second.gateway.to_string());
    return 0;
  }
  if (cmd == "network" && sub == "rm") {
    auto st = m->delete_network(positional);
    return st ? 0 : fail(st.error());
  }
  if (cmd == "attach" || cmd == "detach") {
    netsetup::AttachRequest req;
    for (auto& [k, v] : flags) {
      if (k == "--network") {
        req.network = v;
      } else if (k == "--netns") {
        req.netns = v;
      } else if (k == "--ip") {
        req.ip = netsetup::Ipv4::parse(v);
        if (!req.ip) {
          return usage("invalid --ip " + v);
        }
      } else if (k == "--name") {
        req.names.push_back(v);
      } else if (k == "-p" || k == "--publish") {
        auto p = netsetup::parse_port(v);
        if (!p) {
          return fail(p.error());
        }
        req.ports.push_back(*p);
      } else {
        return usage("unknown option " + k);
      }
    }
    if (req.network.empty() || req.netns.empty()) {
      return usage(cmd + " needs --network and --netns");
    }
    if (cmd == "detach") {
      auto st = m->detach(req.network, req.netns);
      return st ? 0 : fail(st.error());
    }
    auto e = m->attach(req);
    if (!e) {
      return fail(e.error());
    }
    std::cout << e->ip.to_string() << " " << e->ifname << " " << e->host_ifname << "\n";
    return 0;
  }
  return usage("unknown command " + cmd + (sub.empty() ? "" : " " + sub));
}
