// The /v1 API through real HTTP on loopback: authorization over the whole route table,
// sign-in, sessions, CSRF, tokens, organizations and members, errors, SSE, inspector.
#include <doctest/doctest.h>
#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "actors/organization/organization_actor.h"
#include "tests/support/test_host.h"
#include "tests/support/test_server.h"

using namespace hearth;
using nlohmann::json;
using test::TestServer;

namespace {

struct World {
  std::string owner, admin, member, outsider, root;
};

// acme: owner (owner), admin (admin), member (member); other: outsider (owner);
// root is a server admin in no org.
World make_world(TestServer& s) {
  World w{s.user_with_token("owner"), s.user_with_token("admin"), s.user_with_token("member"),
          s.user_with_token("outsider"), s.user_with_token("root", true)};
  REQUIRE(s.call("POST", "/v1/orgs", w.owner, json{{"name", "Acme"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs", w.outsider, json{{"name", "Other"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "admin"}, {"role", "admin"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "member"}}).status == 201);
  return w;
}

// A request whose answer may be an endless stream: its status, and its body unless it is a stream.
test::ApiResponse head_only(TestServer& s, const std::string& path, const std::string& token) {
  httplib::Client cli("127.0.0.1", s.port);
  cli.set_read_timeout(5, 0);
  test::ApiResponse out;
  std::string body;
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  (void)cli.Get(
      path, h,
      [&](const httplib::Response& r) {
        out.status = r.status;
        return r.status != 200;  // an error answer is short: read it; a stream is not
      },
      [&](const char* data, std::size_t n) {
        body.append(data, n);
        return true;
      });
  out.body = nlohmann::json::parse(body, nullptr, false);
  return out;
}

std::string opened(const Result<std::string>& r) { return r ? *r : "refused: " + r.error().message; }

// Adds the queue "test.sleep" ({"ms"}) to the organization type: a step that blocks its
// actor, for tests of requests that wait behind one. `sleeping` turns true when it starts.
std::function<void(actors::ActorType&)> with_sleep_queue(std::shared_ptr<std::atomic<bool>> sleeping) {
  return [sleeping](actors::ActorType& type) {
    if (type.name != "organization") return;
    type.on_queue("test.sleep", [sleeping](actors::StepContext&, const json& body) -> Result<json> {
      sleeping->store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(body.at("ms").get<int>()));
      return json::object();
    });
  };
}

// Puts the actor of org `slug` into a `ms`-long step and returns once it runs. The sender
// is acknowledged only when the step's batch commits, so it sends from `sender`.
void start_sleep(TestServer& s, const std::string& slug, int ms, std::atomic<bool>& sleeping, std::thread& sender) {
  auto org = actors::organization::address(s.identity().find_org(slug)->at("org_id").get<std::string>());
  sender = std::thread([&s, org, ms] {
    actors::SendOptions no_wait;
    no_wait.wait = false;
    (void)s.host->send(org, "test.sleep", json{{"ms", ms}}, no_wait);
  });
  for (int i = 0; i < 200 && !sleeping.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(sleeping.load());
}

}  // namespace

TEST_CASE("every route declares a policy, and each caller gets exactly what that policy allows") {
  TestServer s;
  auto w = make_world(s);
  auto org_actor = actors::organization::address(s.identity().find_org("acme")->at("org_id").get<std::string>()).id();
  std::map<std::string, std::string> params{{"org", "acme"},          {"username", "nobody-here"}, {"token", "t_nope"},
                                            {"session", "s_nope"},    {"id", org_actor},           {"name", "members"},
                                            {"message", "999999"}};
  struct Caller {
    std::string name, token;
  };
  std::vector<Caller> callers{{"anonymous", ""},     {"other org", w.outsider}, {"member", w.member},
                              {"admin", w.admin},    {"owner", w.owner},        {"server admin", w.root}};
  std::size_t checked = 0;
  for (const auto& route : s.server->router().routes()) {
    INFO(route.method << " " << route.pattern);
    REQUIRE_MESSAGE(route.policy != http::Policy::unset, "a route without a policy");
    std::string path = route.pattern;
    for (const auto& [k, v] : params) path = std::regex_replace(path, std::regex("\\{" + k + "\\}"), v);
    for (const auto& c : callers) {
      INFO("caller: " << c.name);
      auto r = route.pattern.ends_with("/events")
                   ? head_only(s, path, c.token)
                   : s.call(route.method, path, c.token, route.method == "GET" || route.method == "DELETE" ? "" : "{}");
      int status = r.status;
      std::string message;
      if (r.body.is_object() && r.body.contains("error")) message = r.body["error"].value("message", "");
      bool hidden_org = status == 404 && message.starts_with("no organization");
      int rank = c.name == "owner" ? 3 : c.name == "admin" ? 2 : c.name == "member" ? 1 : 0;
      switch (route.policy) {
        case http::Policy::anyone:
          CHECK(status != 401);
          CHECK(status != 403);
          break;
        case http::Policy::signed_in:
          if (c.token.empty()) CHECK(status == 401);
          else CHECK((status != 401 && status != 403));
          break;
        case http::Policy::server_admin:
          if (c.token.empty()) CHECK(status == 401);
          else if (c.name != "server admin") CHECK(status == 403);
          else CHECK((status != 401 && status != 403));
          break;
        default: {
          int need = route.policy == http::Policy::org_member ? 1 : route.policy == http::Policy::org_admin ? 2 : 3;
          if (c.token.empty()) CHECK(status == 401);
          else if (rank == 0) CHECK(hidden_org);  // not a member: the org does not exist for them
          else if (rank < need) CHECK(status == 403);
          else CHECK((status != 401 && status != 403 && !hidden_org));
        }
      }
      ++checked;
    }
  }
  CHECK(checked >= 6 * 25);
}

TEST_CASE("sign-in sets an HttpOnly SameSite cookie that works until sign-out") {
  TestServer s;
  s.user_with_token("ada");
  auto r = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "ada"}, {"password", "password-ada"}});
  REQUIRE(r.status == 200);
  auto cookie = r.header("Set-Cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Lax") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);
  auto behind_tls = s.call("POST", "/v1/auth/sign-in", "",
                           json{{"username", "ada"}, {"password", "password-ada"}}.dump(),
                           {{"X-Forwarded-Proto", "https"}});
  CHECK(behind_tls.header("Set-Cookie").find("; Secure") != std::string::npos);
  CHECK(r.body["user"]["username"] == "ada");
  auto pair = cookie.substr(0, cookie.find(';'));
  auto csrf = r.body["csrf_token"].get<std::string>();

