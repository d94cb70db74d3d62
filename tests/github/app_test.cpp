// The GitHub App client (github/app.h) against a fake GitHub on 127.0.0.1 that speaks
// the real wire format (tests/support/fake_github.h): webhook signatures, the App's JWT,
// installation lookups, narrowed and cached tokens, pagination, rate limits and errors.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "github/app.h"
#include "github/rest.h"
#include "tests/support/fake_github.h"

namespace hearth::test {
namespace {

using namespace std::chrono_literals;
using github::App;
using github::TokenScope;
using Json = nlohmann::json;

constexpr std::int64_t kInstallation = 7;

github::AppConfig config_for(const FakeGitHub& fake) {
  github::AppConfig config;
  config.app_id = fake.app_id();
  config.private_key_pem = fake.private_key_pem();
  config.api_url = fake.url();
  config.request_timeout = 5s;
  return config;
}

// A fake with installation 7 on org "acme" holding alpha, beta and gamma.
struct World {
  FakeGitHub fake;
  std::unique_ptr<App> app;

  explicit World(std::vector<std::string> repositories = {"alpha", "beta", "gamma"}) {
    fake.add_installation({kInstallation, "acme", "Organization", false, std::move(repositories)});
    auto created = App::create(config_for(fake));
    REQUIRE(created.ok());
    app = std::move(*created);
  }
};

std::vector<int> statuses_of(FakeGitHub& fake, const std::string& path) {
  std::vector<int> out;
  for (const auto& s : fake.seen())
    if (s.path == path) out.push_back(s.status);
  return out;
}

std::vector<std::string> names_of(const Json& repositories) {
  std::vector<std::string> out;
  for (const auto& r : repositories) out.push_back(r.value("name", ""));
  return out;
}

TEST_CASE("a webhook signature made with the secret over the raw body is valid, in either hex case") {
  const std::string body = R"({"action":"opened","number":1})";
  auto header = FakeGitHub::webhook_signature("s3cret", body);
  CHECK(github::signature_valid("s3cret", body, header));
  std::string upper = header;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  CHECK(github::signature_valid("s3cret", body, upper));
}

TEST_CASE("a webhook signature is refused for a wrong secret, a tampered body, a sha1 or malformed header, or nothing") {
  const std::string body = R"({"action":"opened","number":1})";
  auto header = FakeGitHub::webhook_signature("s3cret", body);
  CHECK_FALSE(github::signature_valid("other", body, header));
  CHECK_FALSE(github::signature_valid("s3cret", R"({"action":"opened","number":2})", header));
  CHECK_FALSE(github::signature_valid("s3cret", body, "sha1=" + header.substr(7, 40)));
  CHECK_FALSE(github::signature_valid("s3cret", body, header.substr(0, header.size() - 1)));
  CHECK_FALSE(github::signature_valid("s3cret", body, "sha256=" + std::string(64, 'z')));
  CHECK_FALSE(github::signature_valid("s3cret", body, header.substr(7)));
  CHECK_FALSE(github::signature_valid("s3cret", body, ""));
  CHECK_FALSE(github::signature_valid("", body, FakeGitHub::webhook_signature("", body)));
}

TEST_CASE("the App's JWT is RS256 with iss the App id, iat 60 s in the past and exp 9 minutes ahead") {
  World world;
  auto now = std::chrono::system_clock::now();
  auto jwt = world.app->jwt(now);
  REQUIRE(jwt.ok());
  auto first = jwt->find('.'), second = jwt->find('.', first + 1);
  REQUIRE(second != std::string::npos);
  CHECK(jwt->find('=') == std::string::npos);
  auto header = Json::parse(FakeGitHub::base64url_decode(jwt->substr(0, first)));
  auto claims = Json::parse(FakeGitHub::base64url_decode(jwt->substr(first + 1, second - first - 1)));
  CHECK(header["alg"] == "RS256");
  CHECK(header["typ"] == "JWT");
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  CHECK(claims["iss"] == world.fake.app_id());
  CHECK(claims["iat"].get<std::int64_t>() == seconds - 60);
  CHECK(claims["exp"].get<std::int64_t>() == seconds + 540);

  // The fake verifies the signature with the App's public key before answering.
  REQUIRE(world.app->installation(kInstallation).ok());
  CHECK(world.fake.last_jwt_claims()["iss"] == world.fake.app_id());
}

TEST_CASE("a JWT signed with another key is refused by GitHub and the call fails unauthorized") {
  FakeGitHub fake;
  fake.add_installation({kInstallation, "acme", "Organization", false, {"alpha"}});
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> other(EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), other.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio.get(), &data);
  auto config = config_for(fake);
  config.private_key_pem.assign(data, static_cast<std::size_t>(size));
  auto app = App::create(config);
  REQUIRE(app.ok());
  auto refused = (*app)->installation(kInstallation);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
  CHECK(refused.error().message.find("JSON web token") != std::string::npos);
}

TEST_CASE("the App takes its private key as PKCS#1 or PKCS#8 and refuses a file that is not a key, naming the setting") {
  FakeGitHub fake;
  fake.add_installation({kInstallation, "acme", "Organization", false, {"alpha"}});
  auto config = config_for(fake);
  REQUIRE(fake.private_key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
  REQUIRE(fake.private_key_pkcs1_pem().starts_with("-----BEGIN RSA PRIVATE KEY-----"));

  config.private_key_pem = fake.private_key_pkcs1_pem();
  auto pkcs1 = App::create(config);
  REQUIRE(pkcs1.ok());
  CHECK((*pkcs1)->installation(kInstallation).ok());

  config.private_key_pem = fake.private_key_pem();
  auto pkcs8 = App::create(config);
  REQUIRE(pkcs8.ok());
  CHECK((*pkcs8)->installation(kInstallation).ok());

  config.private_key_pem = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
  auto garbage = App::create(config);
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == ErrorCode::invalid);
  CHECK(garbage.error().message.find("--github-private-key-file") != std::string::npos);
}

TEST_CASE("the App refuses API and web URLs that are not http(s) and keeps an Enterprise path prefix") {
  FakeGitHub fake;
  auto config = config_for(fake);
  config.api_url = "ftp://api.example.com";
  auto bad_api = App::create(config);
  REQUIRE_FALSE(bad_api.ok());
  CHECK(bad_api.error().message.find("--github-api-url") != std::string::npos);
  config = config_for(fake);
  config.web_url = "github.com";
  auto bad_web = App::create(config);
  REQUIRE_FALSE(bad_web.ok());
  CHECK(bad_web.error().message.find("--github-web-url") != std::string::npos);

  auto ghe = github::BaseUrl::parse("https://ghe.example.com:8443/api/v3/");
  REQUIRE(ghe.ok());
  CHECK(ghe->origin == "https://ghe.example.com:8443");
  CHECK(ghe->prefix == "/api/v3");
}

TEST_CASE("the install URL is the web URL's App page carrying the state, and empty without a slug") {
  FakeGitHub fake;
  auto config = config_for(fake);
  config.web_url = "https://ghe.example.com/";
  config.slug = "hearth-dev";
  auto app = App::create(config);
  REQUIRE(app.ok());
  CHECK((*app)->install_url("a b/c") == "https://ghe.example.com/apps/hearth-dev/installations/new?state=a%20b%2Fc");
  CHECK((*app)->install_url("") == "https://ghe.example.com/apps/hearth-dev/installations/new");
  config.slug.clear();
  CHECK((*App::create(config))->install_url("x").empty());
}

TEST_CASE("installation() answers GitHub's installation, with suspended_at set for a suspended one") {
  World world;
  world.fake.add_installation({8, "umbrella", "User", true, {"one"}});
  auto found = world.app->installation(kInstallation);
  REQUIRE(found.ok());
  CHECK((*found)["account"]["login"] == "acme");
  CHECK((*found)["suspended_at"].is_null());
  auto suspended = world.app->installation(8);
  REQUIRE(suspended.ok());
  CHECK((*suspended)["account"]["type"] == "User");
  CHECK((*suspended)["suspended_at"].is_string());
}

TEST_CASE("installation() of an installation GitHub does not know fails not_found with GitHub's message") {
  World world;
  auto missing = world.app->installation(99);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::not_found);
  CHECK(missing.error().message.find("GET /app/installations/99") != std::string::npos);
  CHECK(missing.error().message.find("Not Found") != std::string::npos);
}

