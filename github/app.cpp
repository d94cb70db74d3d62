// The GitHub App (app.h): its JWT for /app/*, installation tokens minted per operation
// and cached by scope, and installation calls that follow every page. The HTTP, error
// mapping and rate-limit pauses are rest.h's; the signing is jwt.h's.
#include "github/app.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>

#include "github/jwt.h"
#include "github/rest.h"
#include "storage/text.h"

namespace hearth::github {
namespace {

using namespace std::chrono_literals;

constexpr auto kReuseMargin = 5min;  // a cached token is not handed out closer to its expiry

// "2016-07-11T22:14:10Z" as GitHub writes expires_at; nothing for any other shape.
// The cache key: the same installation, repositories (in any order) and permissions.
std::string cache_key(std::int64_t installation_id, const TokenScope& scope) {
  auto repositories = scope.repositories;
  std::sort(repositories.begin(), repositories.end());
  auto ids = scope.repository_ids;
  std::sort(ids.begin(), ids.end());
  std::string key = std::to_string(installation_id) + "|";
  for (const auto& r : repositories) key += r + ",";
  key += "|";
  for (auto id : ids) key += std::to_string(id) + ",";
  return key + "|" + scope.permissions.dump();
}

// `path` with per_page=100 when it names no page size.
std::string with_page_size(const std::string& path) {
  if (path.find("per_page=") != std::string::npos) return path;
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "per_page=100";
}

}  // namespace

struct App::Impl {
  RsaKey key;
  BaseUrl api;
  std::mutex mu;
  std::map<std::string, InstallationToken> tokens;  // by cache_key; guarded by mu
  std::atomic<std::size_t> minted{0};

  // Drops the cached token for this scope: GitHub no longer takes it (revoked, or the
  // installation changed), and the next operation must mint a new one.
  void forget(std::int64_t installation_id, const TokenScope& scope) {
    std::lock_guard lock(mu);
    tokens.erase(cache_key(installation_id, scope));
  }

  RestClient client(const AppConfig& config) const {
    return RestClient(api, config.request_timeout, config.max_rate_limit_wait);
  }
};

App::App(AppConfig config) : config_(std::move(config)) {}
App::~App() = default;

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS, then fractions of a second, then Z or ±HH:MM.
  // Digits where the pattern has them (sscanf alone would take signs and spaces), and a
  // year the clock can hold (its nanoseconds span 1678-2262).
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (text.size() < kShape.size()) return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i)
    if (kShape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(text[i])) : text[i] != kShape[i])
      return std::nullopt;
  std::tm tm{};
  int used = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &used) != 6 || used != 19)
    return std::nullopt;
  if (tm.tm_year < 1970 || tm.tm_year > 2200 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  std::string_view rest = text.substr(19);
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    if (rest.empty() || !std::isdigit(static_cast<unsigned char>(rest.front()))) return std::nullopt;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  int offset_s = 0;
  if (rest == "Z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
             std::isdigit(static_cast<unsigned char>(rest[1])) && std::isdigit(static_cast<unsigned char>(rest[2])) &&
             std::isdigit(static_cast<unsigned char>(rest[4])) && std::isdigit(static_cast<unsigned char>(rest[5]))) {
    offset_s = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 + ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
    if (rest[0] == '-') offset_s = -offset_s;
  } else {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm) - offset_s);
}

Result<std::unique_ptr<App>> App::create(AppConfig config) {
  if (config.app_id.empty()) return Error{ErrorCode::invalid, "the GitHub App id (--github-app-id) is empty"};
  auto key = RsaKey::load(config.private_key_pem);
  if (!key)
    return Error{ErrorCode::invalid, "the GitHub App private key (--github-private-key-file): " + key.error().message};
  auto api = BaseUrl::parse(config.api_url);
  if (!api) return Error{ErrorCode::invalid, "the GitHub API URL (--github-api-url): " + api.error().message};
  if (auto web = BaseUrl::parse(config.web_url); !web)
    return Error{ErrorCode::invalid, "the GitHub web URL (--github-web-url): " + web.error().message};
  std::unique_ptr<App> app(new App(std::move(config)));
  app->impl_ = std::make_unique<Impl>();
  app->impl_->key = std::move(*key);
  app->impl_->api = std::move(*api);
  return app;
}

std::string App::install_url(const std::string& state) const {
  if (config_.slug.empty()) return {};
  auto base = config_.web_url;
  while (base.ends_with('/')) base.pop_back();
  auto url = base + "/apps/" + config_.slug + "/installations/new";
  return state.empty() ? url : url + "?state=" + percent_encoded(state);
}

