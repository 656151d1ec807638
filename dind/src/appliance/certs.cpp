#include "dind/appliance/certs.hpp"

#include "certgen/host_facts.hpp"

namespace dind::appliance {

base::Result<std::optional<TlsFiles>> bootstrap_certificates(const certgen::EnvLookup& env,
                                                             std::ostream& log) {
  auto settings = certgen::settings_from_env(env);
  if (!settings) {
    return std::move(settings).error();
  }
  if (!settings->dir) {
    log << "dind: DOCKER_TLS_CERTDIR is empty: TLS disabled\n";
    return std::optional<TlsFiles>{};
  }
  certgen::BundleOptions options;
  options.dir = *settings->dir;
  options.key_type = settings->key_type;
  options.plan = settings->plan;
  options.host = certgen::gather_host_facts();
  auto report = certgen::ensure_bundle(options);
  if (!report) {
    return std::move(report).error().with_context("certificates");
  }
  for (const auto& w : report->warnings) {
    log << "dind: WARNING: " << w << "\n";
  }
  const auto& dir = options.dir;
  log << "dind: TLS certificates ready in " << dir.string() << " (CA sha256 "
      << report->ca_fingerprint << ")\n";
  return std::optional<TlsFiles>(TlsFiles{dir / "server/ca.pem", dir / "server/cert.pem",
                                          dir / "server/key.pem", dir / "client"});
}

}  // namespace dind::appliance
