// GitHub over HTTP: the webhook receiver (POST /v1/webhooks/github) and an organization's
// GitHub routes (its installation, repositories, pull requests and deliveries). See
// docs/github.md and docs/http-api.md.
//
// A delivery is verified before anything is parsed or recorded (401 otherwise), then
// put on the durable queue of the organization's github-data actor with the delivery id
// as its dedupe key, and answered at once: GitHub waits 10 s at most. A redelivery of
// the same id answers 200 and applies nothing again.
#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/directory/directory_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/github_data/webhook_events.h"
#include "github/app.h"
#include "http/actor_calls.h"
#include "http/edge.h"
#include "http/fields.h"
#include "http/routes.h"
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
  // Routed by installation: to the organization that links it, else kept unrouted.
  std::string org = gh::kUnlinked;
  if (auto installation = gh::installation_of(payload); installation != 0) {
    auto linked = ctx.edge.host.call(dir::kAddress, dir::kInstallationOrg, {{"installation_id", installation}});
    if (linked) org = (*linked)["org_id"].get<std::string>();
    else if (linked.error().code != ErrorCode::not_found) return linked.error();
  }
  auto at = gh::address(org);
  if (auto st = ctx.edge.host.get_or_create(at, {{"org_id", org}}); !st) return st.error();
  actors::SendOptions options;
  options.dedupe_key = "delivery:" + *delivery;
  auto r = ctx.edge.host.send(at, gh::kWebhook, {{"delivery_id", *delivery}, {"event", *event}, {"payload", payload}},
                              options);
  if (!r) return r.error();
  spdlog::info("github.delivery id={} event={} org={} duplicate={}", *delivery, *event, org, r->duplicate);
  Json body{{"delivery_id", *delivery}, {"duplicate", r->duplicate}};
  return Reply{r->duplicate ? 200 : 202, body};
}

// --- The organization's GitHub routes ------------------------------------------------

Result<Reply> show(Context& ctx) {
  auto at = org_data(ctx);
  if (!at) return at.error();
  auto summary = ctx.edge.host.call(*at, gh::kSummary);
  if (!summary) return summary.error();
  (*summary)["configured"] = ctx.edge.config.github != nullptr;
  if (ctx.edge.config.github) (*summary)["install_url"] = ctx.edge.config.github->install_url("");
  return Reply{200, *summary};
}

Result<Reply> link(Context& ctx) {
  auto a = app(ctx);
  if (!a) return a.error();
  auto id = int_field(ctx.body, "installation_id", 1, INT64_MAX);
  if (!id) return id.error();
  if (!*id) return Error{ErrorCode::invalid, "field \"installation_id\" is required"};
  // The installation must exist for this App and not be suspended.
  auto installation = (*a)->installation(**id);
  if (!installation) {
    if (installation.error().code == ErrorCode::not_found)
      return Error{ErrorCode::not_found, fmt::format("GitHub has no installation {} of this App", **id)};
    return installation.error();
  }
  if (installation->contains("suspended_at") && !(*installation)["suspended_at"].is_null())
    return Error{ErrorCode::conflict, fmt::format("GitHub installation {} is suspended; unsuspend it on GitHub first", **id)};
  auto at = org_data(ctx);
  if (!at) return at.error();
  auto routed = ctx.edge.send(dir::kAddress, dir::kLinkInstallation, {{"installation_id", **id}, {"org_id", ctx.org_id}},
                              true);
  if (!routed) return routed.error();
  const auto& account = installation->value("account", Json::object());
  return change(ctx, *at, gh::kLink,
                {{"installation_id", **id}, {"account_login", account.value("login", std::string())},
                 {"account_type", account.value("type", std::string())}, {"by", ctx.caller->username}});
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
  r.add({"POST", "/v1/orgs/{org}/github/sync", Policy::org_admin, "github_data", sync});
  r.add({"GET", "/v1/orgs/{org}/github/repositories", Policy::org_member, "github_data",
         [](Context& ctx) { return list(ctx, gh::kRepositories); }});
  r.add({"GET", "/v1/orgs/{org}/github/pulls", Policy::org_member, "github_data", pulls});
  r.add({"GET", "/v1/orgs/{org}/github/deliveries", Policy::org_admin, "github_data", deliveries});
}

}  // namespace hearth::http