TEST_CASE("a token is minted narrowed to the repositories and permissions asked for, as GitHub records it") {
  World world;
  auto token = world.app->token(kInstallation, {{"beta"}, {{"contents", "write"}}});
  REQUIRE(token.ok());
  CHECK(token->value.starts_with("ghs_"));
  CHECK(token->expires_at > std::chrono::system_clock::now() + 50min);
  auto minted = world.fake.minted();
  REQUIRE(minted.size() == 1);
  CHECK(minted[0].value == token->value);
  CHECK(minted[0].repositories == std::vector<std::string>{"beta"});
  CHECK(minted[0].permissions == Json{{"contents", "write"}});
  CHECK(world.app->tokens_minted() == 1);
}

TEST_CASE("a token is reused for the same scope in any order and minted again for another scope") {
  World world;
  auto first = world.app->token(kInstallation, {{"alpha", "beta"}, {{"contents", "read"}}});
  auto again = world.app->token(kInstallation, {{"beta", "alpha"}, {{"contents", "read"}}});
  REQUIRE(first.ok());
  REQUIRE(again.ok());
  CHECK(first->value == again->value);
  CHECK(world.app->tokens_minted() == 1);

  auto other_repo = world.app->token(kInstallation, {{"alpha"}, {{"contents", "read"}}});
  auto other_permission = world.app->token(kInstallation, {{"alpha", "beta"}, {{"contents", "write"}}});
  REQUIRE(other_repo.ok());
  REQUIRE(other_permission.ok());
  CHECK(other_repo->value != first->value);
  CHECK(other_permission->value != first->value);
  CHECK(world.app->tokens_minted() == 3);
  CHECK(world.fake.minted().size() == 3);
}