  auto me = s.call("GET", "/v1/auth/session", "", "", {{"Cookie", pair}});
  CHECK(me.status == 200);
  CHECK(me.body["credential"]["kind"] == "session");
  CHECK(me.body["csrf_token"] == csrf);

  auto out = s.call("POST", "/v1/auth/sign-out", "", "", {{"Cookie", pair}, {"X-CSRF-Token", csrf}});
  CHECK(out.status == 200);
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  auto after = s.call("GET", "/v1/auth/session", "", "", {{"Cookie", pair}});
  CHECK(after.status == 401);
  CHECK(after.body["error"]["message"] == "the credential was revoked");
}

TEST_CASE("a wrong password is 401, and repeated failures from one address slow down with 429") {
  TestServer s;
  s.user_with_token("bob");
  for (int i = 0; i < 5; ++i) {
    auto r = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", "wrong-password"}});
    CHECK(r.status == 401);
    CHECK(r.body["error"]["message"] == "wrong username or password");
  }
  auto blocked = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", "password-bob"}});
  CHECK(blocked.status == 429);
  CHECK(blocked.body["error"]["code"] == "rate_limited");
  CHECK(std::stoi(blocked.header("Retry-After")) <= 2);
  // Unknown users get the same answer as wrong passwords.
  auto ghost = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "ghost"}, {"password", "whatever-123"}});
  CHECK(ghost.status == 401);
  CHECK(ghost.body["error"]["message"] == "wrong username or password");
}

TEST_CASE("a burst of sign-ins holds a bounded share of the workers, the rest are told to retry") {
  TestServer s({}, 4);  // 4 workers: sign-ins may hold 1
  identity::set_password_cost(identity::PasswordCost::interactive);  // a real, slow hash
  s.user_with_token("ben");
  identity::set_password_cost(identity::PasswordCost::minimum);
  std::atomic<int> ok{0}, retry{0}, other{0};
  std::vector<std::thread> burst;
  for (int i = 0; i < 10; ++i)
    burst.emplace_back([&] {
      auto r = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "ben"}, {"password", "password-ben"}});
      if (r.status == 200) ++ok;
      else if (r.status == 503 && !r.header("Retry-After").empty()) ++retry;
      else ++other;
    });
  for (auto& t : burst) t.join();
  CHECK(ok >= 1);
  CHECK(retry >= 1);
  CHECK(other == 0);
  // Refused ones did not count as failures: signing in right away works.
  CHECK(s.call("POST", "/v1/auth/sign-in", "", json{{"username", "ben"}, {"password", "password-ben"}}).status == 200);
}

TEST_CASE("failed sign-ins are also rate limited per client address, across usernames") {
  http::EdgeConfig edge;
  edge.sign_in_failures_per_address = 3;
  TestServer s(edge);
  for (int i = 0; i < 3; ++i)
    CHECK(s.call("POST", "/v1/auth/sign-in", "", json{{"username", "u" + std::to_string(i)}, {"password", "x-123456"}})
              .status == 401);
  CHECK(s.call("POST", "/v1/auth/sign-in", "", json{{"username", "u9"}, {"password", "x-123456"}}).status == 429);
}

TEST_CASE("sessions expire, and a revoked session stops working at once") {
  http::EdgeConfig edge;
  edge.session_ttl = std::chrono::milliseconds(400);
  TestServer s(edge);
  auto token = s.user_with_token("cy");
  auto sign_in = [&] {
    auto r = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "cy"}, {"password", "password-cy"}});
    REQUIRE(r.status == 200);
    auto c = r.header("Set-Cookie");
    return c.substr(0, c.find(';'));
  };
  auto first = sign_in();
  CHECK(s.call("GET", "/v1/auth/session", "", "", {{"Cookie", first}}).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto expired = s.call("GET", "/v1/auth/session", "", "", {{"Cookie", first}});
  CHECK(expired.status == 401);
  CHECK(expired.body["error"]["message"] == "the credential expired");

  auto second = sign_in();
  auto list = s.call("GET", "/v1/auth/sessions", token);
  REQUIRE(list.status == 200);
  REQUIRE(list.body["items"].size() == 1);
  auto id = list.body["items"][0]["id"].get<std::string>();
  CHECK(s.call("DELETE", "/v1/auth/sessions/" + id, token).status == 200);
  CHECK(s.call("GET", "/v1/auth/session", "", "", {{"Cookie", second}}).status == 401);
}

