// Signing in with GitHub over real HTTP, against the fake GitHub's OAuth web flow (its
// authorize page, its token endpoint with PKCE and redirect URI checks and errors at
// HTTP 200, GET /user): a member of a linked installation's account signs in and is made
// a member of that organization; the same GitHub account later signs in as the same
// user; a reused state, another browser's state, a denied authorization, a GitHub user
// outside every linked installation, and a sign-up the server turned off are refused
// with words on the sign-in page; a password user links their GitHub account from
// settings and then signs in with it.
#include <doctest/doctest.h>

#include "storage/text.h"
#include "tests/support/github_world.h"

namespace hearth::test {
namespace {

// `url` with each query value percent-encoded again: cpp-httplib's client hands a
// Location header over decoded, where a browser follows it as sent.
std::string as_sent(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  std::string out = url.substr(0, q + 1), rest = url.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    auto amp = rest.find('&', pos);
    auto pair = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = pair.find('=');
    if (out.back() != '?') out += '&';
    out += eq == std::string::npos ? pair : pair.substr(0, eq + 1) + percent_encoded(pair.substr(eq + 1));
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

// One browser: its cookies, and the redirects it follows by hand.
struct Browser {
  GitHubRepoWorld& w;
  std::map<std::string, std::string> cookies;

  std::string cookie_header() const {
    std::string out;
    for (const auto& [k, v] : cookies) out += (out.empty() ? "" : "; ") + k + "=" + v;
    return out;
  }
  void keep_cookies(const httplib::Headers& headers) {
    auto [from, to] = headers.equal_range("Set-Cookie");
    for (auto it = from; it != to; ++it) {
      auto pair = it->second.substr(0, it->second.find(';'));
      auto eq = pair.find('=');
      auto value = pair.substr(eq + 1);
      if (value.empty()) cookies.erase(pair.substr(0, eq));
      else cookies[pair.substr(0, eq)] = value;
    }
  }
  // GET on Hearth: the answer (redirects not followed).
  ApiResponse hearth(const std::string& path) {
    httplib::Headers headers;
    if (!cookies.empty()) headers.emplace("Cookie", cookie_header());
    auto r = w.s->call("GET", path, "", "", headers);
    keep_cookies(r.headers);
    return r;
  }
  // The authorize page on GitHub (the fake): where it sends the browser back.
  std::string github(const std::string& url) {
    auto path = as_sent(url.substr(w.github.url().size()));
    httplib::Client cli(w.github.url());
    auto r = cli.Get(path);
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 302, r->body);
    return r->get_header_value("Location");
  }
  // The local part of a URL on Hearth.
  std::string local(const std::string& url) {
    auto at = url.find("/v1/");
    return as_sent(at == std::string::npos ? url : url.substr(at));
  }
  // Signs in with GitHub from the start: where Hearth sends the browser in the end.
  std::string sign_in(const std::string& start = "/v1/auth/github") {
    auto started = hearth(start);
    REQUIRE_MESSAGE(started.status == 302, started.text);
    auto back = github(started.header("Location"));
    auto done = hearth(local(back));
    REQUIRE_MESSAGE(done.status == 302, done.text);
    last_callback = local(back);
    return done.header("Location");
  }
  std::string last_callback;
};

std::string query_error(const std::string& location) {
  auto at = location.find("error=");
  if (at == std::string::npos) return "";
  std::string out;
  auto text = location.substr(at + 6);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (text[i] == '&') {
      break;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

void link_with_members(GitHubRepoWorld& w) {
  w.github.add_members("acme-corp", {"octo-dev", "olive-gh"});
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", kInstallation}})
              .status == 200);
  w.poll("/v1/orgs/acme/github", [](const json& b) { return b["sync"]["phase"] == "done" && b["members"] == 2; });
}

TEST_CASE("a member of a linked GitHub organization signs in with GitHub and lands on the org") {
  GitHubRepoWorld w;
  link_with_members(w);
  CHECK(w.s->call("GET", "/v1/auth/providers").body["github"]["sign_in"] == true);

  Browser b{w};
  auto started = b.hearth("/v1/auth/github");
  REQUIRE(started.status == 302);
  auto authorize = started.header("Location");
  CHECK(authorize.rfind(w.github.url() + "/login/oauth/authorize?client_id=", 0) == 0);
  CHECK(authorize.find("code_challenge_method=S256") != std::string::npos);
  CHECK(authorize.find("redirect_uri=http://127.0.0.1:") != std::string::npos);  // as cpp-httplib decodes Location
  CHECK(b.cookies.count("hearth_github_oauth") == 1);
  auto nonce = b.cookies["hearth_github_oauth"];

  w.github.set_authorizing_user("octo-dev");
  auto back = b.github(authorize);
  auto done = b.hearth(b.local(back));
  REQUIRE_MESSAGE(done.status == 302, done.text);
  CHECK(done.header("Location") == "/orgs/acme");
  REQUIRE(b.cookies.count("hearth_session") == 1);
  CHECK(b.cookies.count("hearth_github_oauth") == 0);  // the state's cookie is spent
  auto me = b.hearth("/v1/auth/session");
  REQUIRE(me.status == 200);
  CHECK(me.body["user"]["username"] == "octo-dev");
  auto members = w.s->call("GET", "/v1/orgs/acme/members", w.owner).body["items"];
  bool member = false;
  for (const auto& m : members) member = member || (m["username"] == "octo-dev" && m["role"] == "member");
  CHECK(member);
  auto linked = b.hearth("/v1/auth/github/identity");
  CHECK(linked.body["github"]["login"] == "octo-dev");
  CHECK(linked.body["github"]["id"] == w.github.user_id("octo-dev"));
  // Audited (the callback is a GET, which the edge does not record by itself): the
  // sign-up and sign-in in the server's log, the membership in the org's.
  auto has = [](const json& log, const std::string& kind) {
    for (const auto& e : log["items"])
      if (e["kind"] == kind && e["username"] == "octo-dev") return true;
    return false;
  };
  w.poll("/v1/audit?limit=200", [&](const json& log) { return has(log, "auth.github.sign_up") && has(log, "auth.github.sign_in"); });
  w.poll("/v1/orgs/acme/audit?limit=200", [&](const json& log) { return has(log, "auth.github.member_added"); });

  SUBCASE("the same callback again is refused: a state is good once") {
    auto again = b.hearth(b.local(back));
    REQUIRE(again.status == 302);
    // This browser is signed in now: the reason is shown in its settings.
    CHECK(again.header("Location").rfind("/settings?github_error=", 0) == 0);
    // Replayed with the state's cookie too (copied before it was spent): used already.
    Browser other{w};
    other.cookies = {{"hearth_github_oauth", nonce}};
    auto replayed = other.hearth(b.local(back));
    REQUIRE(replayed.status == 302);
    CHECK(replayed.header("Location").rfind("/sign-in?error=", 0) == 0);
    CHECK(query_error(replayed.header("Location")).find("used already") != std::string::npos);
    CHECK(other.cookies.count("hearth_session") == 0);
  }
  SUBCASE("later sign-ins are the same user") {
    Browser other{w};
    CHECK(other.sign_in() == "/");
    CHECK(other.hearth("/v1/auth/session").body["user"]["id"] == me.body["user"]["id"]);
    CHECK(w.s->call("GET", "/v1/users?limit=100", w.owner).body["items"].size() == 2);  // olive and octo-dev
  }
  SUBCASE("a local next path, never another site") {
    Browser other{w};
    CHECK(other.sign_in("/v1/auth/github?next=%2Forgs%2Facme%2Fsettings") == "/orgs/acme/settings");
    Browser third{w};
    CHECK(third.sign_in("/v1/auth/github?next=%2F%2Fevil.example%2F") == "/");
    // A tab (or newline) that a browser drops from the Location would make it //evil…
    Browser fourth{w};
    CHECK(fourth.sign_in("/v1/auth/github?next=%2F%09%2Fevil.example%2F") == "/");
    Browser fifth{w};
    CHECK(fifth.sign_in("/v1/auth/github?next=%2F%5Cevil.example") == "/");
  }
}

TEST_CASE("signing in with GitHub is refused, in words, for a reused or foreign state, a denial and an outsider") {
  GitHubRepoWorld w;
  link_with_members(w);
  w.github.set_authorizing_user("octo-dev");

  SUBCASE("a state started in another browser") {
    Browser attacker{w}, victim{w};
    auto started = attacker.hearth("/v1/auth/github");
    auto back = attacker.github(started.header("Location"));
    // The victim is sent the callback (a login CSRF): their browser has no such state.
    auto done = victim.hearth(victim.local(back));
    REQUIRE(done.status == 302);
    CHECK(query_error(done.header("Location")).find("started in another browser") != std::string::npos);
    CHECK(victim.cookies.count("hearth_session") == 0);
  }
  SUBCASE("a state not made here") {
    Browser b{w};
    auto done = b.hearth("/v1/auth/github/callback?code=x&state=forged.state");
    REQUIRE(done.status == 302);
    CHECK(query_error(done.header("Location")).find("did not start") != std::string::npos);
  }
  SUBCASE("the person cancels on GitHub") {
    w.github.set_authorizing_user("octo-dev", true);
    Browser b{w};
    auto where = b.sign_in();
    CHECK(query_error(where) == "you did not authorize Hearth on GitHub");
    CHECK(b.cookies.count("hearth_session") == 0);
  }
  SUBCASE("a GitHub user outside every linked installation") {
    w.github.set_authorizing_user("stranger");
    Browser b{w};
    auto where = b.sign_in();
    CHECK(where.rfind("/sign-in?error=", 0) == 0);
    CHECK(query_error(where).find("stranger is not a member of any GitHub organization linked") != std::string::npos);
    CHECK(b.cookies.count("hearth_session") == 0);
    CHECK(w.s->call("GET", "/v1/users?limit=100", w.owner).body["items"].size() == 1);  // no user made
  }
  SUBCASE("a member's login, given up and taken by another GitHub account") {
    // The last sync saw octo-dev (their account id); the name is someone else's now.
    w.github.reassign_login("octo-dev");
    Browser b{w};
    auto where = b.sign_in();
    CHECK(query_error(where).find("octo-dev is not a member of any GitHub organization linked") != std::string::npos);
    CHECK(b.cookies.count("hearth_session") == 0);
  }
  SUBCASE("a code whose PKCE verifier does not match") {
    // The code and state are the attacker's; the state is theirs (their cookie), but a
    // code stolen from another flow carries another challenge.
    Browser b{w};
    auto first = b.hearth("/v1/auth/github");
    auto stolen = b.github(first.header("Location"));
    auto code = stolen.substr(stolen.find("code=") + 5, 20);
    Browser attacker{w};
    auto mine = attacker.hearth("/v1/auth/github");
    auto my_back = attacker.github(mine.header("Location"));
    auto state = my_back.substr(my_back.find("&state="));
    auto done = attacker.hearth(attacker.local("/v1/auth/github/callback?code=" + code + state));
    REQUIRE(done.status == 302);
    CHECK(query_error(done.header("Location")).find("GitHub did not accept the authorization") != std::string::npos);
    CHECK(attacker.cookies.count("hearth_session") == 0);
  }
}

TEST_CASE("with GitHub sign-up off, only GitHub accounts linked to a user sign in") {
  GitHubRepoWorld w([](http::EdgeConfig& edge) { edge.github_signup = false; });
  link_with_members(w);
  CHECK(w.s->call("GET", "/v1/auth/providers").body["github"]["sign_up"] == false);
  w.github.set_authorizing_user("octo-dev");
  Browser b{w};
  auto where = b.sign_in();
  CHECK(query_error(where).find("does not create accounts from GitHub") != std::string::npos);
  CHECK(b.cookies.count("hearth_session") == 0);
}

TEST_CASE("a password user links their GitHub account from settings, then signs in with it") {
  GitHubRepoWorld w;
  link_with_members(w);
  // olive signs in with her password in this browser.
  Browser b{w};
  auto signed_in = w.s->call("POST", "/v1/auth/sign-in", "", json{{"username", "olive"}, {"password", "password-olive"}});
  REQUIRE(signed_in.status == 200);
  b.keep_cookies(signed_in.headers);
  w.github.set_authorizing_user("olive-gh");
  CHECK(b.sign_in("/v1/auth/github?link=1") == "/settings?github=linked");
  CHECK(b.hearth("/v1/auth/github/identity").body["github"]["login"] == "olive-gh");

  // Another browser: GitHub's olive-gh is olive.
  Browser other{w};
  CHECK(other.sign_in() == "/");
  CHECK(other.hearth("/v1/auth/session").body["user"]["username"] == "olive");

  // Linking needs a signed-in user.
  Browser nobody{w};
  auto started = nobody.hearth("/v1/auth/github?link=1");
  CHECK(started.header("Location").rfind("/sign-in?error=", 0) == 0);

  // Unlinked: GitHub's olive-gh is a new person again (a member: a user of their own
  // would be made, but the name... is theirs to take: olive-gh).
  auto unlinked = w.s->call("DELETE", "/v1/auth/github", w.owner);
  CHECK(unlinked.status == 200);
  CHECK(w.s->call("GET", "/v1/auth/github/identity", w.owner).body["github"].is_null());
}

}  // namespace
}  // namespace hearth::test
