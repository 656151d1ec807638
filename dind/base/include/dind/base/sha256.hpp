#pragma once
// Incremental SHA-256 (OpenSSL EVP) with digests spelled "sha256:<hex>".

#include <memory>
#include <string>
#include <string_view>

namespace dind::base {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view data);
  std::string hex();     // finishes; 64 lowercase hex chars
  std::string digest();  // finishes; "sha256:<hex>"

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_digest(std::string_view data);  // "sha256:<hex>"

}  // namespace dind::base
