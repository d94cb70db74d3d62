// "Sign in with GitHub": GitHub's OAuth web flow through the App's client id and secret,
// with a sealed single-use state and PKCE, signing the person in with the same session
// cookie as a password (docs/github.md, "Signing in with GitHub").
//
//   GET /v1/auth/github[?next=/path | ?link=1]  -> 302 to GitHub's authorize page
//   GET /v1/auth/github/callback?code&state     -> 302 to `next` signed in (or linked), or
//                                                 to /sign-in?error=… saying why not
//
// The state is sealed with the server's master key (nobody else can make or read it) and
// holds the PKCE verifier, the redirect URI, what the flow is for and when it expires;
// it is bound to the browser that started it (a cookie holding its nonce) and taken once.
// The user token GitHub gives is used at once to ask who the person is, then dropped:
// never stored, never logged.
#include <algorithm>

#include <httplib.h>
#include <openssl/evp.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/audit/audit_actor.h"
#include "actors/directory/directory_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/organization/organization_actor.h"
#include "github/app.h"
#include "github/jwt.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/routes.h"
#include "storage/database.h"
#include "storage/text.h"

namespace hearth::http {
namespace {

namespace dir = actors::directory;

constexpr const char* kStateContext = "github sign-in state";
constexpr const char* kNonceCookie = "hearth_github_oauth";
constexpr std::int64_t kStateLifetimeMs = 10 * 60 * 1000;

// A path on this server to go to after signing in: local only ("/orgs/acme"), never
// another site ("//evil.example", "https://…").
std::string local_path(const std::string& next) {
  // Browsers drop tabs and newlines from a Location ("/\t/evil.example" is "//evil…"):
  // no control character at all, nor a backslash, which some read as a slash.
  bool odd = std::any_of(next.begin(), next.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f || c == '\\'; });
  if (next.empty() || next[0] != '/' || next.starts_with("//") || odd) return "/";
  return next;
}

Reply redirect(Context& ctx, const std::string& to) {
  ctx.res.set_header("Location", to);
  return Reply{302, {{"location", to}}};
}

// Who the browser is signed in as, if anyone (these routes are open to anyone).
Result<identity::Caller> browser_user(Context& ctx) {
  if (ctx.secret.empty()) return Error{ErrorCode::unauthorized, "not signed in"};
  return ctx.edge.identity.authenticate(ctx.secret);
}

// Back to the sign-in page (or the settings page, for linking, or for anyone signed in
// already when the state said nothing) saying why.
Reply refused(Context& ctx, const Json& state, const std::string& why) {
  spdlog::info("auth.github_refused reason=\"{}\"", printable(why, 200));
  bool linking = state.is_object() ? state.value("purpose", std::string()) == "link" : browser_user(ctx).ok();
  return redirect(ctx, std::string(linking ? "/settings?github_error=" : "/sign-in?error=") + percent_encoded(why));
}

// An entry in the audit log `log` (the server's, or an org's): the callback is a GET,
// which the edge does not record by itself. Nobody waits for it; a failure is logged.
void audit(Context& ctx, const std::string& log, const std::string& kind, const std::string& user_id,
           const std::string& username, const Json& detail) {
  Json entry{{"at", storage::now_ms()}, {"user_id", user_id},   {"username", username},
             {"kind", kind},            {"target", "directory"}, {"request_id", ctx.res.get_header_value("x-request-id")},
             {"outcome", "ok"},         {"detail", detail}};
  auto address = actors::audit::address(log);
  Status st = ctx.edge.host.get_or_create(address);
  if (st)
    if (auto sent = ctx.edge.host.send(address, actors::audit::kAppend, entry); !sent) st = sent.error();
  if (!st) spdlog::error("audit.append_failed kind={} error={}", kind, st.error().message);
}

std::string nonce_cookie(const Context& ctx, const std::string& value, std::int64_t max_age_s) {
  bool secure = ctx.edge.config.secure_cookies || ctx.req.get_header_value("X-Forwarded-Proto") == "https";
  return fmt::format("{}={}; Path=/v1/auth/github; Max-Age={}; HttpOnly; SameSite=Lax{}", kNonceCookie, value,
                     max_age_s, secure ? "; Secure" : "");
}

std::string s256(const std::string& verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(verifier.data(), verifier.size(), digest, &size, EVP_sha256(), nullptr);
  return github::base64url(std::string_view(reinterpret_cast<const char*>(digest), size));
}

Result<std::shared_ptr<github::App>> oauth_app(const Context& ctx) {
  const auto& app = ctx.edge.config.github;
  if (!app || !app->oauth_configured())
    return Error{ErrorCode::unavailable, "signing in with GitHub is not set up on this server (a GitHub App with "
                                         "--github-client-id and --github-client-secret; docs/github.md)"};
  if (!ctx.edge.config.master_key) return Error{ErrorCode::unavailable, "this server has no master key"};
  return app;
}

// GET /v1/auth/providers: which ways of signing in this server offers (the sign-in page).
Result<Reply> providers(Context& ctx) {
  bool github = oauth_app(ctx).ok();
  return Reply{200, {{"password", true}, {"github", {{"sign_in", github}, {"sign_up", github && ctx.edge.config.github_signup}}}}};
}

// GET /v1/auth/github: to GitHub's authorize page. ?link=1 (signed in): link the GitHub
// account to the caller instead of signing in.
Result<Reply> start(Context& ctx) {
  auto app = oauth_app(ctx);
  if (!app) return refused(ctx, nullptr, app.error().message);
  Json state{{"nonce", identity::new_secret("")}, {"verifier", identity::new_secret("")},
             {"redirect_uri", own_url(ctx) + "/v1/auth/github/callback"},
             {"next", local_path(ctx.query("next"))}, {"expires_at", storage::now_ms() + kStateLifetimeMs},
             {"purpose", "sign_in"}};
  if (ctx.query("link") == "1") {
    auto caller = browser_user(ctx);
    if (!caller) return redirect(ctx, "/sign-in?error=" + percent_encoded("sign in first, then link your GitHub account"));
    state["purpose"] = "link";
    state["user_id"] = caller->user_id;
    state["next"] = "/settings";
  }
  auto sealed = ctx.edge.config.master_key->seal(kStateContext, state.dump());
  ctx.res.set_header("Set-Cookie", nonce_cookie(ctx, state["nonce"], kStateLifetimeMs / 1000));
  return redirect(ctx, (*app)->authorize_url(sealed.nonce + "." + sealed.ciphertext, state["redirect_uri"],
                                             s256(state["verifier"])));
}

// The state GitHub handed back, opened, unexpired, made for this browser, and not used before.
Result<Json> take_state(Context& ctx) {
  auto text = ctx.query("state");
  auto dot = text.find('.');
  auto opened = dot == std::string::npos
                    ? Result<std::string>(Error{ErrorCode::invalid, ""})
                    : ctx.edge.config.master_key->open(kStateContext, {text.substr(0, dot), text.substr(dot + 1)});
  auto state = opened ? Json::parse(*opened, nullptr, false) : Json();
  if (!opened || !state.is_object() || !state.contains("nonce"))
    return Error{ErrorCode::invalid, "GitHub came back with a sign-in this server did not start; start again"};
  if (state.value("expires_at", std::int64_t{0}) < storage::now_ms())
    return Error{ErrorCode::invalid, "the sign-in with GitHub took more than 10 minutes; start again"};
  auto nonce = state["nonce"].get<std::string>();
  if (cookie_value(ctx.req.get_header_value("Cookie"), kNonceCookie) != nonce)
    return Error{ErrorCode::invalid, "this sign-in with GitHub was started in another browser or tab, or a newer one "
                                     "replaced it; start again here"};
  if (ctx.edge.used_once.full())
    return Error{ErrorCode::unavailable, "too many sign-ins with GitHub are in progress; try again in a few minutes"};
  if (!ctx.edge.used_once.take(nonce, state["expires_at"].get<std::int64_t>()))
    return Error{ErrorCode::invalid, "this sign-in with GitHub was used already; start again"};
  return state;
}

// The organizations whose linked installation shows `login` among its account's members.
Result<std::vector<std::string>> orgs_with_member(Context& ctx, const std::string& login, std::int64_t github_id) {
  std::vector<std::string> orgs;
  auto links = ctx.edge.host.call(dir::kAddress, dir::kInstallations);
  if (!links) return links.error();
  for (const auto& link : (*links)["items"]) {
    auto org = link["org_id"].get<std::string>();
    auto member = ctx.edge.host.call(actors::github_data::address(org), actors::github_data::kMember,
                                     {{"login", login}, {"github_id", github_id}});
    if (member) orgs.push_back(org);
    else if (member.error().code != ErrorCode::not_found) return member.error();
  }
  return orgs;
}

// A first sign-in: a Hearth user for a GitHub login that some linked installation shows
// as a member, made a member of those organizations. `orgs` is where to add them.
Result<Json> sign_up(Context& ctx, const Json& who, const std::vector<std::string>& orgs) {
  auto login = who["login"].get<std::string>();
  if (auto taken = ctx.edge.identity.find_user(login); taken)
    return Error{ErrorCode::conflict, fmt::format("a Hearth user named {} exists already: sign in with its password and "
                                                  "link your GitHub account from your settings", login)};
  // No password anyone knows: this user signs in through GitHub (an admin can set one).
  auto user = ctx.edge.identity.create_user(login, identity::new_secret("gh-"), false);
  if (!user) return user.error();
  auto user_id = (*user)["user_id"].get<std::string>();
  auto linked = ctx.edge.send(dir::kAddress, dir::kLinkGitHub,
                              {{"github_id", who["id"]}, {"login", login}, {"user_id", user_id}}, true);
  if (!linked) {
    // Nobody could sign in as the user made for it: disabled, not left about.
    if (auto off = ctx.edge.identity.set_disabled(user_id, true); !off)
      spdlog::error("auth.github_sign_up_cleanup user_id={} error=\"{}\"", user_id, off.error().message);
    return linked.error();
  }
  audit(ctx, actors::audit::kServerLog, "auth.github.sign_up", user_id, login,
        {{"github_id", who["id"]}, {"orgs", orgs}});
  for (const auto& org : orgs) {
    // Past the org's seats: not added (an owner adds them once there is a seat).
    auto seat = plan_allows_in(ctx, org, actors::billing::Work::member);
    if (!seat) {
      spdlog::info("auth.github_member_refused org={} user={} reason=\"{}\"", org, user_id, seat.error().message);
      audit(ctx, org, "auth.github.member_refused", user_id, login, {{"reason", seat.error().message}});
      continue;
    }
    if (auto added = ctx.edge.identity.add_member(org, login, "member", *seat); !added)
      spdlog::warn("auth.github_member_failed org={} user={} error=\"{}\"", org, user_id, added.error().message);
    else
      audit(ctx, org, "auth.github.member_added", user_id, login, {{"role", "member"}, {"github_id", who["id"]}});
  }
  spdlog::info("auth.github_sign_up user_id={} github_id={} orgs={}", user_id, who["id"].get<std::int64_t>(), orgs.size());
  return *user;
}

// GET /v1/auth/github/callback: where GitHub sends the person back.
Result<Reply> callback(Context& ctx) {
  auto app = oauth_app(ctx);
  if (!app) return refused(ctx, nullptr, app.error().message);
  auto state = take_state(ctx);
  if (!state) return refused(ctx, nullptr, state.error().message);
  ctx.res.set_header("Set-Cookie", nonce_cookie(ctx, "", 0));
  if (auto error = ctx.query("error"); !error.empty()) {
    auto why = error == "access_denied" ? std::string("you did not authorize Hearth on GitHub")
                                        : "GitHub said: " + printable(ctx.query("error_description", error), 200);
    return refused(ctx, *state, why);
  }
  auto code = ctx.query("code");
  if (code.empty()) return refused(ctx, *state, "GitHub sent no authorization code; start again");
  auto token = (*app)->user_token(code, {}, (*state)["verifier"], (*state)["redirect_uri"]);
  if (!token) return refused(ctx, *state, token.error().message);
  auto who = (*app)->user(*token);  // the token's only use; dropped with this scope
  if (!who) return refused(ctx, *state, who.error().message);
  auto github_id = (*who)["id"].get<std::int64_t>();
  auto login = (*who)["login"].get<std::string>();

  if ((*state)["purpose"] == "link") {
    // The browser's session must still be the user who started linking.
    auto caller = browser_user(ctx);
    if (!caller || caller->user_id != (*state)["user_id"])
      return refused(ctx, *state, "sign in as the user who started linking, then link again");
    auto linked = ctx.edge.send(dir::kAddress, dir::kLinkGitHub,
                                {{"github_id", github_id}, {"login", login}, {"user_id", caller->user_id}}, true);
    if (!linked) return refused(ctx, *state, linked.error().message);
    spdlog::info("auth.github_linked user_id={} github_id={}", caller->user_id, github_id);
    audit(ctx, actors::audit::kServerLog, "auth.github.linked", caller->user_id, caller->username,
          {{"github_id", github_id}, {"login", login}});
    return redirect(ctx, "/settings?github=linked");
  }

  std::string user_id;
  std::string next = (*state)["next"];
  if (auto known = ctx.edge.host.call(dir::kAddress, dir::kGitHubIdentity, {{"github_id", github_id}}); known) {
    user_id = (*known)["user_id"].get<std::string>();
  } else if (known.error().code != ErrorCode::not_found) {
    return refused(ctx, *state, known.error().message);
  } else {
    if (!ctx.edge.config.github_signup)
      return refused(ctx, *state, fmt::format("GitHub user {} has no Hearth account, and this server does not create "
                                              "accounts from GitHub: ask a server admin to add you", login));
    auto orgs = orgs_with_member(ctx, login, github_id);
    if (!orgs) return refused(ctx, *state, orgs.error().message);
    if (orgs->empty())
      return refused(ctx, *state, fmt::format("GitHub user {} is not a member of any GitHub organization linked to this "
                                              "Hearth: ask an admin of your Hearth organization to add you, or to link "
                                              "your GitHub organization's installation", login));
    auto made = sign_up(ctx, *who, *orgs);
    if (!made) return refused(ctx, *state, made.error().message);
    user_id = (*made)["user_id"].get<std::string>();
    if (next == "/")
      if (auto org = ctx.edge.host.call(dir::kAddress, dir::kFindOrg, {{"org_id", orgs->front()}}); org)
        next = "/orgs/" + percent_encoded((*org)["slug"].get<std::string>());
  }
  auto user = ctx.edge.host.call(dir::kAddress, dir::kFindUser, {{"user_id", user_id}});
  if (!user) return refused(ctx, *state, user.error().message);
  if ((*user).value("disabled", false)) return refused(ctx, *state, "this account is disabled");
  auto session = ctx.edge.identity.create_session(
      user_id, ctx.edge.config.session_ttl, sanitize_utf8(ctx.req.get_header_value("User-Agent").substr(0, 256)));
  if (!session) return refused(ctx, *state, session.error().message);
  ctx.res.set_header("Set-Cookie", session_cookie(ctx, session->secret, ctx.edge.config.session_ttl.count() / 1000));
  spdlog::info("auth.sign_in user_id={} session={} via=github", user_id, session->info["id"].get<std::string>());
  audit(ctx, actors::audit::kServerLog, "auth.github.sign_in", user_id, (*user).value("username", login),
        {{"github_id", github_id}, {"session", session->info["id"]}});
  return redirect(ctx, next);
}

// DELETE /v1/auth/github: the caller's GitHub account no longer signs them in.
Result<Reply> unlink(Context& ctx) {
  auto r = ctx.edge.send(dir::kAddress, dir::kUnlinkGitHub, {{"user_id", ctx.caller->user_id}}, true);
  if (!r) return r.error();
  return Reply{200, r->result};
}

// GET /v1/auth/github/identity: the caller's linked GitHub account, or null.
Result<Reply> linked_identity(Context& ctx) {
  auto known = ctx.edge.host.call(dir::kAddress, dir::kGitHubIdentity, {{"user_id", ctx.caller->user_id}});
  if (!known && known.error().code != ErrorCode::not_found) return known.error();
  return Reply{200, {{"github", known ? Json{{"login", (*known)["login"]}, {"id", (*known)["github_id"]},
                                             {"linked_at", (*known)["linked_at"]}}
                                      : Json(nullptr)}}};
}

}  // namespace

void add_github_auth_routes(Router& r) {
  r.add({"GET", "/v1/auth/providers", Policy::anyone, "", providers});
  r.add({"GET", "/v1/auth/github", Policy::anyone, "directory", start});
  r.add({"GET", "/v1/auth/github/callback", Policy::anyone, "directory, user, organization, github_data, audit", callback});
  r.add({"GET", "/v1/auth/github/identity", Policy::signed_in, "directory", linked_identity});
  r.add({"DELETE", "/v1/auth/github", Policy::signed_in, "directory", unlink});
}

}  // namespace hearth::http
