#include "dind/registry/hosts.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dind/base/text.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;

namespace {

// host[:port] -> host, without brackets.
std::string host_of(const std::string& host_port) {
  if (!host_port.empty() && host_port[0] == '[') {
    return host_port.substr(1, host_port.find(']') - 1);
  }
  const auto colon = host_port.find(':');
  if (colon != std::string::npos && host_port.find(':', colon + 1) == std::string::npos) {
    return host_port.substr(0, colon);
  }
  return host_port;
}

struct Cidr {
  int family = 0;
  unsigned char addr[16] = {};
  int bits = 0;
};

bool parse_cidr(const std::string& text, Cidr& out) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    return false;
  }
  const std::string ip = text.substr(0, slash);
  const std::string len = text.substr(slash + 1);
  int bits = -1;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
  if (ec != std::errc() || end != len.data() + len.size()) {
    return false;
  }
  if (inet_pton(AF_INET, ip.c_str(), out.addr) == 1 && bits >= 0 && bits <= 32) {
    out.family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), out.addr) == 1 && bits >= 0 && bits <= 128) {
    out.family = AF_INET6;
  } else {
    return false;
  }
  out.bits = bits;
  return true;
}

bool in_cidr(const Cidr& c, int family, const unsigned char* addr) {
  if (c.family != family) {
    return false;
  }
  int bits = c.bits;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((addr[i] & mask) != (c.addr[i] & mask)) {
      return false;
    }
  }
  return true;
}

bool loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") {
    return true;
  }
  unsigned char a[4];
  return inet_pton(AF_INET, host.c_str(), a) == 1 && a[0] == 127;
}

}  // namespace

base::Status validate_options(const RegistryOptions& options) {
  for (const auto& m : options.mirrors) {
    auto u = parse_url(m);
    if (!u || (u->target != "/" && !u->target.empty())) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid mirror: \"" + m +
                            "\" is not a valid URI (give scheme and host, without a path)");
    }
  }
  for (const auto& i : options.insecure) {
    Cidr c;
    if (i.find('/') != std::string::npos) {
      if (!parse_cidr(i, c)) {
        return make_error(ErrorKind::kInvalidArgument,
                          "insecure registry " + i + " is not a valid CIDR or host");
      }
      continue;
    }
    if (i.empty() || i.find("://") != std::string::npos) {
      return make_error(ErrorKind::kInvalidArgument,
                        "insecure registry " + i + " should not contain '://'");
    }
  }
  return {};
}

bool is_insecure(const std::string& host_port, const RegistryOptions& options) {
  const std::string host = host_of(host_port);
  if (loopback(host)) {
    return true;
  }
  unsigned char addr[16];
  int family = 0;
  if (inet_pton(AF_INET, host.c_str(), addr) == 1) {
    family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), addr) == 1) {
    family = AF_INET6;
  }
  for (const auto& i : options.insecure) {
    if (i == host_port || i == host) {
      return true;
    }
    Cidr c;
    if (family && parse_cidr(i, c) && in_cidr(c, family, addr)) {
      return true;
    }
  }
  return false;
}

TlsTrust trust_for(const std::string& host_port, const std::filesystem::path& certs_dir) {
  TlsTrust t;
  std::error_code ec;
  const auto dir = certs_dir / host_port;
  if (certs_dir.empty() || !std::filesystem::is_directory(dir, ec)) {
    return t;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const auto ext = f.extension().string();
    if (ext == ".crt") {
      t.ca_files.push_back(f);
    } else if (ext == ".cert") {
      auto key = f;
      key.replace_extension(".key");
      if (std::filesystem::exists(key, ec)) {
        t.client_cert = f;
        t.client_key = key;
      }
    }
  }
  return t;
}

std::vector<Endpoint> endpoints_for(const std::string& domain, const RegistryOptions& options,
                                    bool pull) {
  std::vector<Endpoint> out;
  if (domain == kDockerHubDomain && pull) {
    for (const auto& m : options.mirrors) {
      auto u = parse_url(m);
      if (!u) {
        continue;
      }
      u->target = "/";
      Endpoint e;
      e.base = *u;
      e.trust = trust_for(u->host_port(), options.certs_dir);
      e.trust.verify = !(u->tls && is_insecure(u->host_port(), options));
      e.mirror = true;
      e.fallback = true;
      out.push_back(e);
    }
  }
  const std::string host_port = domain == kDockerHubDomain ? kDockerHubHost : domain;
  auto https = parse_url("https://" + host_port);
  if (!https) {
    return out;
  }
  Endpoint e;
  e.base = *https;
  e.trust = trust_for(host_port, options.certs_dir);
  if (is_insecure(host_port, options)) {
    e.trust.verify = false;
    e.fallback = true;
    out.push_back(e);
    Endpoint plain;
    plain.base = *https;
    plain.base.tls = false;
    if (host_port.find(':') == std::string::npos ||
        (host_port.back() == ']' && host_port[0] == '[')) {
      plain.base.port = "80";
    }
    out.push_back(plain);
  } else {
    out.push_back(e);
  }
  return out;
}

}  // namespace dind::registry
