#pragma once
// OpenSSL 3 (EVP) wrappers: key generation, certificate issuance from a
// Profile, PEM encoding/decoding and the checks the bundle logic needs.
// Every OpenSSL object is owned by a unique_ptr; errors carry OpenSSL's
// error-queue text.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "certgen/profile.hpp"

namespace certgen {

using dind::base::Status;

struct PKeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Deleter {
  void operator()(X509* c) const { X509_free(c); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyDeleter>;
using Cert = std::unique_ptr<X509, X509Deleter>;
using Clock = std::chrono::system_clock;

Result<PKey> generate_key(KeyType type);

// Issues a certificate for subject_key described by profile, valid from
// now - 5 minutes (clock skew between siblings) to now + profile.validity,
// signed by issuer_key; issuer_cert null means self-signed.
Result<Cert> issue_certificate(const Profile& profile, EVP_PKEY* subject_key,
                               const X509* issuer_cert, EVP_PKEY* issuer_key,
                               Clock::time_point now);

// PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted.
Result<std::string> key_to_pem(EVP_PKEY* key);
Result<std::string> cert_to_pem(const X509* cert);
// Each accepts exactly one PEM object (surrounding whitespace allowed).
Result<PKey> key_from_pem(std::string_view pem);
Result<Cert> cert_from_pem(std::string_view pem);

bool key_matches_cert(EVP_PKEY* key, const X509* cert);
bool is_ca_cert(const X509* cert);
// Chain verification of leaf against the single trust anchor ca at time now;
// purpose "sslserver", "sslclient" or empty for any.
Status verify_certificate(const X509* leaf, const X509* ca, std::string_view purpose,
                          Clock::time_point now);

std::string sha256_fingerprint(const X509* cert);  // "AB:CD:..."
Clock::time_point not_after(const X509* cert);
Clock::time_point not_before(const X509* cert);
std::string subject_cn(const X509* cert);
std::vector<SubjectAltName> cert_sans(const X509* cert);
std::string describe_key(EVP_PKEY* key);  // "ecdsa-p256", "rsa4096", ...

}  // namespace certgen
