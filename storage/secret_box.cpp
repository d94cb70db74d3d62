// Secrets at rest: see secret_box.h.
#include "storage/secret_box.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace hearth::storage {

namespace {

std::string to_base64(const unsigned char* bytes, std::size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool from_base64(const std::string& text, std::vector<unsigned char>& out) {
  out.resize(text.size());
  std::size_t n = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &n, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  out.resize(n);
  return true;
}

// The context goes inside the box, ahead of the value: opening checks it.
std::string framed(std::string_view context, std::string_view plaintext) {
  std::string out;
  out.reserve(context.size() + 1 + plaintext.size());
  out.append(context).push_back('\n');
  out.append(plaintext);
  return out;
}

}  // namespace

MasterKey::~MasterKey() { sodium_memzero(key_.data(), key_.size()); }

Result<MasterKey> MasterKey::from_hex(std::string_view hex) {
  MasterKey k;
  std::size_t n = 0;
  if (hex.size() != 64 || sodium_hex2bin(k.key_.data(), k.key_.size(), hex.data(), hex.size(), nullptr, &n, nullptr) != 0 ||
      n != k.key_.size())
    return Error{ErrorCode::invalid, "a master key is 64 hex digits (32 bytes)"};
  return k;
}

Result<MasterKey> MasterKey::load(const std::filesystem::path& data_dir) {
  if (sodium_init() < 0) return Error{ErrorCode::internal, "libsodium failed to initialize"};
  if (const char* env = std::getenv("HEARTH_MASTER_KEY"); env && *env) {
    auto k = from_hex(env);
    if (!k) return Error{ErrorCode::invalid, "HEARTH_MASTER_KEY: " + k.error().message};
    return k;
  }
  auto path = data_dir / "master.key";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char hex[65] = {};
    auto n = ::read(fd, hex, 64);
    ::close(fd);
    auto k = from_hex(std::string_view(hex, n > 0 ? static_cast<std::size_t>(n) : 0));
    if (!k) return Error{ErrorCode::invalid, path.string() + ": " + k.error().message};
    return k;
  }
  // First run: a new random key, readable by this user only from the start.
  MasterKey k;
  randombytes_buf(k.key_.data(), k.key_.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, k.key_.data(), k.key_.size());
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("cannot create {}: {}", path.string(), std::strerror(errno))};
  bool ok = ::write(fd, hex, 64) == 64 && ::write(fd, "\n", 1) == 1 && ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(hex, sizeof hex);
  if (!ok) return Error{ErrorCode::unavailable, "cannot write " + path.string()};
  return k;
}

Sealed MasterKey::seal(std::string_view context, std::string_view plaintext) const {
  auto message = framed(context, plaintext);
  unsigned char nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(nonce, sizeof nonce);
  std::vector<unsigned char> box(crypto_secretbox_MACBYTES + message.size());
  crypto_secretbox_easy(box.data(), reinterpret_cast<const unsigned char*>(message.data()), message.size(), nonce,
                        key_.data());
  sodium_memzero(message.data(), message.size());
  return Sealed{to_base64(nonce, sizeof nonce), to_base64(box.data(), box.size())};
}

Result<std::string> MasterKey::open(std::string_view context, const Sealed& sealed) const {
  const Error refused{ErrorCode::unauthorized, "the secret does not open with this master key"};
  std::vector<unsigned char> nonce, box;
  if (!from_base64(sealed.nonce, nonce) || nonce.size() != crypto_secretbox_NONCEBYTES ||
      !from_base64(sealed.ciphertext, box) || box.size() < crypto_secretbox_MACBYTES)
    return refused;
  std::string message(box.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(message.data()), box.data(), box.size(),
                                 nonce.data(), key_.data()) != 0)
    return refused;
  auto expected = std::string(context) + "\n";
  if (message.compare(0, expected.size(), expected) != 0) {
    sodium_memzero(message.data(), message.size());
    return refused;
  }
  auto value = message.substr(expected.size());
  sodium_memzero(message.data(), message.size());
  return value;
}

}  // namespace hearth::storage