Result<std::string> App::jwt(std::chrono::system_clock::time_point now) const {
  return app_jwt(impl_->key, config_.app_id, now);
}

Result<Json> App::installation(std::int64_t installation_id, std::stop_token stop) {
  auto token = jwt();
  if (!token) return token.error();
  auto client = impl_->client(config_);
  auto res = client.send("GET", impl_->api.prefix + "/app/installations/" + std::to_string(installation_id),
                         "Bearer " + *token, nullptr, stop);
  if (!res) return res.error();
  return std::move(res->body);
}

Result<InstallationToken> App::token(std::int64_t installation_id, const TokenScope& scope, std::stop_token stop) {
  const auto key = cache_key(installation_id, scope);
  {
    std::lock_guard lock(impl_->mu);
    if (auto it = impl_->tokens.find(key); it != impl_->tokens.end()) {
      if (it->second.expires_at - kReuseMargin > std::chrono::system_clock::now()) return it->second;
      impl_->tokens.erase(it);
    }
  }
  auto app_token = jwt();
  if (!app_token) return app_token.error();
  Json request = Json::object();
  if (!scope.repositories.empty()) request["repositories"] = scope.repositories;
  if (!scope.repository_ids.empty()) request["repository_ids"] = scope.repository_ids;
  if (!scope.permissions.empty()) request["permissions"] = scope.permissions;
  auto client = impl_->client(config_);
  auto res = client.send("POST", impl_->api.prefix + "/app/installations/" + std::to_string(installation_id) + "/access_tokens",
                         "Bearer " + *app_token, &request, stop);
  if (!res) return res.error();
  ++impl_->minted;
  const auto& body = res->body;
  auto expires_at = parse_time(body.is_object() ? body.value("expires_at", "") : "");
  if (!body.is_object() || !body.contains("token") || !body["token"].is_string() || !expires_at)
    return Error{ErrorCode::internal, "POST /app/installations/" + std::to_string(installation_id) +
                                          "/access_tokens: GitHub's answer has no token or expires_at"};
  InstallationToken minted{body["token"].get<std::string>(), *expires_at};
  spdlog::debug("github.token_minted installation={} repositories={} permissions={}", installation_id,
                scope.repositories.size() + scope.repository_ids.size(), scope.permissions.dump());
  std::lock_guard lock(impl_->mu);
  impl_->tokens[key] = minted;
  return minted;
}

Result<Json> App::get(std::int64_t installation_id, const TokenScope& scope, const std::string& path,
                      std::stop_token stop) {
  auto token = this->token(installation_id, scope, stop);
  if (!token) return token.error();
  auto client = impl_->client(config_);
  auto res = client.send("GET", impl_->api.prefix + path, "token " + token->value, nullptr, stop);
  if (!res && res.error().code == ErrorCode::unauthorized) impl_->forget(installation_id, scope);
  if (!res) return res.error();
  return std::move(res->body);
}

Result<Json> App::write(std::int64_t installation_id, const TokenScope& scope, std::string_view method,
                        const std::string& path, const Json& body, std::stop_token stop) {
  auto token = this->token(installation_id, scope, stop);
  if (!token) return token.error();
  auto client = impl_->client(config_);
  auto res = client.send(method, impl_->api.prefix + path, "token " + token->value, &body, stop);
  if (!res && res.error().code == ErrorCode::unauthorized) impl_->forget(installation_id, scope);
  if (!res) return res.error();
  return std::move(res->body);
}

namespace {

// Every page of `path` (GitHub's Link rel="next", on the base's origin only), as `client`
// with `authorization` reads them: the arrays, or for object answers the array under
// `items_key`.
Result<Json> all_pages(RestClient& client, const std::string& prefix, const std::string& authorization,
                       const std::string& path, const std::string& items_key, const App::PageProgress& on_page,
                       std::stop_token stop) {
  Json items = Json::array();
  std::string target = prefix + with_page_size(path);
  while (!target.empty()) {
    auto res = client.send("GET", target, authorization, nullptr, stop);
    if (!res) return res.error();
    const Json& page = items_key.empty() ? res->body : res->body.is_object() ? res->body.value(items_key, Json()) : Json();
    if (!page.is_array())
      return Error{ErrorCode::internal, "GET " + path + ": GitHub's answer has no array" +
                                            (items_key.empty() ? "" : " under \"" + items_key + "\"")};
    for (const auto& item : page) items.push_back(item);
    std::optional<std::size_t> total;
    if (res->body.is_object() && res->body.contains("total_count") && res->body["total_count"].is_number_unsigned())
      total = res->body["total_count"].get<std::size_t>();
    if (on_page) on_page(items.size(), total);
    if (res->link_next.empty()) break;
    auto next = client.target_of(res->link_next);
    if (!next) return Error{next.error().code, "GET " + path + ": " + next.error().message};
    target = *next;
  }
  return items;
}

}  // namespace