TEST_CASE("cookie-authenticated changes need an allowed Origin or the CSRF header, bearer tokens do not") {
  http::EdgeConfig edge;
  edge.allowed_origins = {"https://app.example"};
  TestServer s(edge);
  auto token = s.user_with_token("dee");
  auto r = s.call("POST", "/v1/auth/sign-in", "", json{{"username", "dee"}, {"password", "password-dee"}});
  auto cookie = r.header("Set-Cookie").substr(0, r.header("Set-Cookie").find(';'));
  auto csrf = r.body["csrf_token"].get<std::string>();
  auto body = json{{"name", "t"}}.dump();

  auto bare = s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}});
  CHECK(bare.status == 403);
  CHECK(bare.body["error"]["message"].get<std::string>().find("cross-site") != std::string::npos);
  CHECK(s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}, {"Origin", "https://evil.example"}}).status == 403);
  CHECK(s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}, {"X-CSRF-Token", "0000"}}).status == 403);
  CHECK(s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status == 201);
  CHECK(s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}, {"Origin", "https://app.example"}}).status == 201);
  auto same_origin = "http://127.0.0.1:" + std::to_string(s.port);
  CHECK(s.call("POST", "/v1/tokens", "", body, {{"Cookie", cookie}, {"Origin", same_origin}}).status == 201);
  // Reads need nothing; bearer tokens need nothing.
  CHECK(s.call("GET", "/v1/tokens", "", "", {{"Cookie", cookie}}).status == 200);
  CHECK(s.call("POST", "/v1/tokens", token, body).status == 201);
}

