#include "certgen/x509.hpp"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace certgen {
using dind::base::Error;
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;
struct PKeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* s) const { X509_STORE_CTX_free(s); }
};

// Drains OpenSSL's thread-local error queue into one message.
Error ssl_error(ErrorKind kind, std::string what) {
  std::string detail;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!detail.empty()) {
      detail += "; ";
    }
    detail += buf;
  }
  if (!detail.empty()) {
    what += " (" + detail + ")";
  }
  return make_error(kind, std::move(what));
}

Clock::time_point from_asn1(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return Clock::time_point{};
  }
  return Clock::from_time_t(timegm(&tm));
}

bool add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) {
    return false;
  }
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Serial numbers: 159 random bits, positive (RFC 5280 §4.1.2.2: at most 20
// octets, unique per issuer; randomness also defeats chosen-prefix attacks).
bool set_random_serial(X509* cert) {
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return false;
  }
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof(bytes), nullptr);
  if (bn == nullptr) {
    return false;
  }
  bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

}  // namespace

Result<PKey> generate_key(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyType::kRsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) {
    return ssl_error(ErrorKind::kInternal,
                     "generating a " + std::string(key_type_name(type)) + " key failed");
  }
  return PKey(key);
}

Result<Cert> issue_certificate(const Profile& profile, EVP_PKEY* subject_key,
                               const X509* issuer_cert, EVP_PKEY* issuer_key,
                               Clock::time_point now) {
  auto fail = [&](const char* step) {
    return ssl_error(ErrorKind::kInternal, "issuing the " + std::string(role_name(profile.role)) +
                                               " certificate failed at " + step);
  };
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 || !set_random_serial(cert.get())) {
    return fail("serial");
  }
  time_t start = Clock::to_time_t(now) - 5 * 60;
  const long valid_secs =
      static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(profile.validity).count());
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, valid_secs + 5 * 60, &start) == nullptr) {
    return fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(profile.common_name.c_str()), -1, -1, 0) != 1) {
    return fail("subject");
  }
  const X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return fail("issuer");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer), cert.get(), nullptr, nullptr, 0);
  bool ok = add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (profile.is_ca) {
    ok = ok && add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,digitalSignature");
  } else {
    ok = ok && add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    ok = ok && add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    // keyEncipherment only means something for RSA key transport (TLS 1.2).
    const bool rsa = EVP_PKEY_is_a(subject_key, "RSA") == 1;
    ok = ok &&
         add_ext(cert.get(), &ctx, NID_key_usage,
                 rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    if (profile.server_auth || profile.client_auth) {
      std::string eku = profile.server_auth ? "serverAuth" : "";
      if (profile.client_auth) {
        eku += eku.empty() ? "clientAuth" : ",clientAuth";
      }
      ok = ok && add_ext(cert.get(), &ctx, NID_ext_key_usage, eku);
    }
  }
  if (!ok) {
    return fail("extensions");
  }
  if (!profile.sans.empty()) {
    std::string list;
    for (const auto& san : profile.sans) {
      list += (list.empty() ? "" : ",") + san.to_string();
    }
    if (!add_ext(cert.get(), &ctx, NID_subject_alt_name, list)) {
      return fail("subjectAltName");
    }
  }
  // Ed25519 signs without a separate digest; every other key signs SHA-256.
  const EVP_MD* md = EVP_PKEY_is_a(issuer_key, "ED25519") == 1 ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), issuer_key, md) <= 0) {
    return fail("signing");
  }
  return cert;
}

Result<std::string> key_to_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_error(ErrorKind::kInternal, "encoding a private key failed");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> cert_to_pem(const X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert)) != 1) {
    return ssl_error(ErrorKind::kInternal, "encoding a certificate failed");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

namespace {

// The PEM readers skip text before "-----BEGIN"; we want exactly one object
// and nothing but whitespace around it, so a truncated or concatenated file is
// reported instead of half-read.
bool only_whitespace(BIO* bio) {
  char c;
  while (BIO_read(bio, &c, 1) == 1) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool starts_with_pem(std::string_view pem) {
  size_t i = pem.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && pem.substr(i, 11) == "-----BEGIN ";
}

}  // namespace

Result<PKey> key_from_pem(std::string_view pem) {
  if (!starts_with_pem(pem)) {
    return make_error(ErrorKind::kDataLoss, "not a PEM private key");
  }
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // An empty passphrase callback: an encrypted key fails instead of prompting.
  auto no_pass = [](char*, int, int, void*) -> int { return 0; };
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass, nullptr);
  if (key == nullptr) {
    return ssl_error(ErrorKind::kDataLoss, "not a readable PEM private key");
  }
  PKey owned(key);
  if (!only_whitespace(bio.get())) {
    return make_error(ErrorKind::kDataLoss, "unexpected data after the private key");
  }
  return owned;
}

Result<Cert> cert_from_pem(std::string_view pem) {
  if (!starts_with_pem(pem)) {
    return make_error(ErrorKind::kDataLoss, "not a PEM certificate");
  }
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) {
    return ssl_error(ErrorKind::kDataLoss, "not a readable PEM certificate");
  }
  Cert owned(cert);
  if (!only_whitespace(bio.get())) {
    return make_error(ErrorKind::kDataLoss, "unexpected data after the certificate");
  }
  return owned;
}

bool key_matches_cert(EVP_PKEY* key, const X509* cert) {
  bool ok = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

bool is_ca_cert(const X509* cert) {
  return X509_check_ca(const_cast<X509*>(cert)) >= 1;
}

Status verify_certificate(const X509* leaf, const X509* ca, std::string_view purpose,
                          Clock::time_point now) {
  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), const_cast<X509*>(ca)) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), nullptr) != 1) {
    return ssl_error(ErrorKind::kInternal, "setting up certificate verification failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, Clock::to_time_t(now));
  if (!purpose.empty()) {
    std::string p(purpose);
    int idx = X509_PURPOSE_get_by_sname(p.c_str());
    if (idx < 0 ||
        X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_get_id(X509_PURPOSE_get0(idx))) != 1) {
      return make_error(ErrorKind::kInternal, "unknown purpose " + p);
    }
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return make_error(ErrorKind::kFailedPrecondition,
                      std::string("certificate \"") + subject_cn(leaf) +
                          "\" does not verify against CA \"" + subject_cn(ca) +
                          "\": " + X509_verify_cert_error_string(err));
  }
  return {};
}

std::string sha256_fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) {
      out += ':';
    }
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Clock::time_point not_after(const X509* cert) {
  return from_asn1(X509_get0_notAfter(cert));
}
Clock::time_point not_before(const X509* cert) {
  return from_asn1(X509_get0_notBefore(cert));
}

std::string subject_cn(const X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
  return buf;
}

std::vector<SubjectAltName> cert_sans(const X509* cert) {
  std::vector<SubjectAltName> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.push_back({SubjectAltName::Type::kDns,
                     std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<size_t>(ASN1_STRING_length(s)))});
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof(text));
        out.push_back({SubjectAltName::Type::kIp, text});
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string describe_key(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    return "rsa" + std::to_string(EVP_PKEY_get_bits(key));
  }
  if (EVP_PKEY_is_a(key, "EC") == 1) {
    char group[64] = {};
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len);
    return std::string(group) == "prime256v1" ? "ecdsa-p256" : "ecdsa-" + std::string(group);
  }
  if (EVP_PKEY_is_a(key, "ED25519") == 1) {
    return "ed25519";
  }
  return "unknown";
}

}  // namespace certgen
