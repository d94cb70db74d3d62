// verify_signature (stripe.h): Stripe's webhook signature. The HMAC covers
// "{t}.{raw body}" exactly as received, so the body is checked before it is parsed, and
// the timestamp it signs is what bounds a replay.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "storage/text.h"
#include "stripe/stripe.h"

#include <algorithm>

namespace hearth::stripe {
namespace {
constexpr long long kFarAway = 1LL << 40;  // seconds: beyond any tolerance, far from overflow
}  // namespace

Status verify_signature(std::string_view header, std::string_view raw_body, const std::vector<std::string>& secrets,
                        std::chrono::system_clock::time_point now, std::chrono::seconds tolerance) {
  if (header.empty()) return Error{ErrorCode::invalid, "the event has no Stripe-Signature header"};
  std::string_view timestamp;
  std::vector<std::array<unsigned char, 32>> claimed;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") timestamp = value;
    else if (key == "v1")
      if (auto mac = hex32(value)) claimed.push_back(*mac);
  }
  long long t = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), t);
  if (timestamp.empty() || ec != std::errc{} || end != timestamp.data() + timestamp.size())
    return Error{ErrorCode::invalid, "the Stripe-Signature header has no timestamp (t=)"};
  if (claimed.empty()) return Error{ErrorCode::invalid, "the Stripe-Signature header has no v1 signature"};
  // Compared in seconds: a timestamp in nanoseconds (the clock's unit) overflows for a
  // t a few hundred years away, which the header may well claim.
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  long long apart = t > now_s ? t - now_s : (t < now_s - kFarAway ? kFarAway : now_s - t);
  auto off = std::chrono::seconds(std::min(apart, kFarAway));
  if (off > tolerance)
    return Error{ErrorCode::invalid, fmt::format("the event was signed {} s from now, more than the {} s allowed (a replay?)",
                                                 off.count(), tolerance.count())};
  std::string signed_text = std::string(timestamp) + "." + std::string(raw_body);
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int size = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac.data(), &size) ||
        size != 32)
      continue;
    for (const auto& c : claimed)
      if (CRYPTO_memcmp(mac.data(), c.data(), c.size()) == 0) return {};
  }
  return Error{ErrorCode::invalid, "no v1 signature of the Stripe-Signature header matches the body"};
}

}  // namespace hearth::stripe
