#pragma once
// Where and how to reach a registry, as dockerd decides it: Docker Hub names
// go to the configured mirrors first and then registry-1.docker.io; a
// registry marked insecure (a listed host, an address in a listed CIDR, or a
// loopback address as dockerd's default 127.0.0.0/8) is tried over HTTPS
// without verification, then over plain HTTP; per-registry trust comes from
// <certs-dir>/<host[:port]>/ (ca.crt and any *.crt as roots, a client
// certificate from *.cert with its *.key). Pure except for listing certs.d.

#include <filesystem>
#include <string>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/registry/http_client.hpp"

namespace dind::registry {

struct RegistryOptions {
  std::vector<std::string> mirrors;   // URLs ("https://mirror.example:5000")
  std::vector<std::string> insecure;  // "host", "host:port" or CIDR
  std::filesystem::path certs_dir = "/etc/docker/certs.d";
  int max_downloads = 3;
  int max_uploads = 5;
  // zlib level for layers a push compresses (1: fastest).
  int gzip_level = 1;
  Timeouts timeouts;
};

// Refuses a mirror that is not an http(s) URL or has a path, and an
// insecure entry that is neither a host[:port] nor a CIDR (dockerd's checks).
base::Status validate_options(const RegistryOptions& options);

struct Endpoint {
  Url base;  // scheme, host, port; target "/"
  TlsTrust trust;
  bool mirror = false;
  // Try the next endpoint when this one cannot be reached at all (the HTTPS
  // attempt of an insecure registry, a mirror).
  bool fallback = false;
};

// "docker.io" for Docker Hub; the host a reference's domain reaches.
inline constexpr const char* kDockerHubDomain = "docker.io";
inline constexpr const char* kDockerHubHost = "registry-1.docker.io";

bool is_insecure(const std::string& host_port, const RegistryOptions& options);

// The endpoints to try for a reference's domain, in order. `pull` allows
// mirrors (pushes always go to the origin).
std::vector<Endpoint> endpoints_for(const std::string& domain, const RegistryOptions& options,
                                    bool pull);

// certs.d trust for a host[:port].
TlsTrust trust_for(const std::string& host_port, const std::filesystem::path& certs_dir);

}  // namespace dind::registry
