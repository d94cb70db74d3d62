// GitHub's REST API over cpp-httplib (see rest.h). The one loop in send(): ask, and
// when GitHub says "rate limited", pause as long as it says (interruptibly) and ask
// again; any other answer is final.
#include "github/rest.h"

#include "storage/pause.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace hearth::github {
namespace {

using namespace std::chrono_literals;

constexpr auto kSecondaryDefaultPause = 60s;  // GitHub's advice when it gives no retry-after
constexpr auto kShortestPause = 500ms;        // never ask again at once: a reset already past
constexpr auto kResetMargin = 250ms;

std::optional<long long> to_integer(std::string_view text) {
  long long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// The path of `target` without its query: what messages and logs name.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

ErrorCode code_for_status(int status) {
  switch (status) {
    case 400: return ErrorCode::invalid;
    case 401: return ErrorCode::unauthorized;
    case 403: return ErrorCode::forbidden;
    case 404: return ErrorCode::not_found;
    case 405: return ErrorCode::conflict;  // "Pull Request is not mergeable"
    case 409: return ErrorCode::conflict;  // "Head branch was modified"
    case 422: return ErrorCode::invalid;
    default: return status >= 500 ? ErrorCode::unavailable : ErrorCode::internal;
  }
}

// GitHub's message, with the details of a validation failure (422: "errors", each a
// message or a field and a code): "Validation Failed: No commits between main and x".
std::string message_of(const nlohmann::json& body) {
  if (!body.is_object()) return "no message";
  std::string message = body.contains("message") && body["message"].is_string() ? body["message"].get<std::string>()
                                                                                 : "no message";
  if (!body.contains("errors") || !body["errors"].is_array()) return message;
  std::string details;
  for (const auto& e : body["errors"]) {
    std::string one;
    if (e.is_string()) one = e.get<std::string>();
    else if (e.is_object() && e.contains("message") && e["message"].is_string()) one = e["message"].get<std::string>();
    else if (e.is_object() && e.contains("field") && e["field"].is_string())
      one = e["field"].get<std::string>() + " " + (e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "invalid");
    if (!one.empty()) details += (details.empty() ? "" : "; ") + one;
  }
  return details.empty() ? message : message + ": " + details;
}

}  // namespace

std::optional<std::chrono::milliseconds> rate_limit_pause(const RateLimitSignals& signals,
                                                          std::chrono::system_clock::time_point now) {
  if (signals.status != 403 && signals.status != 429) return std::nullopt;
  if (auto seconds = to_integer(signals.retry_after)) return std::max<std::chrono::milliseconds>(std::chrono::seconds(*seconds), kShortestPause);
  if (signals.message.find("secondary rate limit") != std::string::npos) return kSecondaryDefaultPause;
  auto reset = to_integer(signals.reset);
  if (signals.remaining != "0" || !reset) return std::nullopt;
  // A little past the reset: waking a millisecond early would only earn another 403.
  auto until_reset = std::chrono::ceil<std::chrono::milliseconds>(
                         std::chrono::system_clock::time_point(std::chrono::seconds(*reset)) - now) + kResetMargin;
  return std::max<std::chrono::milliseconds>(until_reset, kShortestPause);
}

std::string next_link(std::string_view link_header) {
  // Each part: <url>; rel="next"
  while (!link_header.empty()) {
    auto comma = link_header.find(",");
    auto part = link_header.substr(0, comma);
    link_header = comma == std::string_view::npos ? std::string_view{} : link_header.substr(comma + 1);
    auto open = part.find('<'), close = part.find('>');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) continue;
    if (part.find("rel=\"next\"", close) != std::string_view::npos) return std::string(part.substr(open + 1, close - open - 1));
  }
  return {};
}

RestClient::RestClient(BaseUrl base, std::chrono::milliseconds timeout, std::chrono::seconds max_rate_limit_wait)
    : base_(std::move(base)), max_rate_limit_wait_(max_rate_limit_wait), client_(std::make_unique<httplib::Client>(base_.origin)) {
  client_->set_connection_timeout(timeout);
  client_->set_read_timeout(timeout);
  client_->set_write_timeout(timeout);
  client_->set_follow_location(false);  // a redirect must not carry the token elsewhere
  client_->set_keep_alive(true);
}

RestClient::~RestClient() = default;

Result<std::string> RestClient::target_of(std::string_view url) const {
  if (url.starts_with("/")) return std::string(url);
  auto parsed = BaseUrl::parse(url.substr(0, url.find('?')));
  if (!parsed || parsed->origin != base_.origin)
    return Error{ErrorCode::invalid, "GitHub linked to " + std::string(url.substr(0, url.find('?'))) +
                                         ", outside the configured API " + base_.origin + base_.prefix + ": not followed"};
  return std::string(url.substr(parsed->origin.size()));
}

Result<RestResponse> RestClient::send(std::string_view method, const std::string& target,
                                      const std::string& authorization, const nlohmann::json* body,
                                      std::stop_token stop, const std::string& accept) {
  const std::string what = std::string(method) + " " + std::string(path_of(target));
  httplib::Headers headers{{"Accept", accept}, {"X-GitHub-Api-Version", "2022-11-28"}, {"User-Agent", "hearth"}};
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  auto waited = std::chrono::milliseconds::zero();
  for (;;) {
    if (stop.stop_requested()) return Error{ErrorCode::interrupted, what + ": stopped before GitHub answered"};
    auto payload = body ? body->dump() : std::string("{}");
    auto res = method == "POST"    ? client_->Post(target, headers, payload, "application/json")
               : method == "PATCH" ? client_->Patch(target, headers, payload, "application/json")
               : method == "PUT"   ? client_->Put(target, headers, payload, "application/json")
                                   : client_->Get(target, headers);
    if (!res)
      return Error{ErrorCode::unavailable,
                   what + ": cannot reach GitHub at " + base_.origin + ": " + httplib::to_string(res.error())};
    RestResponse out{res->status, nullptr, next_link(res->get_header_value("Link"))};
    if (!res->body.empty()) out.body = nlohmann::json::parse(res->body, nullptr, false);
    if (out.status >= 200 && out.status < 300) {
      if (out.body.is_discarded()) return Error{ErrorCode::internal, what + ": GitHub's answer is not JSON"};
      return out;
    }
    auto message = message_of(out.body);
    auto wait = rate_limit_pause({out.status, res->get_header_value("retry-after"),
                                  res->get_header_value("x-ratelimit-remaining"),
                                  res->get_header_value("x-ratelimit-reset"), message},
                                 std::chrono::system_clock::now());
    if (!wait) return Error{code_for_status(out.status), what + ": GitHub answered " + std::to_string(out.status) + ": " + message};
    if (waited + *wait > max_rate_limit_wait_)
      return Error{ErrorCode::unavailable, what + ": rate limited by GitHub for " +
                                               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*wait).count()) +
                                               " s more, past the longest wait allowed: " + message};
    spdlog::info("github.rate_limited request=\"{}\" status={} wait_ms={}", what, out.status, wait->count());
    if (!storage::pause(*wait, stop)) return Error{ErrorCode::interrupted, what + ": stopped while waiting out GitHub's rate limit"};
    waited += *wait;
  }
}

}  // namespace hearth::github
