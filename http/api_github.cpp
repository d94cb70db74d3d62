// GitHub over HTTP: the webhook receiver (POST /v1/webhooks/github) and an organization's
// GitHub routes (its installation, repositories, pull requests and deliveries). See
// docs/github.md and docs/http-api.md.
//
// A delivery is verified before anything is parsed or recorded (401 otherwise), then
// put on the durable queue of the organization's github-data actor with the delivery id
// as its dedupe key, and answered at once: GitHub waits 10 s at most. A redelivery of
// the same id answers 200 and applies nothing again.
#include <httplib.h>

#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/directory/directory_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/github_data/webhook_events.h"
#include "actors/identity/identity.h"
#include "actors/organization/organization_actor.h"
#include "github/app.h"
#include "http/actor_calls.h"
#include "http/edge.h"
#include "http/fields.h"
#include "http/routes.h"
#include "storage/database.h"
#include "storage/secret_box.h"
#include "storage/text.h"

namespace hearth::http {
namespace {

namespace gh = actors::github_data;
namespace dir = actors::directory;

// GitHub's limit on a delivery's payload.
constexpr std::size_t kMaxDeliveryBytes = 25 << 20;

Result<github::App*> app(const Context& ctx) {
  if (!ctx.edge.config.github)
    return Error{ErrorCode::unavailable, "the GitHub App is not configured on this server (see docs/github.md)"};
  return ctx.edge.config.github.get();
}

// The org's github-data actor, created on first use.
Result<actors::Address> org_data(Context& ctx) {
  auto at = gh::address(ctx.org_id);
  if (auto st = ctx.edge.host.get_or_create(at, {{"org_id", ctx.org_id}}); !st) return st.error();
  return at;
}

// A header GitHub always sends, checked for shape: 1 to `max` printable characters.
Result<std::string> github_header(const Context& ctx, const char* name, std::size_t max) {
  auto value = ctx.req.get_header_value(name);
  bool ok = !value.empty() && value.size() <= max;
  for (unsigned char c : value) ok = ok && c > 32 && c < 127;
  if (!ok) return Error{ErrorCode::invalid, fmt::format("the delivery has no valid {} header", name)};
  return value;
}

// Where a delivery goes, by its installation: the organization that links it, else the
// store of unrouted ones (kUnlinked). Its github-data actor exists once this returns.
Result<std::string> route(Context& ctx, const Json& payload) {
  std::string org = gh::kUnlinked;
  if (auto installation = gh::installation_of(payload); installation != 0) {
    auto linked = ctx.edge.host.call(dir::kAddress, dir::kInstallationOrg, {{"installation_id", installation}});
    if (linked) org = (*linked)["org_id"].get<std::string>();
    else if (linked.error().code != ErrorCode::not_found) return linked.error();
  }
  if (auto st = ctx.edge.host.get_or_create(gh::address(org), {{"org_id", org}}); !st) return st.error();
  return org;
}

Result<Reply> receive_delivery(Context& ctx) {
  auto a = app(ctx);
  if (!a) return a.error();
  const auto& secret = (*a)->config().webhook_secret;
  if (secret.empty())
    return Error{ErrorCode::unavailable, "this server has no GitHub webhook secret configured, so it accepts no deliveries"};
  auto signature = ctx.req.get_header_value("X-Hub-Signature-256");
  if (signature.empty())
    return Error{ErrorCode::unauthorized, "the delivery has no X-Hub-Signature-256 header (sha256)"};
  if (!github::signature_valid(secret, ctx.raw, signature))
    return Error{ErrorCode::unauthorized, "the delivery's X-Hub-Signature-256 does not match its body"};
  // Signed by GitHub: now it may be read.
  auto delivery = github_header(ctx, "X-GitHub-Delivery", 100);
  if (!delivery) return delivery.error();
  auto event = github_header(ctx, "X-GitHub-Event", 100);
  if (!event) return event.error();
  if (json_depth(ctx.raw) > 64) return Error{ErrorCode::invalid, "the delivery nests deeper than 64 levels"};
  auto payload = Json::parse(ctx.raw, nullptr, false);
  if (payload.is_discarded() || !payload.is_object())
    return Error{ErrorCode::invalid, "the delivery's body is not a JSON object"};
  auto org = route(ctx, payload);
  if (!org) return org.error();
  auto at = gh::address(*org);
  actors::SendOptions options;
  options.dedupe_key = "delivery:" + *delivery;
  auto r = ctx.edge.host.send(at, gh::kWebhook, {{"delivery_id", *delivery}, {"event", *event}, {"payload", payload}},
                              options);
  if (!r) return r.error();
  spdlog::info("github.delivery id={} event={} org={} duplicate={}", *delivery, *event, *org, r->duplicate);
  Json body{{"delivery_id", *delivery}, {"duplicate", r->duplicate}};
  return Reply{r->duplicate ? 200 : 202, body};
}

// --- The organization's GitHub routes ------------------------------------------------

Result<Reply> show(Context& ctx) {
  auto at = org_data(ctx);
  if (!at) return at.error();
  // Read after its position: following the topic github:ORG from there misses nothing.
  auto summary = read(ctx, *at, gh::kSummary);
  if (!summary) return summary.error();
  auto& body = summary->body;
  body["configured"] = ctx.edge.config.github != nullptr;
  if (ctx.edge.config.github) {
    body["install_url"] = ctx.edge.config.github->install_url("");
    body["web_url"] = ctx.edge.config.github->config().web_url;
  }
  return summary;
}

// Links installation `id` to the caller's org (ctx.org_id), once GitHub says it exists
// for this App and is not suspended.
Result<Reply> link_installation(Context& ctx, github::App& app, std::int64_t id) {
  auto installation = app.installation(id);
  if (!installation) {
    if (installation.error().code == ErrorCode::not_found)
      return Error{ErrorCode::not_found, fmt::format("GitHub has no installation {} of this App", id)};
    return installation.error();
  }
  if (installation->contains("suspended_at") && !(*installation)["suspended_at"].is_null())
    return Error{ErrorCode::conflict, fmt::format("GitHub installation {} is suspended; unsuspend it on GitHub first", id)};
  auto at = org_data(ctx);
  if (!at) return at.error();
  auto routed = ctx.edge.send(dir::kAddress, dir::kLinkInstallation, {{"installation_id", id}, {"org_id", ctx.org_id}},
                              true);
  if (!routed) return routed.error();
  // GitHub's answer, read without trusting its shape.
  auto account = installation->contains("account") && (*installation)["account"].is_object() ? (*installation)["account"]
                                                                                               : Json::object();
  auto text = [&account](const char* key) {
    return account.contains(key) && account[key].is_string() ? account[key].get<std::string>() : std::string();
  };
  return change(ctx, *at, gh::kLink,
                {{"installation_id", id}, {"account_login", text("login")}, {"account_type", text("type")},
                 {"by", ctx.caller->username}});
}

// By id, for server admins only: anyone can name an installation id, and GitHub cannot
// tell Hearth (without the person's GitHub sign-in) that it is theirs. Org admins install
// from Hearth (POST .../github/install), whose callback links only the installation made
// in that flow.
Result<Reply> link(Context& ctx) {
  auto a = app(ctx);
  if (!a) return a.error();
  if (!ctx.caller->is_admin)
    return Error{ErrorCode::forbidden, "linking an installation by its id is for server admins (an id proves nothing "
                                       "about who owns it); install the App from this organization's settings instead"};
  auto id = int_field(ctx.body, "installation_id", 1, INT64_MAX);
  if (!id) return id.error();
  if (!*id) return Error{ErrorCode::invalid, "field \"installation_id\" is required"};
  return link_installation(ctx, **a, **id);
}

// --- Installing from Hearth: the App's install URL with a signed state --------------------

constexpr const char* kStateContext = "github install state";
constexpr std::int64_t kStateLifetimeMs = 60 * 60 * 1000;

// POST /v1/orgs/{org}/github/install: the App's install URL carrying a state that only
// this server can make or read (sealed with its master key): the org, the admin who asked,
// and when it expires. GitHub hands the state back to the setup callback.
Result<Reply> install(Context& ctx) {
  auto a = app(ctx);
  if (!a) return a.error();
  if ((*a)->config().slug.empty())
    return Error{ErrorCode::conflict, "the server does not know the App's slug (--github-app-slug), so it has no "
                                      "install URL"};
  if (!ctx.edge.config.master_key) return Error{ErrorCode::unavailable, "this server has no master key"};
  auto expires = storage::now_ms() + kStateLifetimeMs;
  Json state{{"org_id", ctx.org_id}, {"org", ctx.org_slug}, {"user_id", ctx.caller->user_id}, {"expires_at", expires}};
  auto sealed = ctx.edge.config.master_key->seal(kStateContext, state.dump());
  return Reply{200, {{"url", (*a)->install_url(sealed.nonce + "." + sealed.ciphertext)}, {"expires_at", expires}}};
}

// What a state the setup callback got says, once it opens with this server's key, has
// not expired and was made for the caller.
Result<Json> open_state(Context& ctx, const std::string& text) {
  if (text.empty())
    return Error{ErrorCode::invalid, "the callback carries no state: start the installation from the organization's "
                                     "GitHub settings in Hearth, or link the installation by its id"};
  auto dot = text.find('.');
  auto opened = dot == std::string::npos || !ctx.edge.config.master_key
                    ? Result<std::string>(Error{ErrorCode::unauthorized, ""})
                    : ctx.edge.config.master_key->open(kStateContext, {text.substr(0, dot), text.substr(dot + 1)});
  auto state = opened ? Json::parse(*opened, nullptr, false) : Json();
  if (!opened || !state.is_object())
    return Error{ErrorCode::invalid, "the callback's state is not one this server made"};
  if (state.value("expires_at", std::int64_t{0}) < storage::now_ms())
    return Error{ErrorCode::invalid, "the installation started from Hearth more than an hour ago; start it again"};
  if (state.value("user_id", std::string()) != ctx.caller->user_id)
    return Error{ErrorCode::forbidden, "another user started this installation; sign in as them, or start it again"};
  return state;
}

// GET /v1/github/setup?installation_id=&setup_action=&state=&code=: where GitHub sends
// the person after installing (the App's user authorization callback URL, with "Request
// user authorization (OAuth) during installation"). The state says which org and who;
// the caller must be that user and still an admin of that org. The installation_id in
// the URL is anyone's to write: the code proves which GitHub user came back, and only an
// installation that user can see (GET /user/installations with their token, used once
// and dropped) is linked. Then the person is sent back to the org's settings page (with
// the reason, if nothing was linked).
Result<Reply> setup(Context& ctx) {
  auto a = app(ctx);
  if (!a) return a.error();
  auto state = open_state(ctx, ctx.query("state"));
  if (!state) return state.error();
  auto slug = (*state)["org"].get<std::string>();
  auto caller = ctx.edge.identity.authenticate(ctx.secret, slug);
  if (!caller) return caller.error();
  if (caller->org_role.empty() || caller->org["org_id"] != (*state)["org_id"])
    return Error{ErrorCode::not_found, fmt::format("no organization \"{}\"", slug)};
  if (actors::organization::role_rank(caller->org_role) < actors::organization::role_rank("admin"))
    return Error{ErrorCode::forbidden, fmt::format("linking a GitHub installation needs the admin role in {}", slug)};
  ctx.org_id = (*state)["org_id"].get<std::string>();
  ctx.org_slug = slug;
  ctx.role = caller->org_role;
  auto back = [&](const std::string& query) {
    auto to = fmt::format("/orgs/{}/settings{}", slug, query);
    ctx.res.set_header("Location", to);
    return Reply{302, {{"location", to}}};
  };
  if (ctx.query("setup_action") == "request")
    return back("?github_error=" + percent_encoded("GitHub asked an owner of the account to approve the installation; "
                                                  "link it here once they have"));
  auto id = ctx.int_query("installation_id", 0, 1, INT64_MAX);
  if (!id || *id == 0) return Error{ErrorCode::invalid, "the callback carries no valid installation_id"};
  auto fail = [&](const std::string& why) { return back("?github_error=" + percent_encoded(why)); };
  if (!(*a)->oauth_configured())
    return fail(fmt::format("this server's GitHub App has no OAuth client (--github-client-id, --github-client-secret), "
                            "so Hearth cannot check that installation {} is yours; a server admin can link it by its id",
                            *id));
  auto code = ctx.query("code");
  if (code.empty())
    return fail("GitHub sent no authorization code: turn on \"Request user authorization (OAuth) during installation\" "
                "in the App's settings (docs/github.md)");
  auto user_token = (*a)->user_token(code);
  if (!user_token) return fail(user_token.error().message);
  auto theirs = (*a)->user_has_installation(*user_token, *id);
  if (!theirs) return fail(theirs.error().message);
  if (!*theirs)
    return fail(fmt::format("your GitHub account cannot see installation {} of this App, so it was not linked", *id));
  auto linked = link_installation(ctx, **a, *id);
  if (!linked) return fail(linked.error().message);
  return back("?github=linked");
}

Result<Reply> unlink(Context& ctx) {
  auto at = org_data(ctx);
  if (!at) return at.error();
  auto r = ctx.edge.send(*at, gh::kUnlink, {{"by", ctx.caller->username}}, true);
  if (!r) return r.error();
  auto routed = ctx.edge.send(dir::kAddress, dir::kUnlinkInstallation, {{"org_id", ctx.org_id}}, true);
  if (!routed) return routed.error();
  return Reply{200, r->result};
}

Result<Reply> sync(Context& ctx) {
  if (auto a = app(ctx); !a) return a.error();
  auto at = org_data(ctx);
  if (!at) return at.error();
  return change(ctx, *at, gh::kSync, {{"by", ctx.caller->username}, {"reason", "asked for"}}, 202);
}

Result<Reply> list(Context& ctx, const char* action, Json args = Json::object()) {
  auto at = org_data(ctx);
  if (!at) return at.error();
  return read(ctx, *at, action, args);
}

Result<Reply> pulls(Context& ctx) {
  auto state = ctx.query("state");
  if (!state.empty() && state != "open" && state != "draft" && state != "closed" && state != "merged")
    return Error{ErrorCode::invalid, "state must be open, draft, closed or merged"};
  return list(ctx, gh::kPullRequests, {{"state", state}});
}

Result<Reply> deliveries(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  return list(ctx, gh::kDeliveries, {{"limit", *limit}});
}

// --- Stored deliveries, for server admins ----------------------------------------------

// The github-data actor ?org=SLUG names (its deliveries), or without it the one keeping
// deliveries no organization links.
Result<actors::Address> stored_at(Context& ctx) {
  auto slug = ctx.query("org");
  if (slug.empty()) return gh::address(gh::kUnlinked);
  auto org = ctx.edge.identity.find_org(slug);
  if (!org) {
    if (org.error().code == ErrorCode::not_found)
      return Error{ErrorCode::not_found, fmt::format("no organization \"{}\"", printable(slug, 64))};
    return org.error();
  }
  return gh::address((*org)["org_id"].get<std::string>());
}

Result<Reply> stored_deliveries(Context& ctx) {
  auto at = stored_at(ctx);
  if (!at) return at.error();
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto exists = ctx.edge.host.exists(*at);
  if (!exists) return exists.error();
  if (!*exists) return Reply{200, {{"items", Json::array()}}};
  return read(ctx, *at, gh::kDeliveries, {{"limit", *limit}});
}

// POST /v1/github/deliveries/{delivery}/redeliver[?org=SLUG]: the stored delivery (of
// that org, or an unrouted one) put on the queue again, routed by its installation as it
// is linked now, and applied again (a redelivery has a dedupe key of its own).
Result<Reply> redeliver(Context& ctx) {
  auto from = stored_at(ctx);
  if (!from) return from.error();
  const auto& id = ctx.param("delivery");
  auto stored = ctx.edge.host.call(*from, gh::kDelivery, {{"delivery_id", id}});
  if (!stored) {
    if (stored.error().code == ErrorCode::not_found)
      return Error{ErrorCode::not_found, fmt::format("no delivery \"{}\" is kept there (?org= names an "
                                                     "organization's; without it, the unrouted ones)", printable(id, 100))};
    return stored.error();
  }
  auto org = route(ctx, (*stored)["payload"]);
  if (!org) return org.error();
  auto at = gh::address(*org);
  actors::SendOptions options;
  options.dedupe_key = fmt::format("redelivery:{}:{}", id, identity::new_id("r"));
  options.wait = true;
  auto r = ctx.edge.host.send(at, gh::kWebhook,
                              {{"delivery_id", id}, {"event", (*stored)["event"]}, {"payload", (*stored)["payload"]},
                               {"redelivery", true}},
                              options);
  if (!r) return r.error();
  spdlog::info("github.redelivery id={} org={} by={}", printable(id, 100), *org, ctx.caller->username);
  Json body = r->result;
  body["delivery_id"] = id;
  body["routed_to"] = *org == gh::kUnlinked ? Json(nullptr) : Json(*org);
  return Reply{200, body};
}

}  // namespace

void add_github_routes(Router& r) {
  Route webhook{"POST", "/v1/webhooks/github", Policy::anyone, "github_data", receive_delivery};
  webhook.audited = false;  // the organization's github-data actor audits what it applies
  webhook.max_body_bytes = kMaxDeliveryBytes;
  webhook.raw_body = true;
  r.add(std::move(webhook));
  r.add({"GET", "/v1/orgs/{org}/github", Policy::org_member, "github_data", show});
  r.add({"POST", "/v1/orgs/{org}/github/installation", Policy::org_admin, "github_data", link});
  r.add({"DELETE", "/v1/orgs/{org}/github/installation", Policy::org_admin, "github_data", unlink});
  r.add({"POST", "/v1/orgs/{org}/github/install", Policy::org_admin, "github_data", install});
  r.add({"GET", "/v1/github/setup", Policy::signed_in, "github_data", setup});
  r.add({"POST", "/v1/orgs/{org}/github/sync", Policy::org_admin, "github_data", sync});
  r.add({"GET", "/v1/orgs/{org}/github/repositories", Policy::org_member, "github_data",
         [](Context& ctx) { return list(ctx, gh::kRepositories); }});
  r.add({"GET", "/v1/orgs/{org}/github/pulls", Policy::org_member, "github_data", pulls});
  r.add({"GET", "/v1/orgs/{org}/github/deliveries", Policy::org_admin, "github_data", deliveries});
  r.add({"GET", "/v1/github/deliveries", Policy::server_admin, "github_data", stored_deliveries});
  r.add({"POST", "/v1/github/deliveries/{delivery}/redeliver", Policy::server_admin, "github_data", redeliver});
}

}  // namespace hearth::http
