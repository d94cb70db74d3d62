// A fake of GitHub's REST API for a GitHub App, on 127.0.0.1 at a free port, speaking
// its wire format: the App's JWT (RS256) verified with the App's public key on /app/*;
// installations (404 and suspended shapes as GitHub sends them); installation tokens
// narrowed by `repositories` and `permissions` (422 for a repository or permission the
// installation lacks), each one recorded with its scope; the installation endpoints
// (repositories, org members, open pull requests) demanding an unexpired token whose
// scope covers what they touch, paginated with per_page, page, total_count and Link
// rel="next"/"last"; a primary rate limit (x-ratelimit-* headers, 403 once remaining is
// 0, until reset) and a one-shot secondary limit (retry-after: 1). It holds its own RSA
// key pair unless given one; private_key_pem() is what the App is configured with.
// webhook_signature() signs a delivery body as GitHub does, for webhook tests.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "github/app.h"

#include "tests/support/loopback_server.h"

namespace hearth::test {

class FakeGitHub {
 public:
  using json = nlohmann::json;
  using Clock = std::chrono::system_clock;

  struct Installation {
    std::int64_t id = 0;
    std::string account;                       // the org (or user) login
    std::string account_type = "Organization";
    bool suspended = false;
    std::vector<std::string> repositories;     // names under `account`, in order
    Clock::time_point created_at = Clock::now();  // when it was installed
    json permissions = {{"contents", "write"}, {"pull_requests", "write"}, {"metadata", "read"}, {"members", "read"}};
  };

  struct MintedToken {
    std::string value;
    std::int64_t installation_id = 0;
    std::vector<std::string> repositories;  // as requested; empty: every repository
    json permissions;                       // as granted: the requested ones, or all the installation's
    Clock::time_point expires_at;
  };

  struct Seen {
    std::string method, path;
    int status = 0;
  };

