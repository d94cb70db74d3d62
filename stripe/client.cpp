// Stripe's API over cpp-httplib (see stripe.h). One loop in send(): ask; a network
// error, 409, 429 or 5xx is asked again after a pause with the same idempotency key
// (Stripe answers a repeated key with the first answer); any other answer is final.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "stripe/stripe.h"
#include "storage/pause.h"
#include "storage/text.h"

namespace hearth::stripe {
namespace {

void flatten(const std::string& key, const Json& value, std::string& out) {
  if (value.is_null()) return;
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) flatten(key.empty() ? k : key + "[" + k + "]", v, out);
    return;
  }
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) flatten(key + "[" + std::to_string(i) + "]", value[i], out);
    return;
  }
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (!out.empty()) out += '&';
  out += percent_encoded(key) + "=" + percent_encoded(text);
}

// Stripe's error object in words: "No such price: 'x' (param line_items[0][price])".
std::string message_of(const Json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return "no message";
  const auto& e = body["error"];
  std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "no message";
  if (e.contains("param") && e["param"].is_string()) message += " (param " + e["param"].get<std::string>() + ")";
  return printable(message, 500);
}

ErrorCode code_for_status(int status) {
  switch (status) {
    case 400: return ErrorCode::invalid;
    case 401:
    case 403: return ErrorCode::unavailable;  // the server's key, not the caller
    case 402: return ErrorCode::conflict;     // a card declined
    case 404: return ErrorCode::not_found;
    case 409:
    case 429: return ErrorCode::rate_limited;
    default: return status >= 500 ? ErrorCode::unavailable : ErrorCode::internal;
  }
}

bool retried(int status) { return status == 409 || status == 429 || status >= 500; }

}  // namespace

std::string form_encode(const Json& params) {
  std::string out;
  flatten("", params, out);
  return out;
}

Result<std::unique_ptr<Client>> Client::create(ClientConfig config) {
  auto base = BaseUrl::parse(config.api_url);
  if (!base) return Error{ErrorCode::invalid, "the Stripe API URL: " + base.error().message};
  if (config.secret_key.empty()) return Error{ErrorCode::invalid, "the Stripe secret key is empty"};
  return std::unique_ptr<Client>(new Client(std::move(config), std::move(*base)));
}

Result<Json> Client::get(const std::string& path, const Json& query, std::stop_token stop) {
  auto q = form_encode(query);
  return send("GET", q.empty() ? path : path + "?" + q, "", "", stop);
}

Result<Json> Client::post(const std::string& path, const Json& params, const std::string& idempotency_key,
                          std::stop_token stop) {
  return send("POST", path, form_encode(params), idempotency_key, stop);
}

Result<Json> Client::send(const std::string& method, const std::string& target, const std::string& form,
                          const std::string& idempotency_key, std::stop_token stop) {
  const std::string what = method + " " + target.substr(0, target.find('?'));
  httplib::Client client(base_.origin);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config_.timeout).count();
  client.set_connection_timeout(seconds, 0);
  client.set_read_timeout(seconds, 0);
  client.set_write_timeout(seconds, 0);
  httplib::Headers headers{{"Authorization", "Bearer " + config_.secret_key},
                           {"Stripe-Version", "2024-06-20"},
                           {"User-Agent", "hearth"}};
  if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
  auto wait = config_.first_pause;
  for (int attempt = 0;; ++attempt) {
    if (stop.stop_requested()) return Error{ErrorCode::interrupted, what + ": stopped before Stripe answered"};
    auto path = base_.prefix + target;
    auto res = method == "POST" ? client.Post(path, headers, form, "application/x-www-form-urlencoded")
                                : client.Get(path, headers);
    Error error{ErrorCode::unavailable, ""};
    if (!res) {
      error.message = what + ": cannot reach Stripe at " + base_.origin + ": " + httplib::to_string(res.error());
    } else {
      auto body = res->body.empty() ? Json() : Json::parse(res->body, nullptr, false);
      if (res->status >= 200 && res->status < 300) {
        if (!body.is_object()) return Error{ErrorCode::internal, what + ": Stripe's answer is not a JSON object"};
        return body;
      }
      // Stripe's words for a refused key name part of it: not repeated.
      auto words = res->status == 401 || res->status == 403 ? std::string("it refused the server's API key")
                                                            : message_of(body);
      error = Error{code_for_status(res->status), fmt::format("{}: Stripe answered {}: {}", what, res->status, words)};
      if (!retried(res->status)) return error;
    }
    if (attempt >= config_.retries) return error;
    spdlog::info("stripe.retry request=\"{}\" attempt={} wait_ms={} error=\"{}\"", what, attempt + 1, wait.count(),
                 error.message);
    if (!storage::pause(wait, stop)) return Error{ErrorCode::interrupted, what + ": stopped while waiting to ask Stripe again"};
    wait *= 2;
  }
}

}  // namespace hearth::stripe
