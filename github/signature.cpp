// signature_valid (app.h): GitHub's X-Hub-Signature-256 check. The HMAC is computed over
// the raw body exactly as received; parsing it first would change nothing GitHub signed
// but would let an unsigned body reach the JSON parser.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

#include "github/app.h"

namespace hearth::github {
namespace {

constexpr std::string_view kPrefix = "sha256=";

std::optional<int> hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// The 32 bytes written as 64 hex digits (either case), or nothing.
std::optional<std::array<unsigned char, 32>> from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::array<unsigned char, 32> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (!hi || !lo) return std::nullopt;
    out[i] = static_cast<unsigned char>(*hi << 4 | *lo);
  }
  return out;
}

}  // namespace

bool signature_valid(std::string_view secret, std::string_view raw_body, std::string_view header) {
  if (secret.empty() || !header.starts_with(kPrefix)) return false;
  auto claimed = from_hex(header.substr(kPrefix.size()));
  if (!claimed) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(raw_body.data()), raw_body.size(), mac.data(), &size) ||
      size != claimed->size())
    return false;
  return CRYPTO_memcmp(mac.data(), claimed->data(), claimed->size()) == 0;
}

}  // namespace hearth::github