Result<Json> App::get_all(std::int64_t installation_id, const TokenScope& scope, const std::string& path,
                          const std::string& items_key, const PageProgress& on_page, std::stop_token stop) {
  auto token = this->token(installation_id, scope, stop);
  if (!token) return token.error();
  auto client = impl_->client(config_);
  auto items = all_pages(client, impl_->api.prefix, "token " + token->value, path, items_key, on_page, stop);
  if (!items && items.error().code == ErrorCode::unauthorized) impl_->forget(installation_id, scope);
  return items;
}

std::string App::authorize_url(const std::string& state, const std::string& redirect_uri,
                               const std::string& code_challenge) const {
  auto base = config_.web_url;
  while (base.ends_with('/')) base.pop_back();
  return base + "/login/oauth/authorize?client_id=" + percent_encoded(config_.client_id) +
         "&redirect_uri=" + percent_encoded(redirect_uri) + "&state=" + percent_encoded(state) +
         "&code_challenge=" + percent_encoded(code_challenge) + "&code_challenge_method=S256&allow_signup=false";
}

Result<Json> App::user(const std::string& user_token, std::stop_token stop) {
  auto client = impl_->client(config_);
  auto res = client.send("GET", impl_->api.prefix + "/user", "Bearer " + user_token, nullptr, stop);
  if (!res) return res.error();
  const auto& body = res->body;
  if (!body.is_object() || !body.contains("id") || !body["id"].is_number_integer() || !body.contains("login") ||
      !body["login"].is_string())
    return Error{ErrorCode::internal, "GET /user: GitHub's answer has no id and login"};
  return Json{{"id", body["id"]}, {"login", body["login"]}};
}

Result<std::string> App::user_token(const std::string& code, std::stop_token stop, const std::string& code_verifier,
                                    const std::string& redirect_uri) {
  if (!oauth_configured())
    return Error{ErrorCode::unavailable, "the GitHub App has no OAuth client configured (--github-client-id, "
                                         "--github-client-secret)"};
  auto web = BaseUrl::parse(config_.web_url);
  if (!web) return web.error();
  // GitHub's OAuth endpoint answers JSON when asked for it (not the API's media type).
  RestClient client(*web, config_.request_timeout, config_.max_rate_limit_wait);
  Json request{{"client_id", config_.client_id}, {"client_secret", config_.client_secret}, {"code", code}};
  if (!code_verifier.empty()) request["code_verifier"] = code_verifier;
  if (!redirect_uri.empty()) request["redirect_uri"] = redirect_uri;
  auto res = client.send("POST", web->prefix + "/login/oauth/access_token", "", &request, stop, "application/json");
  if (!res) return res.error();
  const auto& body = res->body;
  if (body.is_object() && body.contains("error")) {
    auto why = body.contains("error_description") && body["error_description"].is_string()
                   ? body["error_description"].get<std::string>()
                   : body["error"].is_string() ? body["error"].get<std::string>() : std::string("refused");
    return Error{ErrorCode::unauthorized, "GitHub did not accept the authorization: " + why};
  }
  if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string())
    return Error{ErrorCode::internal, "POST /login/oauth/access_token: GitHub's answer has no access_token"};
  return body["access_token"].get<std::string>();
}

Result<bool> App::user_has_installation(const std::string& user_token, std::int64_t installation_id,
                                        std::stop_token stop) {
  auto client = impl_->client(config_);
  auto items = all_pages(client, impl_->api.prefix, "Bearer " + user_token, "/user/installations", "installations", {},
                         stop);
  if (!items) return items.error();
  for (const auto& i : *items)
    if (i.is_object() && i.contains("id") && i["id"].is_number_integer() && i["id"].get<std::int64_t>() == installation_id)
      return true;
  return false;
}

std::size_t App::tokens_minted() const { return impl_->minted.load(); }

}  // namespace hearth::github