TEST_CASE("an API token is shown once, stored only as a hash, listed without its value, and revocable") {
  TestServer s;
  auto admin_token = s.user_with_token("eve");
  auto created = s.call("POST", "/v1/tokens", admin_token, json{{"name", "ci"}, {"expires_in_days", 30}});
  REQUIRE(created.status == 201);
  auto secret = created.body["token"].get<std::string>();
  CHECK(secret.starts_with("hearth_"));
  CHECK(secret.size() >= 7 + 43);  // 32 random bytes, base64url
  CHECK(created.body["expires_at"].is_number_integer());
  CHECK(s.call("GET", "/v1/auth/session", secret).status == 200);

  auto list = s.call("GET", "/v1/tokens", secret);
  REQUIRE(list.status == 200);
  CHECK(list.body.dump().find(secret) == std::string::npos);
  bool found = false;
  for (const auto& t : list.body["items"])
    if (t["id"] == created.body["id"]) {
      found = true;
      CHECK(t["name"] == "ci");
    }
  CHECK(found);

  // Its use is recorded (without the request waiting for it).
  bool used = false;
  for (int i = 0; i < 100 && !used; ++i) {
    auto list = s.call("GET", "/v1/tokens", admin_token);
    for (const auto& t : list.body["items"])
      used = used || (t["id"] == created.body["id"] && t["last_used_at"].is_number_integer());
    if (!used) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(used);

  // No file under the data dir holds the token (or the passwords) in plain text.
  s.server->stop();
  s.host->shutdown();  // checkpoint and close every database
  for (const auto& entry : std::filesystem::recursive_directory_iterator(s.dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK_MESSAGE(bytes.find(secret) == std::string::npos, entry.path().string());
    CHECK_MESSAGE(bytes.find(admin_token) == std::string::npos, entry.path().string());
    CHECK_MESSAGE(bytes.find("password-eve") == std::string::npos, entry.path().string());
  }
}

TEST_CASE("a revoked token is refused at once") {
  TestServer s;
  auto token = s.user_with_token("fay");
  auto created = s.call("POST", "/v1/tokens", token, json{{"name", "temp"}});
  auto secret = created.body["token"].get<std::string>();
  CHECK(s.call("DELETE", "/v1/tokens/" + created.body["id"].get<std::string>(), token).status == 200);
  auto r = s.call("GET", "/v1/orgs", secret);
  CHECK(r.status == 401);
  CHECK(r.body["error"]["message"] == "the credential was revoked");
  CHECK(s.call("DELETE", "/v1/tokens/t_unknown", token).status == 404);
}

TEST_CASE("organizations: slugs are unique and validated, the creator owns it, the list is only yours") {
  TestServer s;
  auto a = s.user_with_token("gil");
  auto b = s.user_with_token("hal");
  auto made = s.call("POST", "/v1/orgs", a, json{{"name", "Gil's Tools!"}});
  REQUIRE(made.status == 201);
  CHECK(made.body["slug"] == "gil-s-tools");
  CHECK(made.body["role"] == "owner");
  auto clash = s.call("POST", "/v1/orgs", b, json{{"name", "Other", }, {"slug", "gil-s-tools"}});
  CHECK(clash.status == 409);
  CHECK(clash.body["error"]["code"] == "conflict");
  CHECK(s.call("POST", "/v1/orgs", b, json{{"name", "x"}, {"slug", "Bad Slug"}}).body["error"]["message"] ==
        "field \"slug\" may hold only lowercase letters, digits and '-'");
  CHECK(s.call("POST", "/v1/orgs", b, json{{"name", std::string(101, 'n')}}).status == 400);
  CHECK(s.call("POST", "/v1/orgs", b, json{{"name", 42}}).body["error"]["message"] == "field \"name\" must be a string");
  CHECK(s.call("GET", "/v1/orgs", a).body["items"].size() == 1);
  CHECK(s.call("GET", "/v1/orgs", b).body["items"].empty());
  CHECK(s.call("GET", "/v1/orgs/gil-s-tools", b).status == 404);
}

TEST_CASE("members: add, change role, remove, the last owner can be neither removed nor demoted") {
  TestServer s;
  auto owner = s.user_with_token("ida");
  auto admin = s.user_with_token("jon");
  s.user_with_token("kim");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "team"}}).status == 201);
  CHECK(s.call("POST", "/v1/orgs/team/members", owner, json{{"username", "jon"}, {"role", "admin"}}).status == 201);
  CHECK(s.call("POST", "/v1/orgs/team/members", owner, json{{"username", "jon"}}).status == 409);
  CHECK(s.call("POST", "/v1/orgs/team/members", owner, json{{"username", "nobody"}}).status == 404);
  CHECK(s.call("POST", "/v1/orgs/team/members", owner, json{{"username", "kim"}, {"role", "king"}}).status == 400);
  // An admin adds members but cannot hand out ownership.
  CHECK(s.call("POST", "/v1/orgs/team/members", admin, json{{"username", "kim"}, {"role", "owner"}}).status == 403);
  CHECK(s.call("POST", "/v1/orgs/team/members", admin, json{{"username", "kim"}}).status == 201);
  auto kim = s.identity().find_user("kim");
  auto kim_token = s.identity().create_token((*kim)["user_id"].get<std::string>(), "t", std::nullopt)->secret;
  CHECK(s.call("GET", "/v1/orgs/team", kim_token).body["role"] == "member");
  CHECK(s.call("PATCH", "/v1/orgs/team/members/kim", admin, json{{"role", "admin"}}).status == 200);
  CHECK(s.call("GET", "/v1/orgs/team", kim_token).body["role"] == "admin");

  auto demote = s.call("PATCH", "/v1/orgs/team/members/ida", owner, json{{"role", "member"}});
  CHECK(demote.status == 409);
  CHECK(demote.body["error"]["message"].get<std::string>().find("last owner") != std::string::npos);
  CHECK(s.call("DELETE", "/v1/orgs/team/members/ida", owner).status == 409);
  CHECK(s.call("DELETE", "/v1/orgs/team/members/ida", admin).status == 403);

  CHECK(s.call("DELETE", "/v1/orgs/team/members/kim", owner).status == 200);
  CHECK(s.call("GET", "/v1/orgs/team", kim_token).status == 404);
  auto members = s.call("GET", "/v1/orgs/team/members", owner);
  CHECK(members.body["items"].size() == 2);

  // ?wait=false: 202 with the message id; the change lands shortly after.
  auto queued = s.call("POST", "/v1/orgs/team/members?wait=false", owner, json{{"username", "kim"}});
  CHECK(queued.status == 202);
  CHECK(queued.body["message_id"].is_number_integer());
  CHECK(test::TempDir().path() != s.dir.path());
  bool landed = false;
  for (int i = 0; i < 200 && !landed; ++i) {
    landed = s.call("GET", "/v1/orgs/team", kim_token).status == 200;
    if (!landed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(landed);
}

TEST_CASE("org secrets: admins set, list and delete them, values are sealed and never shown or stored in clear") {
  TestServer s;
  auto owner = s.user_with_token("abe");
  auto member = s.user_with_token("bea");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "vault"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/vault/members", owner, json{{"username", "bea"}}).status == 201);
  const std::string value = "sk-ant-very-secret-0123456789";

  auto set = s.call("PUT", "/v1/orgs/vault/secrets/ANTHROPIC_API_KEY", owner, json{{"value", value}});
  REQUIRE(set.status == 200);
  CHECK(set.body["name"] == "ANTHROPIC_API_KEY");
  CHECK(set.body.dump().find(value) == std::string::npos);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/ANTHROPIC_API_KEY", owner, json{{"value", value + "2"}}).status == 200);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/OTHER", owner, json{{"value", "x"}}).status == 200);

  auto list = s.call("GET", "/v1/orgs/vault/secrets", owner);
  REQUIRE(list.status == 200);
  REQUIRE(list.body["items"].size() == 2);
  CHECK(list.body["items"][0]["name"] == "ANTHROPIC_API_KEY");
  CHECK(list.body["items"][0].contains("updated_at"));
  CHECK(list.body.dump().find(value) == std::string::npos);

  // Members may not; bad names and values are refused with the reason.
  CHECK(s.call("GET", "/v1/orgs/vault/secrets", member).status == 403);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/X", member, json{{"value", "v"}}).status == 403);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/lower", owner, json{{"value", "v"}}).body["error"]["message"] ==
        "a secret name holds only A-Z, 0-9 and '_' (it becomes an environment variable); got \"lower\"");
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/1ST", owner, json{{"value", "v"}}).status == 400);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/EMPTY", owner, json{{"value", ""}}).status == 400);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/NUMBER", owner, json{{"value", 5}}).status == 400);
  CHECK(s.call("PUT", "/v1/orgs/vault/secrets/BIG", owner, json{{"value", std::string(70000, 'x')}}).status == 400);

  // Sealed in the org's database under the master key, bound to the org and the name.
  auto org_id = s.identity().find_org("vault")->at("org_id").get<std::string>();
  auto sealed = s.host->call(actors::organization::address(org_id), actors::organization::kSealedSecrets,
                             json{{"names", {"ANTHROPIC_API_KEY"}}});
  REQUIRE(sealed.ok());
  storage::Sealed box{(*sealed)["ANTHROPIC_API_KEY"]["nonce"], (*sealed)["ANTHROPIC_API_KEY"]["ciphertext"]};
  auto key = storage::MasterKey::load(s.dir.path());
  CHECK(opened(key->open(actors::organization::secret_context(org_id, "ANTHROPIC_API_KEY"), box)) == value + "2");

  CHECK(s.call("DELETE", "/v1/orgs/vault/secrets/OTHER", owner).status == 200);
  CHECK(s.call("DELETE", "/v1/orgs/vault/secrets/OTHER", owner).status == 404);
  CHECK(s.call("GET", "/v1/orgs/vault/secrets", owner).body["items"].size() == 1);

  // No file of the data dir holds a value in clear (queue bodies included).
  s.server->stop();
  s.host->shutdown();
  for (const auto& entry : std::filesystem::recursive_directory_iterator(s.dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK_MESSAGE(bytes.find(value) == std::string::npos, entry.path().string());
  }
}

