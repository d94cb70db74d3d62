// The GitHub App Hearth acts as: its configuration, the App's JWT (RS256), installation
// tokens minted per operation, and the REST calls made on an installation's behalf.
//
// Every call on behalf of an installation, and every git operation, gets a token of its
// own, narrowed to the repositories and permissions that operation needs (GitHub's
// `repositories` and `permissions` in the token request). Tokens live only in memory:
// cached for the same (installation, repositories, permissions) until 5 minutes before
// their `expires_at`, never written to disk, argv or a log. Base URLs are configurable,
// so that tests (a fake on 127.0.0.1) and GitHub Enterprise Server work.
//
// Rate limits are waited out, not failed on: a response with x-ratelimit-remaining 0
// pauses the caller until x-ratelimit-reset; a secondary limit (403 or 429 with
// retry-after, or a 403 whose message names a secondary rate limit) pauses for
// retry-after (or a minute). A stop request ends a pause early with `interrupted`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/error.h"

namespace hearth::github {

using Json = nlohmann::json;

// What `hearth serve` is told of the App (flags and HEARTH_GITHUB_* variables, see
// docs/configuration.md). Without an id and a key, the App is not configured and the
// GitHub routes say so.
struct AppConfig {
  std::string app_id;
  std::string private_key_pem;  // the key file's contents: RSA, PKCS#1 or PKCS#8 PEM
  std::string webhook_secret;   // deliveries are verified with it (HMAC-SHA256)
  std::string slug;             // the App's URL name: its install URL is <web_url>/apps/<slug>/installations/new
  std::string client_id, client_secret;  // OAuth, for signing in with GitHub
  std::string api_url = "https://api.github.com";
  std::string web_url = "https://github.com";
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::seconds max_rate_limit_wait{3600};  // a longer wait fails with unavailable

  bool configured() const { return !app_id.empty() && !private_key_pem.empty(); }
};

// What a token is for: the repositories (names without the owner, "hello-world", and/or
// GitHub's repository ids, which stay across renames; both empty: every repository of
// the installation) and the permissions ({"contents": "write"}).
struct TokenScope {
  std::vector<std::string> repositories;
  Json permissions = Json::object();
  std::vector<std::int64_t> repository_ids;
};

struct InstallationToken {
  std::string value;  // never logged
  std::chrono::system_clock::time_point expires_at;
};

// Whether `header` (X-Hub-Signature-256, "sha256=<64 hex>") is the HMAC-SHA256 of
// `raw_body` with `secret`, compared in constant time. False for a missing, malformed or
// sha1 header, and for an empty secret.
bool signature_valid(std::string_view secret, std::string_view raw_body, std::string_view header);

// A time as GitHub writes it: "2019-05-15T15:20:33Z", with fractions of a second
// ("2020-05-20T19:31:50.000Z") or an offset ("2019-05-15T08:20:33-07:00"); nullopt for
// anything else.
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text);

class App {
 public:
  // Fails with invalid when the key is not an RSA private key in PEM (naming which
  // setting), or the base URLs are not http(s) URLs.
  static Result<std::unique_ptr<App>> create(AppConfig config);
  ~App();

  const AppConfig& config() const { return config_; }
  // <web_url>/apps/<slug>/installations/new?state=<state> (no state when empty); empty
  // without a slug.
  std::string install_url(const std::string& state) const;

  // The App's JWT: RS256, iss the App id, iat 60 s before `now`, exp 9 minutes after it.
  Result<std::string> jwt(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  // GET /app/installations/{id} with the JWT: {id, account: {login, type}, suspended_at,
  // ...} as GitHub answers; not_found when GitHub has no such installation for the App.
  Result<Json> installation(std::int64_t installation_id, std::stop_token stop = {});

  // A token for `installation_id` narrowed to `scope`, from the cache or minted
  // (POST /app/installations/{id}/access_tokens). Fails not_found, invalid (a repository
  // or permission the installation does not have: GitHub answers 422), forbidden (GitHub
  // refuses, e.g. a suspended installation), unavailable (GitHub unreachable).
  Result<InstallationToken> token(std::int64_t installation_id, const TokenScope& scope, std::stop_token stop = {});

  // GET `path` ("/installation/repositories", "/repos/o/r/pulls?state=open") with a
  // token narrowed to `scope`, following every page through the Link header
  // (per_page=100 added when absent). The items of all pages in order: the response
  // arrays, or for object responses the array under `items_key` ("repositories").
  // `on_page` (may be empty) hears after each page how many items so far and, when
  // GitHub says (total_count), how many in all.
  using PageProgress = std::function<void(std::size_t so_far, std::optional<std::size_t> total)>;
  Result<Json> get_all(std::int64_t installation_id, const TokenScope& scope, const std::string& path,
                       const std::string& items_key = {}, const PageProgress& on_page = {}, std::stop_token stop = {});

  // One GET with a token narrowed to `scope`: the body. not_found for 404.
  Result<Json> get(std::int64_t installation_id, const TokenScope& scope, const std::string& path,
                   std::stop_token stop = {});

  // One POST, PATCH or PUT of `body` to `path` with a token narrowed to `scope`: the body of
  // GitHub's answer. Errors as get's, a 422 with GitHub's details in the message.
  Result<Json> write(std::int64_t installation_id, const TokenScope& scope, std::string_view method,
                     const std::string& path, const Json& body, std::stop_token stop = {});

  // --- A person's GitHub identity (OAuth, through the App's client id and secret) -----
  bool oauth_configured() const { return !config_.client_id.empty() && !config_.client_secret.empty(); }
  // GitHub's authorize page for signing in (<web_url>/login/oauth/authorize) with the
  // App's client id, `redirect_uri` (Hearth's callback), `state` and the PKCE challenge
  // (S256 of the verifier the exchange then sends).
  std::string authorize_url(const std::string& state, const std::string& redirect_uri,
                            const std::string& code_challenge) const;
  // The user access token GitHub gives for `code` (its web flow: POST
  // <web_url>/login/oauth/access_token; with `code_verifier` and `redirect_uri` when the
  // flow started at authorize_url). Fails unauthorized with GitHub's description
  // for a bad, expired or used code (GitHub answers those with HTTP 200 and an "error"),
  // unavailable when GitHub cannot be reached. The token is for the caller to use at once
  // and drop: never logged, never stored here.
  Result<std::string> user_token(const std::string& code, std::stop_token stop = {},
                                 const std::string& code_verifier = {}, const std::string& redirect_uri = {});
  // Who the person whose user token this is: {id, login} (GET /user).
  Result<Json> user(const std::string& user_token, std::stop_token stop = {});
  // Whether the person whose user token this is can see installation `installation_id`
  // of this App (GET /user/installations, every page).
  Result<bool> user_has_installation(const std::string& user_token, std::int64_t installation_id,
                                     std::stop_token stop = {});

  // Tokens minted so far (tests: each operation mints its own, the cache reuses them).
  std::size_t tokens_minted() const;

 private:
  explicit App(AppConfig config);
  struct Impl;
  AppConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::github
