// dind-test-pki: issues certificates the normal tools refuse to make, for the
// TLS perimeter tests: expired ones, or any role signed by a bundle's CA.
//   dind-test-pki CA_DIR OUT_DIR ROLE DAYS_AGO VALIDITY_DAYS
// ROLE: client | server. The certificate starts DAYS_AGO days in the past.

#include <iostream>
#include <string>

#include "certgen/x509.hpp"
#include "dind/base/fs.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: dind-test-pki CA_DIR OUT_DIR client|server DAYS_AGO VALIDITY_DAYS\n";
    return 2;
  }
  const std::string ca_dir = argv[1];
  const std::string out = argv[2];
  const std::string role = argv[3];
  const auto now = certgen::Clock::now() - std::chrono::days(std::stoi(argv[4]));
  auto ca_cert = certgen::cert_from_pem(*dind::base::read_file(ca_dir + "/cert.pem"));
  auto ca_key = certgen::key_from_pem(*dind::base::read_file(ca_dir + "/key.pem"));
  if (!ca_cert || !ca_key) {
    std::cerr << "cannot read the CA in " << ca_dir << "\n";
    return 1;
  }
  certgen::Profile p =
      role == "server" ? *certgen::plan_server_profile({}, {}) : certgen::plan_client_profile({});
  p.validity = std::chrono::days(std::stoi(argv[5]));
  auto key = certgen::generate_key(certgen::KeyType::kEcdsaP256);
  auto cert = certgen::issue_certificate(p, key->get(), ca_cert->get(), ca_key->get(), now);
  if (!cert) {
    std::cerr << cert.error().message << "\n";
    return 1;
  }
  dind::base::FileTransaction tx;
  bool ok = tx.ensure_dir(out, 0755).ok() &&
            tx.stage(out + "/cert.pem", *certgen::cert_to_pem(cert->get()), 0644).ok() &&
            tx.stage(out + "/key.pem", *certgen::key_to_pem(key->get()), 0600).ok() &&
            tx.stage(out + "/ca.pem", *certgen::cert_to_pem(ca_cert->get()), 0644).ok() &&
            tx.commit().ok();
  return ok ? 0 : 1;
}
