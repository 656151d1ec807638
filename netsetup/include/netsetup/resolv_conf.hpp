#pragma once
// resolv.conf in and out: the host's upstream servers and search domains, and
// the file a container on a user network gets (our resolver, ndots:0). Pure.

#include <string>
#include <string_view>
#include <vector>

namespace netsetup {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

ResolvConf parse_resolv_conf(std::string_view text);

// For a container whose DNS goes to `resolver_ip` (127.0.0.11): the host's
// search list, "options ndots:0", and a comment naming the upstreams.
std::string container_resolv_conf(const ResolvConf& host, std::string_view resolver_ip);

// Upstreams for forwarding (at most 3, as Docker).
std::vector<std::string> upstreams(const ResolvConf& host);

}  // namespace netsetup
