// The App's JSON Web Token: RS256 over base64url (no padding) header and claims,
// signed with the App's RSA private key (PEM, PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY"). GitHub accepts it on /app/* for at most 10 minutes; see app.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "storage/error.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace hearth::github {

// An RSA private key loaded once from PEM; copies share the same key.
class RsaKey {
 public:
  // Fails with invalid when `pem` is not an RSA private key in PEM (encrypted keys
  // included: there is no passphrase to give).
  static Result<RsaKey> load(std::string_view pem);
  // The RSASSA-PKCS1-v1_5 SHA-256 signature of `data` (raw bytes).
  Result<std::string> sign_sha256(std::string_view data) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
};

// base64url without padding, as JWTs use it.
std::string base64url(std::string_view bytes);

// {"alg":"RS256","typ":"JWT"} . {"iat": now-60, "exp": now+540, "iss": app_id} . signature.
// The 60 s in the past allow for clock drift; exp stays under GitHub's 10-minute limit.
Result<std::string> app_jwt(const RsaKey& key, std::string_view app_id, std::chrono::system_clock::time_point now);

}  // namespace hearth::github