  explicit FakeGitHub(std::string app_id = "4242", std::string private_key_pem = {}) : app_id_(std::move(app_id)) {
    key_ = private_key_pem.empty() ? shared_key() : load_key(private_key_pem);
    auto& s = http_.server();
    s.Get(R"(/app/installations/(\d+))", [this](const auto& req, auto& res) { get_installation(req, res); });
    s.Post(R"(/app/installations/(\d+)/access_tokens)", [this](const auto& req, auto& res) { mint(req, res); });
    s.Get("/installation/repositories", [this](const auto& req, auto& res) { list_repositories(req, res); });
    s.Get(R"(/orgs/([^/]+)/members)", [this](const auto& req, auto& res) { list_members(req, res); });
    s.Get(R"(/repos/([^/]+)/([^/]+)/pulls)", [this](const auto& req, auto& res) { list_pulls(req, res); });
    s.Post(R"(/repos/([^/]+)/([^/]+)/pulls)", [this](const auto& req, auto& res) { create_pull(req, res); });
    s.Get(R"(/repos/([^/]+)/([^/]+)/pulls/(\d+))", [this](const auto& req, auto& res) { one_pull(req, res, "GET"); });
    s.Patch(R"(/repos/([^/]+)/([^/]+)/pulls/(\d+))", [this](const auto& req, auto& res) { one_pull(req, res, "PATCH"); });
    s.Put(R"(/repos/([^/]+)/([^/]+)/pulls/(\d+)/merge)", [this](const auto& req, auto& res) { one_pull(req, res, "MERGE"); });
    s.Get(R"(/repos/([^/]+)/([^/]+)/pulls/(\d+)/(reviews|comments))",
          [this](const auto& req, auto& res) { list_feedback(req, res); });
    s.Get(R"(/repos/([^/]+)/([^/]+))", [this](const auto& req, auto& res) { get_repository(req, res); });
    s.Get(R"(/apps/([^/]+)/installations/new)", [this](const auto& req, auto& res) { install_page(req, res); });
    s.Post("/login/oauth/access_token", [this](const auto& req, auto& res) { exchange_code(req, res); });
    s.Get("/login/oauth/authorize", [this](const auto& req, auto& res) { authorize(req, res); });
    s.Get("/user", [this](const auto& req, auto& res) { get_user(req, res); });
    s.Get("/user/installations", [this](const auto& req, auto& res) { user_installations(req, res); });
    // Recorded before the response is written, so that a client that has its answer sees it counted.
    s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) { record(req, res); });
    http_.start();
  }

  // An App configured against this fake (its id, key and URL), verifying deliveries with
  // `webhook_secret`.
  std::shared_ptr<github::App> app(const std::string& webhook_secret = {}) const {
    github::AppConfig config;
    config.app_id = app_id_;
    config.private_key_pem = private_key_pem();
    config.webhook_secret = webhook_secret;
    config.api_url = url();
    config.web_url = url();
    config.client_id = kClientId;
    config.client_secret = kClientSecret;
    auto made = github::App::create(std::move(config));
    if (!made) throw std::runtime_error("the fake's App: " + made.error().message);
    return std::shared_ptr<github::App>(std::move(*made));
  }

  // The App's OAuth client, as app() configures it.
  static constexpr const char* kClientId = "Iv1.fakeclient0001";
  static constexpr const char* kClientSecret = "fake-oauth-client-secret";

  // A GitHub user who can see `installations` (GET /user/installations).
  void add_user(const std::string& login, std::vector<std::int64_t> installations) {
    std::lock_guard lock(mu_);
    users_[login] = std::move(installations);
  }
  // Who is signed in to GitHub in the browser: the authorize page
  // (/login/oauth/authorize) sends them straight back to the redirect URI with a code
  // for them, as GitHub does once the App is authorized (empty: nobody, 404).
  // `deny`: they click Cancel (error=access_denied).
  void set_authorizing_user(std::string login, bool deny = false) {
    std::lock_guard lock(mu_);
    authorizing_ = std::move(login);
    deny_ = deny;
  }
  // `login` is now another account's (the first gave it up, another took it): a new id.
  void reassign_login(const std::string& login) {
    std::lock_guard lock(mu_);
    user_ids_[login] = 900000 + static_cast<std::int64_t>(user_ids_.size());
  }
  // GitHub's id of `login` (stable, as GitHub's are).
  std::int64_t user_id(const std::string& login) {
    std::lock_guard lock(mu_);
    return user_id_locked(login);
  }
  // A code of GitHub's OAuth web flow for `login`, good for one exchange.
  std::string issue_code(const std::string& login) {
    std::lock_guard lock(mu_);
    auto code = random_hex(10);
    codes_[code] = login;
    return code;
  }

  // The API base URL, as --github-api-url takes it.
  std::string url() const { return http_.url(); }
  const std::string& app_id() const { return app_id_; }
  // The App's private key: PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY").
  std::string private_key_pem() const { return pem(false); }
  std::string private_key_pkcs1_pem() const { return pem(true); }

  void add_installation(Installation installation) {
    std::lock_guard lock(mu_);
    for (const auto& name : installation.repositories) number(installation.id, name);
    installations_[installation.id] = std::move(installation);
  }
  void add_members(const std::string& org, std::vector<std::string> logins) {
    std::lock_guard lock(mu_);
    members_[org] = std::move(logins);
  }
  // `count` open pull requests #1..#count on owner/name.
  void add_pull_requests(const std::string& full_name, int count) {
    std::lock_guard lock(mu_);
    for (int n = 1; n <= count; ++n)
      pulls_[full_name].push_back({{"id", 9000 + n}, {"number", n}, {"state", "open"}, {"title", "Change " + std::to_string(n)},
                                   {"draft", false}, {"html_url", "https://github.com/" + full_name + "/pull/" + std::to_string(n)},
                                   {"user", {{"login", "octocat"}}}, {"head", {{"ref", "feature-" + std::to_string(n)}}},
                                   {"base", {{"ref", "main"}}}, {"updated_at", iso8601(Clock::now())}});
  }
  // What GitHub knows of two branches of "owner/name" when a pull request of `head` into
  // `base` is asked for: {"sha": head's commit}, or {"error": "no_commits" | "base" |
  // "head"} (no commits between them; no such base; no such head). Without one, every
  // pair is fine.
  using BranchCheck = std::function<json(const std::string& full_name, const std::string& base, const std::string& head)>;
  void set_branch_check(BranchCheck check) {
    std::lock_guard lock(mu_);
    branch_check_ = std::move(check);
  }
  // Pull request #number of "owner/name" as the API shows it (null when there is none).
  json pull(const std::string& full_name, std::int64_t number) {
    std::lock_guard lock(mu_);
    for (const auto& pr : pulls_[full_name])
      if (pr["number"] == number) return pr;
    return nullptr;
  }
  // A review of pull request #number of "owner/name" by `login`: state APPROVED,
  // CHANGES_REQUESTED or COMMENTED, as GET .../pulls/N/reviews lists it.
  json add_review(const std::string& full_name, std::int64_t number, const std::string& login, const std::string& state,
                  const std::string& body) {
    std::lock_guard lock(mu_);
    auto& list = feedback_[{full_name, number, "reviews"}];
    json r{{"id", 80000 + static_cast<std::int64_t>(list.size())}, {"user", {{"login", login}, {"type", "User"}}},
           {"body", body}, {"state", state}, {"submitted_at", iso8601(Clock::now())},
           {"html_url", "https://github.com/" + full_name + "/pull/" + std::to_string(number) + "#pullrequestreview-" +
                            std::to_string(80000 + list.size())},
           {"commit_id", std::string(40, '0')}, {"author_association", "MEMBER"}};
    list.push_back(r);
    return r;
  }
  // A comment on the diff of pull request #number: on `path` at `line`, by a member of
  // the repository's organization unless `association` says otherwise (NONE: anyone).
  json add_review_comment(const std::string& full_name, std::int64_t number, const std::string& login,
                          const std::string& path, int line, const std::string& body,
                          const std::string& association = "MEMBER") {
    std::lock_guard lock(mu_);
    auto& list = feedback_[{full_name, number, "comments"}];
    json c{{"id", 90000 + static_cast<std::int64_t>(list.size())}, {"user", {{"login", login}, {"type", "User"}}},
           {"body", body}, {"path", path}, {"line", line}, {"side", "RIGHT"}, {"created_at", iso8601(Clock::now())},
           {"updated_at", iso8601(Clock::now())},
           {"html_url", "https://github.com/" + full_name + "/pull/" + std::to_string(number) + "#discussion_r" +
                            std::to_string(90000 + list.size())},
           {"diff_hunk", "@@ -1 +1 @@"}, {"pull_request_review_id", 80000}, {"author_association", association}};
    list.push_back(c);
    return c;
  }
  // Whether GitHub would merge pull request #number (false: 405 "not mergeable").
  void set_mergeable(const std::string& full_name, std::int64_t number, bool mergeable) {
    std::lock_guard lock(mu_);
    for (auto& pr : pulls_[full_name])
      if (pr["number"] == number) pr["mergeable"] = mergeable;
  }
  // The merges asked for: {number, method}.
  std::vector<json> merges() {
    std::lock_guard lock(mu_);
    return merges_;
  }
  // Closes pull request #number (merged or not), or reopens it (`state` "open"), as
  // GitHub does when someone does so on github.com: the pull request after it.
  json set_pull_state(const std::string& full_name, std::int64_t number, const std::string& state, bool merged = false) {
    std::lock_guard lock(mu_);
    for (auto& pr : pulls_[full_name])
      if (pr["number"] == number) {
        pr["state"] = state;
        pr["merged"] = merged;
        pr["merged_at"] = merged ? json(iso8601(Clock::now())) : json();
        pr["closed_at"] = state == "closed" ? json(iso8601(Clock::now())) : json();
        touch(pr);
        return pr;
      }
    return nullptr;
  }

  // Repositories' clone URLs are <base>/<owner>/<name>.git (a git server the test runs,
  // test::GitHttpsServer) instead of github.com's.
  void set_git_base(std::string base) {
    std::lock_guard lock(mu_);
    git_base_ = std::move(base);
  }
  void add_repository(std::int64_t installation_id, const std::string& name) {
    std::lock_guard lock(mu_);
    installations_.at(installation_id).repositories.push_back(name);
    number(installation_id, name);
  }
  void remove_repository(std::int64_t installation_id, const std::string& name) {
    std::lock_guard lock(mu_);
    auto& names = installations_.at(installation_id).repositories;
    names.erase(std::remove(names.begin(), names.end(), name), names.end());
  }
  // The repository `name` as GitHub's API shows it (for deliveries the test builds).
  json repository(std::int64_t installation_id, const std::string& name) {
    std::lock_guard lock(mu_);
    return repository_json(installations_.at(installation_id), name);
  }
  // Whether git may use `token` on "owner/name": minted, unexpired, covering that
  // repository, with contents write for a push (read for anything else). What GitHub's
  // git server checks of an installation token; for test::GitHttpsServer.
  bool git_allows(const std::string& token, const std::string& full_name, bool write) {
    std::lock_guard lock(mu_);
    auto it = std::find_if(minted_.begin(), minted_.end(), [&](const MintedToken& t) { return t.value == token; });
    if (it == minted_.end() || it->expires_at <= Clock::now()) return false;
    const auto& in = installations_.at(it->installation_id);
    auto slash = full_name.find('/');
    if (slash == std::string::npos || full_name.substr(0, slash) != in.account || !covers(*it, full_name.substr(slash + 1)))
      return false;
    auto level = it->permissions.value("contents", "");
    return write ? level == "write" : !level.empty();
  }

  // Every token minted so far stops working (as when GitHub revokes them).
  void revoke_tokens() {
    std::lock_guard lock(mu_);
    for (auto& token : minted_) token.expires_at = Clock::time_point{};
  }
  // How long minted tokens live (GitHub: an hour).
  void set_token_lifetime(std::chrono::seconds lifetime) {
    std::lock_guard lock(mu_);
    token_lifetime_ = lifetime;
  }
  // Installation requests may make `limit` more requests until `reset_in` from now
  // (rounded down to GitHub's epoch seconds); past that, 403 until the reset.
  void limit_requests(int limit, std::chrono::seconds reset_in) {
    std::lock_guard lock(mu_);
    limit_ = remaining_ = limit;
    reset_ = epoch_seconds(Clock::now() + reset_in);
  }
  // Installation requests may make `limit` more requests; the one after them starts a
  // window of `pause` (403 until its reset, whenever that request comes: no race with
  // the clock), after which requests are not limited any more.
  void pause_after(int limit, std::chrono::seconds pause) {
    std::lock_guard lock(mu_);
    limit_ = remaining_ = limit;
    reset_ = std::numeric_limits<std::int64_t>::max();
    pause_ = pause;
  }
  // GitHub's web side, for the install flow: the App's install page
  // (<url>/apps/SLUG/installations/new?state=S), as if the person installed it at once on
  // `installation_id`, redirects to the App's Setup URL with installation_id,
  // setup_action=install and the state.
  // With "Request user authorization (OAuth) during installation" (`user` not empty), the
  // redirect carries a code of the OAuth web flow for `user` too, as GitHub's does.
  void set_setup_url(std::string url, std::int64_t installation_id, std::string user = {}) {
    std::lock_guard lock(mu_);
    setup_url_ = std::move(url);
    setup_installation_ = installation_id;
    setup_user_ = std::move(user);
  }

  // Installation requests may make `limit` more requests; after them, every one answers
  // a secondary rate limit (403, retry-after: 1) until lift_limits(): a client that waits
  // limits out retries each second, as long as the test wants it held.
  void hold_after(int limit) {
    std::lock_guard lock(mu_);
    hold_after_ = limit;
  }
  // No rate limit from now on (a pause or a hold in progress ends).
  void lift_limits() {
    std::lock_guard lock(mu_);
    limit_ = remaining_ = 0;
    pause_.reset();
    hold_after_.reset();
  }
  // The next installation request answers `status` (403 or 429) with retry-after: 1.
  void secondary_limit_once(int status) {
    std::lock_guard lock(mu_);
    secondary_status_ = status;
  }

  std::vector<MintedToken> minted() {
    std::lock_guard lock(mu_);
    return minted_;
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int requests(const std::string& path) {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [&](const Seen& s) { return s.path == path; }));
  }
  // The claims of the last JWT that verified.
  json last_jwt_claims() {
    std::lock_guard lock(mu_);
    return last_claims_;
  }
  // Blocks until a response with `status` has been sent, or `timeout` passes.
  bool wait_for_status(int status, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return seen_cv_.wait_for(lock, timeout, [&] {
      return std::any_of(seen_.begin(), seen_.end(), [&](const Seen& s) { return s.status == status; });
    });
  }

  // X-Hub-Signature-256 for `body` under `secret`, as GitHub computes it.
  static std::string webhook_signature(std::string_view secret, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
         body.size(), mac, &size);
    return "sha256=" + hex(mac, size);
  }

  static std::string hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
      out += kHex[bytes[i] >> 4];
      out += kHex[bytes[i] & 15];
    }
    return out;
  }

  static std::string iso8601(Clock::time_point t) {
    auto seconds = Clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
  }

  // A pull request changed: its updated_at moves on, a second past the last when the
  // change comes within the same second (GitHub's edits are seconds apart; a test's are
  // not, and Hearth orders snapshots of a pull request by it).
  static void touch(json& pr) {
    auto now = Clock::now();
    if (auto last = github::parse_time(pr.value("updated_at", std::string())); last && *last + std::chrono::seconds(1) > now)
      now = *last + std::chrono::seconds(1);
    pr["updated_at"] = iso8601(now);
  }

  static std::string base64url_decode(std::string_view in) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : in) {
      int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-' ? 62 : c == '_' ? 63 : -1;
      if (v < 0) return {};
      buffer = buffer << 6 | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((buffer >> bits) & 0xff);
      }
    }
    return out;
  }

 private:
  static constexpr const char* kDocs = "https://docs.github.com/rest";
  using Key = std::shared_ptr<EVP_PKEY>;

  static Key shared_key() {
    static const Key key(EVP_RSA_gen(2048), &EVP_PKEY_free);  // one per test process: generating is slow
    return key;
  }
  static Key load_key(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  }
  std::string pem(bool pkcs1) const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (pkcs1) PEM_write_bio_PrivateKey_traditional(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  }
  static std::int64_t epoch_seconds(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  }

  static void answer(httplib::Response& res, int status, json body) {
    res.status = status;
    res.set_content(body.dump(), "application/json; charset=utf-8");
  }
  static void fail(httplib::Response& res, int status, const std::string& message) {
    answer(res, status, {{"message", message}, {"documentation_url", kDocs}, {"status", std::to_string(status)}});
  }

  void record(const httplib::Request& req, const httplib::Response& res) {
    {
      std::lock_guard lock(mu_);
      seen_.push_back({req.method, req.path, res.status});
    }
    seen_cv_.notify_all();
  }

  // The App's JWT from the Authorization header, verified: signature (RS256 with the
  // App's public key), iss, iat in the past and a live exp no more than 10 minutes
  // ahead. Caller holds mu_.
  bool app_authorized(const httplib::Request& req, httplib::Response& res) {
    auto auth = req.get_header_value("Authorization");
    if (!auth.starts_with("Bearer ")) return fail(res, 401, "A JSON web token could not be decoded"), false;
    auto jwt = auth.substr(7);
    auto first = jwt.find('.'), second = jwt.find('.', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      return fail(res, 401, "A JSON web token could not be decoded"), false;
    auto header = json::parse(base64url_decode(jwt.substr(0, first)), nullptr, false);
    auto claims = json::parse(base64url_decode(jwt.substr(first + 1, second - first - 1)), nullptr, false);
    auto signature = base64url_decode(jwt.substr(second + 1));
    if (!header.is_object() || header.value("alg", "") != "RS256" || !claims.is_object() ||
        !verifies(jwt.substr(0, second), signature))
      return fail(res, 401, "A JSON web token could not be decoded"), false;
    auto now = epoch_seconds(Clock::now());
    if (claims.value("iss", json()).dump() != json(app_id_).dump() && claims.value("iss", json()).dump() != app_id_)
      return fail(res, 401, "'Issuer' claim ('iss') must be an Integer"), false;
    auto exp = claims.value("exp", std::int64_t{0});
    if (exp <= now || exp > now + 600)
      return fail(res, 401, "'Expiration time' claim ('exp') is too far in the future"), false;
    if (claims.value("iat", now + 1) > now)
      return fail(res, 401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"), false;
    last_claims_ = claims;
    return true;
  }
  bool verifies(const std::string& signed_part, const std::string& signature) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  }

  // The unexpired token in the Authorization header ("token X" or "Bearer X"), after
  // the rate limits have had their say. Caller holds mu_.
  const MintedToken* installation_authorized(const httplib::Request& req, httplib::Response& res) {
    if (rate_limited(res)) return nullptr;
    auto auth = req.get_header_value("Authorization");
    auto value = auth.starts_with("token ") ? auth.substr(6) : auth.starts_with("Bearer ") ? auth.substr(7) : "";
    auto it = std::find_if(minted_.begin(), minted_.end(), [&](const MintedToken& t) { return t.value == value; });
    if (value.empty() || it == minted_.end() || it->expires_at <= Clock::now()) return fail(res, 401, "Bad credentials"), nullptr;
    return &*it;
  }
  // The token of a request on /repos/{owner}/{repo}/...: an installation token covering
  // that repository with `permission` (write, when `write`), or null having answered as
  // GitHub does (404 for a repository it does not cover, 403 for a permission it lacks).
  const MintedToken* repo_token(const httplib::Request& req, httplib::Response& res, const char* permission,
                                bool write = false) {
    auto token = installation_authorized(req, res);
    if (!token) return nullptr;
    const auto& in = installations_.at(token->installation_id);
    if (in.account != req.matches[1].str() || !covers(*token, req.matches[2])) {
      fail(res, 404, "Not Found");
      return nullptr;
    }
    auto granted = token->permissions.value(permission, "");
    if (granted.empty() || (write && granted != "write")) {
      fail(res, 403, "Resource not accessible by integration");
      return nullptr;
    }
    return token;
  }

  bool rate_limited(httplib::Response& res) {
    if (hold_after_ && (*hold_after_)-- <= 0) {
      *hold_after_ = 0;
      res.set_header("retry-after", "1");
      fail(res, 403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
      return true;
    }
    if (secondary_status_) {
      res.set_header("retry-after", "1");
      fail(res, *secondary_status_,
           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
      secondary_status_.reset();
      return true;
    }
    if (limit_ == 0) return false;
    auto now = epoch_seconds(Clock::now());
    if (pause_ && remaining_ == 0 && reset_ == std::numeric_limits<std::int64_t>::max())
      reset_ = epoch_seconds(Clock::now() + *pause_) + 1;  // the window starts now
    if (now >= reset_) {
      if (pause_) {  // the pause is over: no limit from now on
        limit_ = 0;
        pause_.reset();
        return false;
      }
      remaining_ = limit_;
      reset_ = now + 3600;
    }
    res.set_header("x-ratelimit-limit", std::to_string(limit_));
    res.set_header("x-ratelimit-reset", std::to_string(reset_));
    res.set_header("x-ratelimit-resource", "core");
    if (remaining_ == 0) {
      res.set_header("x-ratelimit-remaining", "0");
      res.set_header("x-ratelimit-used", std::to_string(limit_));
      fail(res, 403, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.");
      return true;
    }
    --remaining_;
    res.set_header("x-ratelimit-remaining", std::to_string(remaining_));
    res.set_header("x-ratelimit-used", std::to_string(limit_ - remaining_));
    return false;
  }

  // Whether `token` may touch `name` of its installation.
  bool covers(const MintedToken& token, const std::string& name) const {
    const auto& installed = installations_.at(token.installation_id).repositories;
    if (std::find(installed.begin(), installed.end(), name) == installed.end()) return false;
    return token.repositories.empty() ||
           std::find(token.repositories.begin(), token.repositories.end(), name) != token.repositories.end();
  }

  // A repository's id, given when it is first added and kept (as GitHub's are): the
  // installation's id * 100000 + its number there. Caller holds mu_.
  std::int64_t number(std::int64_t installation_id, const std::string& name) {
    auto [it, added] = repo_ids_.try_emplace({installation_id, name}, 0);
    if (added) it->second = installation_id * 100000 + static_cast<std::int64_t>(++repos_added_[installation_id]);
    return it->second;
  }

  json repository_json(const Installation& in, const std::string& name) const {
    auto full = in.account + "/" + name;
    auto id = repo_ids_.count({in.id, name}) ? repo_ids_.at({in.id, name}) : 0;
    return {{"id", id}, {"name", name}, {"full_name", full}, {"private", true},
            {"owner", {{"login", in.account}, {"type", in.account_type}}}, {"html_url", "https://github.com/" + full},
            {"clone_url", (git_base_.empty() ? std::string("https://github.com") : git_base_) + "/" + full + ".git"},
            {"default_branch", "main"}, {"archived", false}};
  }

  // One page of `items` as GitHub pages: per_page (default 30, at most 100) and page
  // from the query, Link rel="next" and rel="last" while more remain.
  json page_of(const httplib::Request& req, httplib::Response& res, const json& items) const {
    auto number = [&](const char* name, int fallback) {
      auto v = req.has_param(name) ? std::atoi(req.get_param_value(name).c_str()) : fallback;
      return v > 0 ? v : fallback;
    };
    int per_page = std::min(number("per_page", 30), 100), page = number("page", 1);
    int last = std::max<int>(1, (static_cast<int>(items.size()) + per_page - 1) / per_page);
    json out = json::array();
    for (std::size_t i = std::size_t(page - 1) * per_page; i < items.size() && i < std::size_t(page) * per_page; ++i)
      out.push_back(items[i]);
    auto link_to = [&](int n) {
      std::string query;
      for (const auto& [k, v] : req.params)
        if (k != "page") query += k + "=" + v + "&";
      return "<" + url() + req.path + "?" + query + "page=" + std::to_string(n) + ">";
    };
    if (page < last) res.set_header("Link", link_to(page + 1) + "; rel=\"next\", " + link_to(last) + "; rel=\"last\"");
    return out;
  }

  void get_installation(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!app_authorized(req, res)) return;
    auto it = installations_.find(std::stoll(req.matches[1]));
    if (it == installations_.end()) return fail(res, 404, "Not Found");
    const auto& in = it->second;
    answer(res, 200, {{"id", in.id}, {"app_id", std::stoll(app_id_)}, {"target_type", in.account_type},
                      {"account", {{"login", in.account}, {"type", in.account_type}}},
                      {"repository_selection", "selected"}, {"permissions", in.permissions},
                      {"events", {"installation_repositories", "pull_request", "push", "repository"}},
                      {"created_at", iso8601(in.created_at)},
                      {"suspended_at", in.suspended ? json(iso8601(Clock::now())) : json()}});
  }

  void mint(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!app_authorized(req, res)) return;
    auto it = installations_.find(std::stoll(req.matches[1]));
    if (it == installations_.end()) return fail(res, 404, "Not Found");
    const auto& in = it->second;
    if (in.suspended) return fail(res, 403, "This installation has been suspended");
    auto body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!body.is_object()) return fail(res, 400, "Problems parsing JSON");
    MintedToken token{"ghs_" + random_hex(18), in.id, {}, in.permissions, Clock::now() + token_lifetime_};
    for (const auto& item : body.value("repositories", json::array())) {
      auto name = item.is_string() ? item.get<std::string>() : "";
      if (std::find(in.repositories.begin(), in.repositories.end(), name) == in.repositories.end())
        return fail(res, 422, "There is at least one repository that does not exist or is not accessible to the parent installation.");
      token.repositories.push_back(name);
    }
    for (const auto& item : body.value("repository_ids", json::array())) {  // recorded by name
      auto id = item.is_number_integer() ? item.get<std::int64_t>() : 0;
      auto it = std::find_if(in.repositories.begin(), in.repositories.end(), [&](const std::string& name) {
        return repo_ids_.count({in.id, name}) && repo_ids_.at({in.id, name}) == id;
      });
      if (it == in.repositories.end())
        return fail(res, 422, "There is at least one repository that does not exist or is not accessible to the parent installation.");
      token.repositories.push_back(*it);
    }
    if (body.contains("permissions")) {
      token.permissions = json::object();
      for (const auto& [name, level] : body["permissions"].items()) {
        auto granted = in.permissions.value(name, "");
        if (granted.empty() || (level == "write" && granted != "write"))
          return fail(res, 422, "The permissions requested are not granted to this installation.");
        token.permissions[name] = level;
      }
    }
    json repositories = json::array();
    for (const auto& name : token.repositories) repositories.push_back(repository_json(in, name));
    json answer_body{{"token", token.value}, {"expires_at", iso8601(token.expires_at)}, {"permissions", token.permissions},
                     {"repository_selection", token.repositories.empty() ? "all" : "selected"}};
    if (!token.repositories.empty()) answer_body["repositories"] = repositories;
    minted_.push_back(std::move(token));
    answer(res, 201, answer_body);
  }

  void list_repositories(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto token = installation_authorized(req, res);
    if (!token) return;
    const auto& in = installations_.at(token->installation_id);
    json all = json::array();
    for (const auto& name : in.repositories)
      if (covers(*token, name)) all.push_back(repository_json(in, name));
    auto page = page_of(req, res, all);
    answer(res, 200, {{"total_count", all.size()}, {"repository_selection", "selected"}, {"repositories", page}});
  }

  void install_page(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (setup_url_.empty()) return fail(res, 404, "Not Found");
    std::string state;
    for (unsigned char c : req.get_param_value("state")) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') state += static_cast<char>(c);
      else state += {'%', kHex[c >> 4], kHex[c & 15]};
    }
    std::string code;
    if (!setup_user_.empty()) {
      code = random_hex(10);
      codes_[code] = setup_user_;
    }
    res.status = 302;
    res.set_header("Location", setup_url_ + "?installation_id=" + std::to_string(setup_installation_) +
                                   "&setup_action=install&state=" + state + (code.empty() ? "" : "&code=" + code));
  }

  std::int64_t user_id_locked(const std::string& login) {
    auto [it, added] = user_ids_.try_emplace(login, 0);
    if (added) it->second = 583231 + static_cast<std::int64_t>(user_ids_.size());
    return it->second;
  }

  // GitHub's authorize page, as if the person signed in to GitHub approved at once: back
  // to redirect_uri with a code (bound to the redirect URI and the PKCE challenge) and
  // the state, or error=access_denied.
  void authorize(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (req.get_param_value("client_id") != kClientId || authorizing_.empty()) return fail(res, 404, "Not Found");
    auto redirect = req.get_param_value("redirect_uri");
    std::string state;
    for (unsigned char c : req.get_param_value("state")) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') state += static_cast<char>(c);
      else state += {'%', kHex[c >> 4], kHex[c & 15]};
    }
    res.status = 302;
    if (deny_) {
      res.set_header("Location", redirect + "?error=access_denied&error_description=The+user+has+denied+your+application+access.&state=" + state);
      return;
    }
    auto code = random_hex(10);
    codes_[code] = authorizing_;
    code_bindings_[code] = {redirect, req.get_param_value("code_challenge")};
    res.set_header("Location", redirect + "?code=" + code + "&state=" + state);
  }

  void get_user(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto auth = req.get_header_value("Authorization");
    auto it = user_tokens_.find(auth.starts_with("Bearer ") ? auth.substr(7) : auth.starts_with("token ") ? auth.substr(6) : "");
    if (it == user_tokens_.end()) return fail(res, 401, "Bad credentials");
    answer(res, 200, {{"login", it->second}, {"id", user_id_locked(it->second)}, {"type", "User"}});
  }

  // S256 of a PKCE verifier, base64url without padding.
  static std::string s256(const std::string& verifier) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(verifier.data(), verifier.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (unsigned int i = 0; i < size; ++i) {
      buffer = buffer << 8 | digest[i];
      bits += 8;
      while (bits >= 6) out += kAlphabet[(buffer >> (bits -= 6)) & 63];
    }
    if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 63];
    return out;
  }

  // GitHub's OAuth token endpoint: errors at HTTP 200 with "error", as GitHub's are.
  void exchange_code(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto body = json::parse(req.body, nullptr, false);
    auto field = [&](const char* name) {
      if (body.is_object() && body.contains(name) && body[name].is_string()) return body[name].get<std::string>();
      return req.has_param(name) ? req.get_param_value(name) : std::string();
    };
    if (field("client_id") != kClientId || field("client_secret") != kClientSecret)
      return answer(res, 200, {{"error", "incorrect_client_credentials"},
                               {"error_description", "The client_id and/or client_secret passed are incorrect."},
                               {"error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"}});
    auto it = codes_.find(field("code"));
    if (it == codes_.end())
      return answer(res, 200, {{"error", "bad_verification_code"},
                               {"error_description", "The code passed is incorrect or expired."},
                               {"error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}});
    if (auto bound = code_bindings_.find(it->first); bound != code_bindings_.end()) {
      auto [redirect, challenge] = bound->second;
      if (field("redirect_uri") != redirect)
        return answer(res, 200, {{"error", "redirect_uri_mismatch"},
                                 {"error_description", "The redirect_uri MUST match the registered callback URL for this application."},
                                 {"error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2"}});
      if (!challenge.empty() && s256(field("code_verifier")) != challenge)
        return answer(res, 200, {{"error", "bad_verification_code"},
                                 {"error_description", "The code passed is incorrect or expired."},
                                 {"error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}});
      code_bindings_.erase(bound);
    }
    auto token = "ghu_" + random_hex(18);
    user_tokens_[token] = it->second;
    codes_.erase(it);  // once
    answer(res, 200, {{"access_token", token}, {"token_type", "bearer"}, {"scope", ""}, {"expires_in", 28800},
                      {"refresh_token", "ghr_" + random_hex(30)}, {"refresh_token_expires_in", 15897600}});
  }

  void user_installations(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto auth = req.get_header_value("Authorization");
    auto it = user_tokens_.find(auth.starts_with("Bearer ") ? auth.substr(7) : auth.starts_with("token ") ? auth.substr(6) : "");
    if (it == user_tokens_.end()) return fail(res, 401, "Bad credentials");
    json all = json::array();
    for (auto id : users_[it->second])
      if (auto in = installations_.find(id); in != installations_.end())
        all.push_back({{"id", id}, {"app_id", std::stoll(app_id_)},
                       {"account", {{"login", in->second.account}, {"type", in->second.account_type}}}});
    answer(res, 200, {{"total_count", all.size()}, {"installations", page_of(req, res, all)}});
  }

  void get_repository(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto token = installation_authorized(req, res);
    if (!token) return;
    const auto& in = installations_.at(token->installation_id);
    if (in.account != req.matches[1].str() || !covers(*token, req.matches[2])) return fail(res, 404, "Not Found");
    answer(res, 200, repository_json(in, req.matches[2]));
  }

  void list_members(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto token = installation_authorized(req, res);
    if (!token) return;
    if (installations_.at(token->installation_id).account != req.matches[1].str()) return fail(res, 404, "Not Found");
    if (!token->permissions.contains("members")) return fail(res, 403, "Resource not accessible by integration");
    json all = json::array();
    for (const auto& login : members_[req.matches[1]])
      all.push_back({{"login", login}, {"id", user_id_locked(login)}, {"type", "User"}});
    answer(res, 200, page_of(req, res, all));
  }

  void list_pulls(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!repo_token(req, res, "pull_requests")) return;
    auto state = req.has_param("state") ? req.get_param_value("state") : "open";
    json all = json::array();
    auto head = req.has_param("head") ? req.get_param_value("head") : "";  // "owner:branch"
    for (const auto& pr : pulls_[req.matches[1].str() + "/" + req.matches[2].str()])
      if ((state == "all" || pr["state"] == state) &&
          (head.empty() || req.matches[1].str() + ":" + pr["head"]["ref"].get<std::string>() == head))
        all.push_back(pr);
    answer(res, 200, page_of(req, res, all));
  }

  // POST /repos/{owner}/{repo}/pulls: a token for the repository with pull_requests
  // write; GitHub's 422 shapes for a missing field, an open pull request of the same head
  // ("already exists"), no commits between the branches, and an unknown base or head.
  void create_pull(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto token = repo_token(req, res, "pull_requests", true);
    if (!token) return;
    const auto& in = installations_.at(token->installation_id);
    auto full = req.matches[1].str() + "/" + req.matches[2].str();
    auto body = json::parse(req.body, nullptr, false);
    auto invalid = [&](json error) {
      answer(res, 422, {{"message", "Validation Failed"}, {"errors", json::array({error})},
                        {"documentation_url", "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"},
                        {"status", "422"}});
    };
    for (const char* field : {"title", "head", "base"})
      if (!body.is_object() || !body.contains(field) || !body[field].is_string() || body[field].get<std::string>().empty())
        return invalid({{"resource", "PullRequest"}, {"field", field}, {"code", "missing_field"}});
    auto head = body["head"].get<std::string>();
    if (auto colon = head.find(':'); colon != std::string::npos) head = head.substr(colon + 1);
    auto base = body["base"].get<std::string>();
    for (const auto& pr : pulls_[full])
      if (pr["state"] == "open" && pr["head"]["ref"] == head)
        return invalid({{"resource", "PullRequest"}, {"code", "custom"},
                        {"message", "A pull request already exists for " + in.account + ":" + head + "."}});
    json check = branch_check_ ? branch_check_(full, base, head) : json{{"sha", std::string(40, '0')}};
    auto error = check.value("error", "");
    if (error == "no_commits")
      return invalid({{"resource", "PullRequest"}, {"code", "custom"}, {"message", "No commits between " + base + " and " + head}});
    if (error == "base" || error == "head")
      return invalid({{"resource", "PullRequest"}, {"field", error}, {"code", "invalid"}});
    std::int64_t number = 1;
    for (const auto& pr : pulls_[full]) number = std::max<std::int64_t>(number, pr["number"].get<std::int64_t>() + 1);
    auto now = iso8601(Clock::now());
    json pr{{"id", 70000 + number}, {"number", number}, {"state", "open"}, {"title", body["title"]},
            {"body", body.value("body", "")}, {"draft", body.value("draft", false)},
            {"html_url", "https://github.com/" + full + "/pull/" + std::to_string(number)},
            {"user", {{"login", "hearth-app[bot]"}}},
            {"head", {{"ref", head}, {"sha", check.value("sha", std::string(40, '0'))}, {"label", in.account + ":" + head}}},
            {"base", {{"ref", base}, {"label", in.account + ":" + base}}},
            {"merged", false}, {"merged_at", nullptr}, {"mergeable", nullptr}, {"created_at", now}, {"updated_at", now}};
    pulls_[full].push_back(pr);
    answer(res, 201, pr);
  }

  // One pull request: GET (pull_requests read), PATCH of title, body, state
  // (pull_requests write), MERGE: PUT .../merge (contents write) with GitHub's 405 (not
  // mergeable: closed, or set_mergeable false) and 409 (the head is not `sha`).
  void one_pull(const httplib::Request& req, httplib::Response& res, const std::string& what) {
    std::lock_guard lock(mu_);
    if (!repo_token(req, res, what == "MERGE" ? "contents" : "pull_requests", what != "GET")) return;
    auto number = std::stoll(req.matches[3].str());
    json* pr = nullptr;
    for (auto& p : pulls_[req.matches[1].str() + "/" + req.matches[2].str()])
      if (p["number"] == number) pr = &p;
    if (!pr) return fail(res, 404, "Not Found");
    auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (what == "PATCH") {
      for (const char* key : {"title", "body"})
        if (body.contains(key) && body[key].is_string()) (*pr)[key] = body[key];
      if (body.contains("state")) {
        if (body["state"] != "open" && body["state"] != "closed")
          return answer(res, 422, {{"message", "Validation Failed"},
                                   {"errors", json::array({{{"resource", "PullRequest"}, {"field", "state"}, {"code", "invalid"}}})}});
        (*pr)["state"] = body["state"];
        (*pr)["closed_at"] = body["state"] == "closed" ? json(iso8601(Clock::now())) : json();
      }
      touch(*pr);
    } else if (what == "MERGE") {
      if ((*pr)["state"] != "open" || pr->value("mergeable", json()) == json(false))
        return fail(res, 405, "Pull Request is not mergeable");
      if (body.contains("sha") && body["sha"] != (*pr)["head"].value("sha", ""))
        return fail(res, 409, "Head branch was modified. Review and try the merge again.");
      (*pr)["state"] = "closed";
      (*pr)["merged"] = true;
      (*pr)["merged_at"] = (*pr)["closed_at"] = iso8601(Clock::now());
      touch(*pr);
      merges_.push_back({{"number", number}, {"method", body.value("merge_method", "merge")}});
      return answer(res, 200, {{"sha", random_hex(20)}, {"merged", true}, {"message", "Pull Request successfully merged"}});
    }
    answer(res, 200, *pr);
  }

  // GET .../pulls/N/reviews and .../comments (pull_requests read), in pages.
  void list_feedback(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!repo_token(req, res, "pull_requests")) return;
    json all = json::array();
    for (const auto& f : feedback_[{req.matches[1].str() + "/" + req.matches[2].str(), std::stoll(req.matches[3].str()),
                                    req.matches[4].str()}])
      all.push_back(f);
    answer(res, 200, page_of(req, res, all));
  }

  static std::string random_hex(int bytes) {
    std::vector<unsigned char> raw(static_cast<std::size_t>(bytes));
    RAND_bytes(raw.data(), bytes);
    return hex(raw.data(), raw.size());
  }

  std::string app_id_;
  std::string git_base_;
  BranchCheck branch_check_;
  std::string setup_url_, setup_user_;
  std::map<std::string, std::vector<std::int64_t>> users_;  // login -> installations they can see
  std::map<std::string, std::string> codes_, user_tokens_;  // -> login
  std::map<std::string, std::pair<std::string, std::string>> code_bindings_;  // code -> {redirect_uri, challenge}
  std::map<std::string, std::int64_t> user_ids_;
  std::string authorizing_;
  bool deny_ = false;
  std::optional<int> hold_after_;
  std::int64_t setup_installation_ = 0;
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> repo_ids_;
  std::map<std::int64_t, std::size_t> repos_added_;
  Key key_;
  std::mutex mu_;
  std::condition_variable seen_cv_;
  std::map<std::int64_t, Installation> installations_;
  std::map<std::string, std::vector<std::string>> members_;
  std::map<std::string, std::vector<json>> pulls_;
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::vector<json>> feedback_;  // reviews, comments
  std::vector<json> merges_;
  std::vector<MintedToken> minted_;
  std::vector<Seen> seen_;
  json last_claims_;
  std::chrono::seconds token_lifetime_{3600};
  int limit_ = 0, remaining_ = 0;
  std::optional<std::chrono::seconds> pause_;  // pause_after
  std::int64_t reset_ = 0;
  std::optional<int> secondary_status_;
  LoopbackServer http_;  // last: serving stops before the state above goes away
};

}  // namespace hearth::test
