// signature_valid (app.h): GitHub's X-Hub-Signature-256 check. The HMAC is computed over
// the raw body exactly as received; parsing it first would change nothing GitHub signed
// but would let an unsigned body reach the JSON parser.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

#include "github/app.h"
#include "storage/text.h"

namespace hearth::github {
namespace {

constexpr std::string_view kPrefix = "sha256=";

}  // namespace

bool signature_valid(std::string_view secret, std::string_view raw_body, std::string_view header) {
  if (secret.empty() || !header.starts_with(kPrefix)) return false;
  auto claimed = hex32(header.substr(kPrefix.size()));
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