TEST_CASE("every error status answers the JSON error shape") {
  http::EdgeConfig edge;
  edge.max_body_bytes = 4096;
  TestServer s(edge);
  auto token = s.user_with_token("lou");
  auto check = [](const test::ApiResponse& r, int status, const std::string& code) {
    CHECK(r.status == status);
    CHECK(r.body["error"]["code"] == code);
    CHECK(r.body["error"]["message"].is_string());
    CHECK_FALSE(r.header("x-request-id").empty());
  };
  check(s.call("POST", "/v1/orgs", token, "{\"name\":"), 400, "invalid");
  check(s.call("POST", "/v1/orgs", token, "[1,2]"), 400, "invalid");
  check(s.call("POST", "/v1/orgs", token, json::object()), 400, "invalid");
  check(s.call("GET", "/v1/orgs"), 401, "unauthorized");
  check(s.call("GET", "/v1/users", token), 403, "forbidden");
  check(s.call("GET", "/v1/nothing-here", token), 404, "not_found");
  check(s.call("GET", "/v1/orgs/nope", token), 404, "not_found");
  auto wrong_method = s.call("PUT", "/v1/orgs", token, "{}");
  check(wrong_method, 405, "method_not_allowed");
  CHECK(wrong_method.header("Allow") == "POST, GET");
  check(s.call("POST", "/v1/orgs", token, json{{"name", "same"}}).status == 201 ? s.call("POST", "/v1/orgs", token, json{{"name", "same"}}) : test::ApiResponse{},
        409, "conflict");
  check(s.call("POST", "/v1/orgs", token, std::string(5000, ' ')), 413, "too_large");
  check(s.call("POST", "/v1/orgs", token, "name=x", {}, "application/x-www-form-urlencoded"), 415,
        "unsupported_media_type");
  s.server->set_ready(false);
  check(s.call("GET", "/v1/orgs", token), 503, "unavailable");
}

TEST_CASE("a change waiting behind a long step answers 504 past the deadline, runs later, and reads stay fast") {
  using namespace std::chrono;
  http::EdgeConfig edge;
  edge.request_timeout = 400ms;
  auto sleeping = std::make_shared<std::atomic<bool>>(false);
  TestServer s(edge, 8, with_sleep_queue(sleeping));
  auto owner = s.user_with_token("una");
  s.user_with_token("vic");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "slow"}}).status == 201);
  std::thread sender;
  start_sleep(s, "slow", 2000, *sleeping, sender);

  auto started = steady_clock::now();
  auto add = s.call("POST", "/v1/orgs/slow/members", owner, json{{"username", "vic"}});
  auto took = steady_clock::now() - started;
  CHECK(add.status == 504);
  CHECK(add.body["error"]["code"] == "timeout");
  CHECK(add.body["error"]["message"].get<std::string>().find("may still be accepted") != std::string::npos);
  CHECK(took < 1900ms);  // answered at the deadline, not when the step ended

  // Reads of the busy actor do not queue behind its step.
  auto read = s.call("GET", "/v1/orgs/slow", owner);
  CHECK(read.status == 200);
  CHECK(steady_clock::now() - started < 1900ms);

  // The change was accepted and runs once the step is done.
  bool added = false;
  for (int i = 0; i < 100 && !added; ++i) {
    auto members = s.call("GET", "/v1/orgs/slow/members", owner);
    for (const auto& m : members.body["items"]) added = added || m["username"] == "vic";
    if (!added) std::this_thread::sleep_for(50ms);
  }
  CHECK(added);
  sender.join();
}

