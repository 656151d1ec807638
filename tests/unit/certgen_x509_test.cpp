#include <openssl/pem.h>

#include <catch2/catch.hpp>

#include "certgen/x509.hpp"

using namespace certgen;
using namespace std::chrono_literals;

namespace {

struct Pki {
  PKey ca_key;
  Cert ca;
};

Pki make_ca(KeyType type, Clock::time_point now = Clock::now()) {
  Pki p;
  p.ca_key = std::move(*generate_key(type));
  p.ca = std::move(
      *issue_certificate(plan_ca_profile({}), p.ca_key.get(), nullptr, p.ca_key.get(), now));
  return p;
}

Profile server_profile() {
  HostFacts host;
  host.hostname = "node1";
  host.addresses = {"127.0.0.1", "::1"};
  return *plan_server_profile(host, {});
}

}  // namespace

TEST_CASE("every key type issues a chain that round-trips through PEM", "[certgen][x509]") {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEd25519, KeyType::kRsa2048}) {
    INFO(key_type_name(type));
    Pki pki = make_ca(type);
    REQUIRE(is_ca_cert(pki.ca.get()));
    auto key = generate_key(type);
    REQUIRE(key.ok());
    CHECK(describe_key(key->get()) == key_type_name(type));
    auto cert = issue_certificate(server_profile(), key->get(), pki.ca.get(), pki.ca_key.get(),
                                  Clock::now());
    REQUIRE(cert.ok());
    CHECK_FALSE(is_ca_cert(cert->get()));

    auto key_pem = key_to_pem(key->get());
    auto cert_pem = cert_to_pem(cert->get());
    REQUIRE(key_pem.ok());
    REQUIRE(cert_pem.ok());
    CHECK(key_pem->rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    auto key2 = key_from_pem(*key_pem);
    auto cert2 = cert_from_pem(*cert_pem);
    REQUIRE(key2.ok());
    REQUIRE(cert2.ok());
    CHECK(key_matches_cert(key2->get(), cert2->get()));
    CHECK(sha256_fingerprint(cert2->get()) == sha256_fingerprint(cert->get()));
    CHECK(verify_certificate(cert2->get(), pki.ca.get(), "sslserver", Clock::now()).ok());
    CHECK(subject_cn(cert2->get()) == "docker:dind server");
    CHECK(cert_sans(cert2->get()) == server_profile().sans);
  }
}

TEST_CASE("rsa4096 keys are 4096 bits", "[certgen][x509][slow]") {
  auto key = generate_key(KeyType::kRsa4096);
  REQUIRE(key.ok());
  CHECK(describe_key(key->get()) == "rsa4096");
}

TEST_CASE("validity is now-5min to now+validity", "[certgen][x509]") {
  Pki pki = make_ca(KeyType::kEcdsaP256);
  auto key = generate_key(KeyType::kEcdsaP256);
  const auto now = Clock::from_time_t(Clock::to_time_t(Clock::now()));
  Profile prof = plan_client_profile({});
  prof.validity = std::chrono::days(10);
  auto cert = issue_certificate(prof, key->get(), pki.ca.get(), pki.ca_key.get(), now);
  REQUIRE(cert.ok());
  CHECK(not_before(cert->get()) == now - 5min);
  CHECK(not_after(cert->get()) == now + std::chrono::days(10));
}

TEST_CASE("verification fails for the wrong CA, wrong purpose and expiry", "[certgen][x509]") {
  Pki pki = make_ca(KeyType::kEcdsaP256);
  Pki other = make_ca(KeyType::kEcdsaP256);
  auto key = generate_key(KeyType::kEcdsaP256);
  auto client = issue_certificate(plan_client_profile({}), key->get(), pki.ca.get(),
                                  pki.ca_key.get(), Clock::now());
  REQUIRE(client.ok());
  CHECK(verify_certificate(client->get(), pki.ca.get(), "sslclient", Clock::now()).ok());
  CHECK_FALSE(verify_certificate(client->get(), other.ca.get(), "sslclient", Clock::now()).ok());
  CHECK_FALSE(verify_certificate(client->get(), pki.ca.get(), "sslserver", Clock::now()).ok());
  auto later = Clock::now() + std::chrono::days(900);
  auto st = verify_certificate(client->get(), pki.ca.get(), "sslclient", later);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("expired") != std::string::npos);
  CHECK_FALSE(key_matches_cert(key->get(), pki.ca.get()));
}

TEST_CASE("PEM readers reject everything but exactly one object", "[certgen][x509]") {
  Pki pki = make_ca(KeyType::kEcdsaP256);
  std::string cert_pem = *cert_to_pem(pki.ca.get());
  std::string key_pem = *key_to_pem(pki.ca_key.get());

  // An encrypted key must fail instead of prompting for a passphrase.
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pki.ca_key.get(), EVP_aes_128_cbc(),
                           reinterpret_cast<const unsigned char*>("pw"), 2, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string encrypted(data, static_cast<size_t>(n));
  BIO_free(bio);

  const std::string bad_keys[] = {
      "",
      "garbage",
      key_pem.substr(0, key_pem.size() / 2),  // truncated
      cert_pem,                               // a certificate, not a key
      key_pem + key_pem,                      // two keys
      key_pem + "trailing junk\n",
      "junk before\n" + key_pem,
      encrypted,
      std::string("\x30\x82\x01\x0a", 4),  // DER
  };
  for (const auto& text : bad_keys) {
    INFO(text);
    auto r = key_from_pem(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == dind::base::ErrorKind::kDataLoss);
  }
  const std::string bad_certs[] = {
      "",
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      cert_pem.substr(0, cert_pem.size() - 30),
      key_pem,
      cert_pem + cert_pem,
      "junk\n" + cert_pem,
  };
  for (const auto& text : bad_certs) {
    INFO(text);
    CHECK_FALSE(cert_from_pem(text).ok());
  }
  CHECK(cert_from_pem("\n\n" + cert_pem + "\n\n").ok());
}
