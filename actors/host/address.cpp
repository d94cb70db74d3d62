// Actor addresses: validation, stable ids and database paths.
#include "actors/host/address.h"

#include <fmt/format.h>
#include <sodium.h>

#include "storage/text.h"

namespace hearth::actors {
namespace {

constexpr std::size_t kMaxTypeBytes = 64;
constexpr std::size_t kMaxKeyParts = 16;
constexpr std::size_t kMaxKeyPartBytes = 512;

}  // namespace

std::string Address::id() const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 16);
  auto feed = [&](std::string_view part) {
    unsigned char len[8];
    std::uint64_t n = part.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    crypto_generichash_update(&st, len, sizeof len);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  };
  feed(type);
  for (const auto& part : key) feed(part);
  unsigned char out[16];
  crypto_generichash_final(&st, out, sizeof out);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string Address::display() const { return fmt::format("{} {}", type, json_text(Json(key))); }

Json Address::to_json() const { return Json{{"type", type}, {"key", key}}; }

Status validate(const Address& address) {
  const auto& t = address.type;
  bool type_ok = !t.empty() && t.size() <= kMaxTypeBytes && t[0] >= 'a' && t[0] <= 'z';
  for (char c : t) type_ok = type_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  if (!type_ok)
    return Error{ErrorCode::invalid,
                 fmt::format("actor type \"{}\" must match [a-z][a-z0-9_-]* (at most {} bytes)",
                             printable(t, 80), kMaxTypeBytes)};
  if (address.key.size() > kMaxKeyParts)
    return Error{ErrorCode::invalid, fmt::format("actor key has {} parts; at most {} are allowed",
                                                 address.key.size(), kMaxKeyParts)};
  for (std::size_t i = 0; i < address.key.size(); ++i) {
    const auto& part = address.key[i];
    if (part.size() > kMaxKeyPartBytes)
      return Error{ErrorCode::invalid, fmt::format("actor key part {} has {} bytes; at most {} are allowed",
                                                   i, part.size(), kMaxKeyPartBytes)};
    if (!valid_utf8(part))
      return Error{ErrorCode::invalid, fmt::format("actor key part {} is not valid UTF-8", i)};
  }
  return {};
}

Result<Address> address_from_json(const Json& json) {
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string() ||
      !json.contains("key") || !json["key"].is_array())
    return Error{ErrorCode::invalid, "an address is {\"type\": string, \"key\": [string, ...]}"};
  Address a{json["type"].get<std::string>(), {}};
  for (const auto& part : json["key"]) {
    if (!part.is_string()) return Error{ErrorCode::invalid, "every part of an actor key must be a string"};
    a.key.push_back(part.get<std::string>());
  }
  if (auto st = validate(a); !st) return st.error();
  return a;
}

std::filesystem::path database_path(const std::filesystem::path& data_dir, const Address& address) {
  auto id = address.id();
  return data_dir / "actors" / address.type / id.substr(0, 2) / (id + ".db");
}

}  // namespace hearth::actors