TEST_CASE("requests waiting for stuck actors hold at most half the workers, past that, 503 at once") {
  using namespace std::chrono;
  http::EdgeConfig edge;
  edge.request_timeout = 3000ms;
  auto sleeping = std::make_shared<std::atomic<bool>>(false);
  TestServer s(edge, 4, with_sleep_queue(sleeping));  // 4 workers: at most 2 may wait
  auto owner = s.user_with_token("yan");
  s.user_with_token("zed");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "stuck"}}).status == 201);
  std::thread sender;
  start_sleep(s, "stuck", 1500, *sleeping, sender);

  std::vector<std::thread> waiters;
  std::atomic<int> busy{0}, done{0};
  for (int i = 0; i < 2; ++i)
    waiters.emplace_back([&] {
      auto r = s.call("POST", "/v1/orgs/stuck/members", owner, json{{"username", "zed"}});
      if (r.status == 503) ++busy;
      else ++done;
    });
  for (int i = 0; i < 500 && s.server->waiting_sends() < 2; ++i) std::this_thread::sleep_for(2ms);
  REQUIRE(s.server->waiting_sends() == 2);  // both are waiting now
  auto third = s.call("POST", "/v1/orgs/stuck/members", owner, json{{"username", "zed"}});
  CHECK(third.status == 503);
  CHECK(third.body["error"]["message"].get<std::string>().find("is busy: 2 requests already wait") !=
        std::string::npos);
  CHECK(s.call("GET", "/v1/orgs/stuck", owner).status == 200);  // reads still find a worker
  for (auto& t : waiters) t.join();
  sender.join();
  CHECK(busy == 0);
  CHECK(done == 2);
}

TEST_CASE("stopping the server lets the requests in flight finish") {
  using namespace std::chrono;
  auto sleeping = std::make_shared<std::atomic<bool>>(false);
  TestServer s({}, 8, with_sleep_queue(sleeping));
  auto owner = s.user_with_token("wes");
  s.user_with_token("xia");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "drain"}}).status == 201);
  std::thread sender;
  start_sleep(s, "drain", 800, *sleeping, sender);
  // A change that waits behind the step is in flight when the server is told to stop.
  std::optional<test::ApiResponse> in_flight;
  std::thread client([&] { in_flight = s.call("POST", "/v1/orgs/drain/members", owner, json{{"username", "xia"}}); });
  for (int i = 0; i < 500 && s.server->waiting_sends() < 1; ++i) std::this_thread::sleep_for(2ms);
  REQUIRE(s.server->waiting_sends() == 1);  // in flight
  s.server->stop();
  client.join();
  sender.join();
  REQUIRE(in_flight);
  CHECK(in_flight->status == 201);
  // New connections are refused once it stopped.
  httplib::Client late("127.0.0.1", s.port);
  late.set_connection_timeout(1, 0);
  CHECK_FALSE(late.Get("/healthz"));
}

TEST_CASE("a corpus of malformed bodies never crashes or hangs the server") {
  TestServer s;
  auto token = s.user_with_token("max");
  std::vector<std::string> corpus{
      "", "{", "}", "{\"name\"", "{\"name\":}", "null", "true", "1e999999", "{\"name\":1e999999}",
      "{\"name\":-99999999999999999999999999999}", "{\"name\":\"\\ud800\"}", "{\"name\":\"\xff\xfe\"}",
      "{\"name\":\"ok\",\"slug\":[]}", "{\"expires_in_days\":1e30,\"name\":\"t\"}",
      "{\"expires_in_days\":-1,\"name\":\"t\"}", "{\"expires_in_days\":\"7\",\"name\":\"t\"}",
      std::string(100000, '['), std::string(50, '[') + std::string(50, ']'), "{\"a\":" + std::string(70, '[') + "}",
      "\x00\x01\x02", "{\"username\":{\"$gt\":\"\"},\"password\":[]}", "{\"name\":\"" + std::string(3000, 'x') + "\"}"};
  for (const auto& path : {"/v1/orgs", "/v1/tokens", "/v1/auth/sign-in", "/v1/orgs/x/members"})
    for (const auto& body : corpus) {
      INFO(path << " <- " << body.substr(0, 60));
      auto r = s.call("POST", path, token, body);
      CHECK(r.status >= 200);
      CHECK(r.status < 500);
      if (r.status >= 400) CHECK(r.body["error"]["code"].is_string());
    }
  CHECK(s.call("GET", "/healthz").status == 200);
}

TEST_CASE("org events stream over SSE and resume from Last-Event-ID, or say reset when they cannot") {
  http::EdgeConfig edge;
  edge.sse_heartbeat = std::chrono::milliseconds(200);
  TestServer s(edge);
  auto owner = s.user_with_token("ned");
  for (auto name : {"p1", "p2", "p3"}) s.user_with_token(name);
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "stream"}}).status == 201);

  // Reads events until `count` arrived; returns the raw text.
  auto read = [&](httplib::Headers headers, std::size_t count, std::function<void()> during = nullptr) {
    httplib::Client cli("127.0.0.1", s.port);
    cli.set_read_timeout(5, 0);
    headers.emplace("Authorization", "Bearer " + owner);
    std::string text;
    std::thread trigger;
    bool started = false;
    (void)cli.Get("/v1/orgs/stream/events", headers, [&](const char* data, std::size_t n) {
      text.append(data, n);
      if (!started && during) {
        started = true;
        trigger = std::thread(during);
      }
      std::size_t events = 0;
      for (std::size_t p = text.find("\nevent: "); p != std::string::npos; p = text.find("\nevent: ", p + 1)) ++events;
      if (text.starts_with("event: ")) ++events;
      return events < count;
    });
    if (trigger.joinable()) trigger.join();
    return text;
  };
  auto text = read({}, 2, [&] {
    s.call("POST", "/v1/orgs/stream/members", owner, json{{"username", "p1"}});
    s.call("POST", "/v1/orgs/stream/members", owner, json{{"username", "p2"}});
  });
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("id: ([0-9a-f]+\\.[0-9]+)\nevent: organization.member.added")));
  auto first_id = m[1].str();
  CHECK(text.find("\"username\":\"p2\"") != std::string::npos);

  // Something happens while the client is away; it comes back with the first id.
  s.call("POST", "/v1/orgs/stream/members", owner, json{{"username", "p3"}});
  auto resumed = read({{"Last-Event-ID", first_id}}, 2);
  CHECK(resumed.find("\"username\":\"p1\"") == std::string::npos);
  CHECK(resumed.find("\"username\":\"p2\"") != std::string::npos);
  CHECK(resumed.find("\"username\":\"p3\"") != std::string::npos);

  auto stale = read({{"Last-Event-ID", "deadbeef.1"}}, 1);
  CHECK(stale.find("event: reset") != std::string::npos);
}