TEST_CASE("a token expiring within 5 minutes is not reused") {
  World world;
  world.fake.set_token_lifetime(4min);
  auto first = world.app->token(kInstallation, {{"alpha"}, {}});
  auto second = world.app->token(kInstallation, {{"alpha"}, {}});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->value != second->value);
  CHECK(world.app->tokens_minted() == 2);
}

TEST_CASE("a token GitHub no longer accepts is dropped from the cache and the next call mints another") {
  World world;
  const TokenScope scope{{"alpha"}, {}};
  REQUIRE(world.app->get(kInstallation, scope, "/installation/repositories").ok());
  world.fake.revoke_tokens();
  auto refused = world.app->get(kInstallation, scope, "/installation/repositories");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
  CHECK(refused.error().message.find("Bad credentials") != std::string::npos);
  auto again = world.app->get(kInstallation, scope, "/installation/repositories");
  REQUIRE(again.ok());
  CHECK((*again)["total_count"] == 1);
  CHECK(world.app->tokens_minted() == 2);
}

TEST_CASE("a token for a repository outside the installation fails invalid, and for a suspended one forbidden") {
  World world;
  world.fake.add_installation({8, "umbrella", "Organization", true, {"one"}});
  auto outside = world.app->token(kInstallation, {{"delta"}, {}});
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == ErrorCode::invalid);
  CHECK(outside.error().message.find("not accessible to the parent installation") != std::string::npos);
  auto suspended = world.app->token(8, {});
  REQUIRE_FALSE(suspended.ok());
  CHECK(suspended.error().code == ErrorCode::forbidden);
  CHECK(suspended.error().message.find("suspended") != std::string::npos);
  CHECK(world.app->tokens_minted() == 0);
}

TEST_CASE("get_all follows three pages of repositories in order, reporting progress with GitHub's total") {
  World world({"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  std::vector<std::pair<std::size_t, std::optional<std::size_t>>> progress;
  auto all = world.app->get_all(kInstallation, {}, "/installation/repositories?per_page=3", "repositories",
                                [&](std::size_t so_far, std::optional<std::size_t> total) { progress.emplace_back(so_far, total); });
  REQUIRE(all.ok());
  CHECK(names_of(*all) == std::vector<std::string>{"r1", "r2", "r3", "r4", "r5", "r6", "r7"});
  REQUIRE(progress.size() == 3);
  CHECK(progress[0].first == 3);
  CHECK(progress[1].first == 6);
  CHECK(progress[2].first == 7);
  CHECK(progress[2].second == std::optional<std::size_t>(7));
  CHECK(world.fake.requests("/installation/repositories") == 3);
}

TEST_CASE("get_all asks for 100 a page when the path names no page size, and lists array responses") {
  World world;
  world.fake.add_members("acme", {"ann", "bob", "cyd"});
  world.fake.add_pull_requests("acme/beta", 120);
  auto members = world.app->get_all(kInstallation, {{}, {{"members", "read"}}}, "/orgs/acme/members");
  REQUIRE(members.ok());
  CHECK(members->size() == 3);
  auto pulls = world.app->get_all(kInstallation, {{"beta"}, {{"pull_requests", "read"}}}, "/repos/acme/beta/pulls?state=open");
  REQUIRE(pulls.ok());
  REQUIRE(pulls->size() == 120);
  CHECK((*pulls)[0]["number"] == 1);
  CHECK((*pulls)[119]["number"] == 120);
  CHECK(world.fake.requests("/repos/acme/beta/pulls") == 2);
}

TEST_CASE("a primary rate limit is waited out until its reset and the listing completes") {
  World world;
  world.fake.limit_requests(2, 2s);
  auto all = world.app->get_all(kInstallation, {}, "/installation/repositories?per_page=1", "repositories");
  REQUIRE(all.ok());
  CHECK(names_of(*all) == std::vector<std::string>{"alpha", "beta", "gamma"});
  CHECK(statuses_of(world.fake, "/installation/repositories") == std::vector<int>{200, 200, 403, 200});
}

TEST_CASE("a secondary rate limit with retry-after 1 is waited out, as a 429 and as a 403") {
  World world;
  for (int status : {429, 403}) {
    CAPTURE(status);
    world.fake.secondary_limit_once(status);
    auto all = world.app->get_all(kInstallation, {}, "/installation/repositories", "repositories");
    REQUIRE(all.ok());
    CHECK(all->size() == 3);
  }
  CHECK(statuses_of(world.fake, "/installation/repositories") == std::vector<int>{429, 200, 403, 200});
}

TEST_CASE("a stop request during a rate-limit pause ends the call with interrupted at once") {
  World world;
  world.fake.limit_requests(1, 60s);
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] {
    return world.app->get_all(kInstallation, {}, "/installation/repositories?per_page=1", "repositories", {}, stop.get_token());
  });
  REQUIRE(world.fake.wait_for_status(403, 5s));
  auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - asked < 2s);
  auto ended = result.get();
  REQUIRE_FALSE(ended.ok());
  CHECK(ended.error().code == ErrorCode::interrupted);
}

