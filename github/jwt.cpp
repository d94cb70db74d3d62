// RS256 JWTs with OpenSSL's EVP interface (see jwt.h). The key is parsed once, at
// App::create, so that a wrong key file stops `hearth serve` at start, not at the first
// installation call.
#include "github/jwt.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

namespace hearth::github {

Result<RsaKey> RsaKey::load(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Error{ErrorCode::internal, "cannot allocate a buffer for the private key"};
  // An empty passphrase callback: an encrypted key fails instead of prompting on a tty.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (!raw) {
    ERR_clear_error();  // this thread's OpenSSL error queue must not blame a later TLS call
    return Error{ErrorCode::invalid, "not a PEM private key (PKCS#1 or PKCS#8, unencrypted)"};
  }
  RsaKey key;
  key.key_.reset(raw, &EVP_PKEY_free);
  if (EVP_PKEY_base_id(raw) != EVP_PKEY_RSA) return Error{ErrorCode::invalid, "not an RSA private key"};
  return key;
}

Result<std::string> RsaKey::sign_sha256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return Error{ErrorCode::internal, "cannot sign the App's JWT with its private key"};
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return Error{ErrorCode::internal, "cannot sign the App's JWT with its private key"};
  signature.resize(size);
  return signature;
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint8_t(bytes[i]) << 16;
    if (rest == 2) n |= std::uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    if (rest == 2) out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

Result<std::string> app_jwt(const RsaKey& key, std::string_view app_id, std::chrono::system_clock::time_point now) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json header{{"alg", "RS256"}, {"typ", "JWT"}};
  nlohmann::json claims{{"iat", seconds - 60}, {"exp", seconds + 540}, {"iss", std::string(app_id)}};
  auto signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  auto signature = key.sign_sha256(signing_input);
  if (!signature) return signature.error();
  return signing_input + "." + base64url(*signature);
}

}  // namespace hearth::github