TEST_CASE("an event stream ends when its credential is revoked, and streams are bounded") {
  http::EdgeConfig edge;
  edge.sse_recheck = std::chrono::milliseconds(100);
  edge.sse_max_streams = 1;
  TestServer s(edge);
  auto owner = s.user_with_token("oz");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "bounded"}}).status == 201);
  auto temp = s.call("POST", "/v1/tokens", owner, json{{"name", "watch"}});
  auto secret = temp.body["token"].get<std::string>();

  std::string text;
  std::atomic<bool> open{false};
  std::thread watcher([&] {
    httplib::Client cli("127.0.0.1", s.port);
    cli.set_read_timeout(10, 0);
    (void)cli.Get("/v1/orgs/bounded/events", {{"Authorization", "Bearer " + secret}},
                  [&](const char* d, std::size_t n) {
                    text.append(d, n);
                    open = true;
                    return true;
                  });
  });
  REQUIRE(test::TempDir().path() != s.dir.path());
  for (int i = 0; i < 2500 && !open; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(open);  // the one stream allowed is taken
  auto second = s.call("GET", "/v1/orgs/bounded/members", owner);  // ordinary requests still work
  CHECK(second.status == 200);
  CHECK(head_only(s, "/v1/orgs/bounded/events", owner).status == 503);
  CHECK(s.call("DELETE", "/v1/tokens/" + temp.body["id"].get<std::string>(), owner).status == 200);
  watcher.join();  // the server ended the stream
  CHECK(text.find("event: signed_out") != std::string::npos);
}