TEST_CASE("a rate limit resetting later than the longest wait allowed fails unavailable without waiting") {
  FakeGitHub fake;
  fake.add_installation({kInstallation, "acme", "Organization", false, {"alpha", "beta"}});
  fake.limit_requests(1, 600s);
  auto config = config_for(fake);
  config.max_rate_limit_wait = 60s;
  auto app = App::create(config);
  REQUIRE(app.ok());
  auto started = std::chrono::steady_clock::now();
  auto all = (*app)->get_all(kInstallation, {}, "/installation/repositories?per_page=1", "repositories");
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().code == ErrorCode::unavailable);
  CHECK(all.error().message.find("rate limit") != std::string::npos);
}

TEST_CASE("GitHub's errors map to codes carrying the method, the path and GitHub's message, never the token") {
  World world;
  world.fake.add_pull_requests("acme/beta", 1);
  auto out_of_scope = world.app->get(kInstallation, {{"alpha"}, {{"pull_requests", "read"}}}, "/repos/acme/beta/pulls");
  REQUIRE_FALSE(out_of_scope.ok());
  CHECK(out_of_scope.error().code == ErrorCode::not_found);
  CHECK(out_of_scope.error().message.find("GET /repos/acme/beta/pulls") != std::string::npos);
  CHECK(out_of_scope.error().message.find("Not Found") != std::string::npos);

  auto no_permission = world.app->get(kInstallation, {{"beta"}, {{"contents", "read"}}}, "/repos/acme/beta/pulls");
  REQUIRE_FALSE(no_permission.ok());
  CHECK(no_permission.error().code == ErrorCode::forbidden);
  CHECK(no_permission.error().message.find("Resource not accessible by integration") != std::string::npos);
  for (const auto& token : world.fake.minted()) CHECK(no_permission.error().message.find(token.value) == std::string::npos);

  auto config = config_for(world.fake);
  config.api_url = "http://127.0.0.1:1";
  auto unreachable = (*App::create(config))->installation(kInstallation);
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().code == ErrorCode::unavailable);
  CHECK(unreachable.error().message.find("GET /app/installations/7") != std::string::npos);
}

TEST_CASE("a Link to another host is not followed, and a Link's rel=next is found among the others") {
  CHECK(github::next_link(R"(<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next", <https://api.github.com/x?page=9>; rel="last")") ==
        "https://api.github.com/x?page=3");
  CHECK(github::next_link(R"(<https://api.github.com/x?page=1>; rel="first")").empty());
  github::RestClient client(*github::BaseUrl::parse("https://ghe.example.com/api/v3"), 1s, 1s);
  auto same = client.target_of("https://ghe.example.com/api/v3/installation/repositories?page=2");
  REQUIRE(same.ok());
  CHECK(*same == "/api/v3/installation/repositories?page=2");
  auto elsewhere = client.target_of("https://evil.example.com/api/v3/installation/repositories?page=2");
  REQUIRE_FALSE(elsewhere.ok());
  CHECK(elsewhere.error().code == ErrorCode::invalid);
}

}  // namespace
}  // namespace hearth::test
