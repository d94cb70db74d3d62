// Secrets at rest: libsodium's crypto_secretbox (XSalsa20-Poly1305) under the server's
// master key. The master key comes from HEARTH_MASTER_KEY (64 hex digits) or from
// DATA_DIR/master.key, created on first run with mode 0600. Each sealed value is bound
// to a context (e.g. "org o_1/secret NAME") so that a ciphertext copied to another
// place does not open there.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "storage/error.h"

namespace hearth::storage {

struct Sealed {
  std::string nonce;       // base64
  std::string ciphertext;  // base64
};

class MasterKey {
 public:
  // HEARTH_MASTER_KEY when set (invalid: an error naming it), else the key file under
  // `data_dir`, created if missing. Never logs the key.
  static Result<MasterKey> load(const std::filesystem::path& data_dir);
  // From 64 hex digits.
  static Result<MasterKey> from_hex(std::string_view hex);

  Sealed seal(std::string_view context, std::string_view plaintext) const;
  // unauthorized when the key, the context or the bytes do not match.
  Result<std::string> open(std::string_view context, const Sealed& sealed) const;

  MasterKey(const MasterKey&) = default;
  ~MasterKey();  // wipes the key

 private:
  MasterKey() = default;
  std::array<unsigned char, 32> key_{};
};

}  // namespace hearth::storage