TEST_CASE("the inspector pages through actors and rows, masks secrets, and retries or discards failed messages") {
  TestServer s;
  auto root = s.user_with_token("root", true);
  s.user_with_token("pat");
  auto page = s.call("GET", "/v1/inspector/actors?limit=1", root);
  REQUIRE(page.status == 200);
  CHECK(page.body["items"].size() == 1);
  REQUIRE(page.body["next_cursor"].is_string());
  auto next = s.call("GET", "/v1/inspector/actors?limit=1&cursor=" + page.body["next_cursor"].get<std::string>(), root);
  CHECK(next.body["items"][0]["id"] != page.body["items"][0]["id"]);
  CHECK(s.call("GET", "/v1/inspector/actors?state=sleeping", root).status == 400);
  auto bad_limit = s.call("GET", "/v1/inspector/actors?limit=lots", root);
  CHECK(bad_limit.status == 400);
  CHECK(bad_limit.body["error"]["message"] == "query parameter \"limit\" must be an integer from 1 to 500");
  CHECK(s.call("GET", "/v1/users?limit=0", root).status == 400);

  auto users = s.call("GET", "/v1/inspector/actors?type=user", root);
  REQUIRE(users.body["items"].size() == 2);
  auto user_id = users.body["items"][0]["id"].get<std::string>();
  auto rows = s.call("GET", "/v1/inspector/actors/" + user_id + "/tables/profile", root);
  REQUIRE(rows.status == 200);
  CHECK(rows.body["items"][0]["password_hash"] == "***masked***");
  CHECK(rows.body.dump().find("$argon2id$") == std::string::npos);
  auto summary = s.call("GET", "/v1/inspector/actors/" + user_id, root);
  CHECK(summary.body.dump().find("$argon2id$") == std::string::npos);
  auto queue = s.call("GET", "/v1/inspector/actors/" + user_id + "/queue?status=completed", root);
  CHECK(queue.status == 200);
  CHECK(queue.body.dump().find("token_hash\":\"***masked***") != std::string::npos);
  CHECK(s.call("GET", "/v1/inspector/actors/" + user_id + "/tables/nope", root).status == 404);
  CHECK(s.call("GET", "/v1/inspector/actors/ffff", root).status == 404);

  // A rejected message (remove a member who is not one) is no failure: nothing to retry.
  REQUIRE(s.call("POST", "/v1/orgs", root, json{{"name", "ops"}}).status == 201);
  auto org_id = s.identity().find_org("ops")->at("org_id").get<std::string>();
  auto org = actors::organization::address(org_id);
  auto refused = s.host->send(org, actors::organization::kRemoveMember, {{"user_id", "u_nobody"}}, actors::SendOptions{.wait = true});
  REQUIRE_FALSE(refused.ok());
  auto rejected = s.call("GET", "/v1/inspector/actors/" + org.id() + "/queue?status=rejected", root);
  REQUIRE(rejected.body["items"].size() == 1);
  CHECK(s.call("GET", "/v1/inspector/actors/" + org.id() + "/queue", root).body["failed"]["items"].empty());
  CHECK(s.call("POST", "/v1/inspector/actors/" + org.id() + "/messages/" +
                           std::to_string(rejected.body["items"][0]["id"].get<std::int64_t>()) + "/retry",
               root, "{}").status == 409);
  // A failed message: a body its handler cannot read (the handler throws).
  (void)s.host->send(org, actors::organization::kRemoveMember, json::object());
  std::int64_t failed_id = 0;
  for (int i = 0; i < 200 && failed_id == 0; ++i) {
    auto q = s.call("GET", "/v1/inspector/actors/" + org.id() + "/queue", root);
    if (!q.body["failed"]["items"].empty()) failed_id = q.body["failed"]["items"][0]["id"].get<std::int64_t>();
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(failed_id > 0);
  auto base = "/v1/inspector/actors/" + org.id() + "/messages/" + std::to_string(failed_id);
  auto retried = s.call("POST", base + "/retry", root, "{}");
  CHECK(retried.status == 200);
  CHECK(retried.body["status"] == "pending");
  auto history = s.call("GET", "/v1/inspector/actors/" + org.id() + "/history?limit=50", root);
  int runs = 0;
  for (int i = 0; i < 200 && runs < 2; ++i) {
    history = s.call("GET", "/v1/inspector/actors/" + org.id() + "/history?limit=50", root);
    runs = 0;
    for (const auto& h : history.body["items"])
      if (h["message_id"] == failed_id) ++runs;
    if (runs < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(runs == 2);  // it ran again (and failed again)
  auto discarded = s.call("POST", base + "/discard", root, "{}");
  CHECK(discarded.status == 200);
  CHECK(discarded.body["status"] == "discarded");
  CHECK(s.call("POST", base + "/discard", root, "{}").status == 409);
}

TEST_CASE("/metrics speaks the Prometheus text format to loopback clients, or with its token") {
  http::EdgeConfig edge;
  edge.metrics_token = "scrape-secret";
  TestServer s(edge);
  auto token = s.user_with_token("quinn");
  s.call("GET", "/v1/orgs", token);
  CHECK(s.call("GET", "/metrics").status == 401);
  httplib::Client cli("127.0.0.1", s.port);
  // A request is counted once its response is written (its duration includes the
  // write), which may be just after the client has it: wait for the count.
  httplib::Result r{nullptr, httplib::Error::Unknown};
  CHECK(test::eventually([&] {
    r = cli.Get("/metrics", {{"Authorization", "Bearer scrape-secret"}});
    return r && r->body.find("hearth_http_requests_total{route=\"/v1/orgs\",method=\"GET\",status=\"200\"}") !=
                    std::string::npos;
  }));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("# TYPE hearth_http_requests_total counter") != std::string::npos);
  CHECK(r->body.find("hearth_http_requests_total{route=\"/v1/orgs\",method=\"GET\",status=\"200\"}") !=
        std::string::npos);
  CHECK(r->body.find("hearth_http_request_duration_seconds_bucket{route=\"/v1/orgs\",le=\"+Inf\"}") !=
        std::string::npos);
  CHECK(r->body.find("hearth_actors{type=\"user\",state=\"active\"} 1") != std::string::npos);
  CHECK(r->body.find("hearth_queue_messages_processed_total{type=\"directory\",outcome=\"completed\"}") !=
        std::string::npos);
  CHECK(r->body.find("hearth_sse_clients 0") != std::string::npos);
}

TEST_CASE("only server admins create organizations unless the server opens it to everyone") {
  TestServer s({}, 8, {}, {}, [](http::ServerConfig& c) { c.edge.anyone_creates_orgs = false; });
  auto user = s.user_with_token("plain");
  auto admin = s.user_with_token("root", true);
  auto refused = s.call("POST", "/v1/orgs", user, json{{"name", "Mine"}});
  CHECK(refused.status == 403);
  CHECK(refused.body["error"]["message"].get<std::string>().find("--anyone-creates-orgs") != std::string::npos);
  CHECK(s.call("GET", "/v1/orgs", user).body["items"].empty());
  CHECK(s.call("POST", "/v1/orgs", admin, json{{"name", "Theirs"}}).status == 201);
  TestServer open;  // the tests' default: opened
  CHECK(open.call("POST", "/v1/orgs", open.user_with_token("plain"), json{{"name", "Mine"}}).status == 201);
}

TEST_CASE("a new password ends sessions and revokes API tokens, unless asked to keep them") {
  TestServer s;
  auto admin = s.user_with_token("root", true);
  auto stolen = s.user_with_token("vic");  // a token someone else got hold of
  REQUIRE(s.call("GET", "/v1/auth/session", stolen).status == 200);
  auto reset = s.call("PATCH", "/v1/users/vic", admin, json{{"password", "brand-new-password-1"}});
  REQUIRE(reset.status == 200);
  CHECK(s.call("GET", "/v1/auth/session", stolen).status == 401);
  // Kept on purpose: a routine change by an admin who knows the tokens are safe.
  auto kept = s.identity().create_token(
      (*s.identity().find_user("vic"))["user_id"].get<std::string>(), "ci", std::nullopt);
  REQUIRE(kept.ok());
  REQUIRE(s.call("PATCH", "/v1/users/vic", admin, json{{"password", "another-password-2"}, {"keep_tokens", true}}).status ==
          200);
  CHECK(s.call("GET", "/v1/auth/session", kept->secret).status == 200);
}
