// Stripe, as Hearth's billing reaches it (docs/billing.md): its API at a configured base
// URL (https://api.stripe.com, or a test's fake on 127.0.0.1), form-encoded the way
// Stripe expects, every POST with an Idempotency-Key that its retries reuse, Stripe's
// errors turned into Hearth's codes in Stripe's words; and the check of a webhook's
// Stripe-Signature, made before its body is read.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/base_url.h"
#include "storage/error.h"

namespace hearth::stripe {

using Json = nlohmann::json;

// `params` (a JSON object) in Stripe's form encoding: nested objects and arrays as
// bracketed keys (metadata[org_id]=o_1, line_items[0][price]=price_team), booleans as
// true/false, numbers as written, nulls left out; keys and values percent-encoded.
std::string form_encode(const Json& params);

// Stripe-Signature ("t=1700000000,v1=hex,v1=hex"; other schemes ignored) for `raw_body`:
// ok when some v1 is the HMAC-SHA256 of "{t}.{raw_body}" under one of `secrets`
// (compared in constant time) and t is within `tolerance` of `now`. Fails with invalid
// in words: no header, no timestamp or v1, a timestamp too far from now (a replay), or
// no match.
Status verify_signature(std::string_view header, std::string_view raw_body, const std::vector<std::string>& secrets,
                        std::chrono::system_clock::time_point now,
                        std::chrono::seconds tolerance = std::chrono::seconds(300));

struct ClientConfig {
  std::string api_url = "https://api.stripe.com";
  std::string secret_key;  // sk_live_… or sk_test_… (or a restricted rk_…)
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // Network errors, 409 (lock_timeout), 429 and 5xx are asked again, this many times,
  // after pauses doubling from `first_pause`, with the same idempotency key.
  int retries = 3;
  std::chrono::milliseconds first_pause{std::chrono::milliseconds(250)};
};

class Client {
 public:
  // Fails with invalid for a base URL that is not http(s) or an empty key.
  static Result<std::unique_ptr<Client>> create(ClientConfig config);

  // GET `path` (under the base: "/v1/subscriptions/sub_1") with `query` form-encoded.
  Result<Json> get(const std::string& path, const Json& query = Json::object(), std::stop_token stop = {});
  // POST `params` form-encoded to `path` with Idempotency-Key `idempotency_key`: asking
  // again with the same key never makes a second object.
  Result<Json> post(const std::string& path, const Json& params, const std::string& idempotency_key,
                    std::stop_token stop = {});

  // Stripe's answers in errors: 400 invalid, 401 and 403 unavailable (the server's key is
  // at fault, not the caller), 402 conflict (a card declined), 404 not_found, 409 and
  // 429 after retries rate_limited, 5xx and unreachable unavailable; each message names
  // the request and carries Stripe's message (and param). The key is never in one.

  const ClientConfig& config() const { return config_; }

 private:
  Client(ClientConfig config, BaseUrl base) : config_(std::move(config)), base_(std::move(base)) {}
  Result<Json> send(const std::string& method, const std::string& path, const std::string& form,
                    const std::string& idempotency_key, std::stop_token stop);

  ClientConfig config_;
  BaseUrl base_;
};

}  // namespace hearth::stripe
