#include "certgen/host_facts.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <climits>
#include <fstream>

namespace certgen {
namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

std::string read_etc_hostname() {
  std::ifstream in("/etc/hostname");
  std::string line;
  std::getline(in, line);
  return trim(line);
}

std::string canonical_name(const std::string& host) {
  if (host.empty()) {
    return {};
  }
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return {};
  }
  std::string name = res->ai_canonname ? res->ai_canonname : "";
  freeaddrinfo(res);
  return name;
}

}  // namespace

HostFacts gather_host_facts() {
  HostFacts facts;
  facts.etc_hostname = read_etc_hostname();
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) == 0) {
    facts.hostname = buf;
  }
  facts.fqdn = canonical_name(facts.hostname);

  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
      if (ifa->ifa_addr == nullptr) {
        continue;
      }
      char text[INET6_ADDRSTRLEN] = {};
      if (ifa->ifa_addr->sa_family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(ifa->ifa_addr);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      } else if (ifa->ifa_addr->sa_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr);
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      } else {
        continue;
      }
      facts.addresses.emplace_back(text);
    }
    freeifaddrs(list);
  }
  return facts;
}

}  // namespace certgen
