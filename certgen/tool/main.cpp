// dind-certgen: generate, refresh, summarise and verify the docker:dind
// certificate bundle. With no arguments it does exactly what the appliance
// does at start: DOCKER_TLS_CERTDIR=DIR dind-certgen.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "certgen/bundle.hpp"
#include "certgen/env.hpp"
#include "certgen/host_facts.hpp"
#include "certgen/inspect.hpp"

namespace {

constexpr const char* kUsage = R"(Usage: dind-certgen [COMMAND] [OPTIONS]

Commands:
  generate   create the bundle, or refresh it (default)
  summary    print subjects, key types, fingerprints, SANs and expiry
  verify     check that the bundle is complete and consistent

Options:
  --dir DIR            bundle directory (default: $DOCKER_TLS_CERTDIR, else /certs)
  --key-type TYPE      ecdsa-p256 (default), rsa2048, rsa4096, ed25519
                       (default: $DIND_TLS_KEY_TYPE)
  --san LIST           extra server SANs, e.g. "DNS:dind,IP:10.0.0.5"
                       (repeatable; added to $DOCKER_TLS_SAN)
  --validity-days N    certificate validity (default: $DIND_TLS_VALIDITY_DAYS, else 825)
  --json               summary: print JSON
  -q, --quiet          generate: print nothing on success
  -h, --help           this text
)";

int usage_error(const std::string& msg) {
  std::cerr << "dind-certgen: " << msg << "\n\n" << kUsage;
  return 2;
}

int fail(const dind::base::Error& e) {
  std::cerr << "dind-certgen: error: " << e.message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "generate";
  size_t i = 0;
  if (!args.empty() && args[0].rfind('-', 0) != 0) {
    command = args[0];
    i = 1;
  }
  if (command != "generate" && command != "summary" && command != "verify") {
    return usage_error("unknown command \"" + command + "\"");
  }

  auto settings = certgen::settings_from_env(certgen::process_environment());
  if (!settings) {
    return fail(settings.error());
  }
  bool json = false;
  bool quiet = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "--dir" || a == "--key-type" || a == "--san" || a == "--validity-days") {
      const std::string* v = value();
      if (v == nullptr) {
        return usage_error(a + " needs a value");
      }
      if (a == "--dir") {
        settings->dir = *v;
      } else if (a == "--key-type") {
        auto kt = certgen::parse_key_type(*v);
        if (!kt) {
          return fail(kt.error());
        }
        settings->key_type = *kt;
      } else if (a == "--san") {
        settings->plan.extra_sans += " " + *v;
      } else {
        auto vd = certgen::parse_validity_days(*v);
        if (!vd) {
          return fail(vd.error());
        }
        settings->plan.validity = *vd;
      }
    } else {
      return usage_error("unknown option \"" + a + "\"");
    }
  }
  if (!settings->dir) {
    if (!quiet) {
      std::cout << "DOCKER_TLS_CERTDIR is empty: TLS is disabled, no certificates generated\n";
    }
    return 0;
  }
  const auto& dir = *settings->dir;
  const auto now = certgen::Clock::now();

  if (command == "summary") {
    auto summary = certgen::inspect_bundle(dir);
    if (!summary) {
      return fail(summary.error());
    }
    std::cout << (json ? certgen::format_summary_json(*summary)
                       : certgen::format_summary(*summary, now));
    return 0;
  }
  if (command == "verify") {
    auto st = certgen::verify_bundle(dir, now);
    if (!st) {
      return fail(st.error());
    }
    if (!quiet) {
      std::cout << dir.string() << ": OK\n";
    }
    return 0;
  }

  certgen::BundleOptions options;
  options.dir = dir;
  options.key_type = settings->key_type;
  options.plan = settings->plan;
  options.host = certgen::gather_host_facts();
  options.now = now;
  auto report = certgen::ensure_bundle(options);
  if (!report) {
    return fail(report.error());
  }
  for (const auto& w : report->warnings) {
    std::cerr << "dind-certgen: WARNING: " << w << "\n";
  }
  if (!quiet) {
    switch (report->mode) {
      case certgen::BundleMode::kCreated:
        std::cout << "generated a new CA, server and client certificate in " << dir.string()
                  << "\n";
        break;
      case certgen::BundleMode::kRefreshed:
        std::cout << "refreshed the server and client certificates in " << dir.string()
                  << (report->ca_renewed ? " (CA renewed)" : "") << "\n";
        break;
      case certgen::BundleMode::kUserManaged:
        std::cout << "user-managed certificates in " << dir.string()
                  << "/server verified; nothing written\n";
        break;
    }
    std::cout << "CA sha256: " << report->ca_fingerprint << "\n"
              << "clients: DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=" << (dir / "client").string()
              << "\n";
  }
  return 0;
}
