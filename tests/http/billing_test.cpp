// Billing through the HTTP API against the fake Stripe (tests/support/billing_world.h):
// signed and deduplicated events, out-of-order events, Checkout through Stripe's hosted
// page, limits refused with 402 at each entry point, past-due grace, secret rotation,
// cancel and resume, the portal, and Stripe's retries.
#include <doctest/doctest.h>

#include <future>

#include "tests/support/billing_world.h"

namespace hearth::test {
namespace {

using json = nlohmann::json;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The org's billing events (newest first), once there are at least `n`.
json events(BillingWorld& w, std::size_t n) {
  return w.poll("/v1/orgs/acme/billing/events", [n](const json& b) { return b["items"].size() >= n; })["items"];
}

int audited(BillingWorld& w, const std::string& kind, int at_least = 1) {
  auto count = [&](const json& log) {
    int k = 0;
    for (const auto& e : log["items"]) k += e["kind"] == kind ? 1 : 0;
    return k;
  };
  return count(w.poll("/v1/orgs/acme/audit?limit=200", [&](const json& b) { return count(b) >= at_least; }));
}

// The hosted Checkout page, then its Subscribe button: what a browser does.
std::string pay(BillingWorld& w, const std::string& url) {
  httplib::Client browser(w.stripe.url());
  auto path = url.substr(w.stripe.url().size());
  auto page = browser.Get(path);
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("Subscribe") != std::string::npos);
  auto paid = browser.Post(path + "/complete", "", "application/x-www-form-urlencoded");
  REQUIRE(paid);
  CHECK(paid->status == 303);
  return paid->get_header_value("Location");
}

}  // namespace

TEST_CASE("Stripe events without a valid signature are refused with 400, and nothing is applied") {
  BillingWorld w;
  auto event = FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 5));
  auto body = event.dump();
  auto now = now_s();
  SUBCASE("no signature") { CHECK(w.stripe.deliver_raw(body, "").status == 400); }
  SUBCASE("a wrong secret") { CHECK(w.stripe.deliver(event, {}, std::string("whsec_someone_else")).status == 400); }
  SUBCASE("a signature older than five minutes (a replay)") {
    auto old = w.stripe.deliver(event, now - 301);
    CHECK(old.status == 400);
    CHECK(old.body.find("a replay") != std::string::npos);
    CHECK(w.stripe.deliver(event, now + 400).status == 400);  // nor from the future
  }
  SUBCASE("a body changed after signing") {
    auto signature = FakeStripe::signature(body, "whsec_first", now);
    auto changed = body;
    changed.replace(changed.find("\"quantity\":5"), 12, "\"quantity\":9");
    CHECK(w.stripe.deliver_raw(changed, signature).status == 400);
    CHECK(w.stripe.deliver_raw(body, signature).status == 200);  // as signed: accepted
    w.poll("/v1/orgs/acme/billing", [](const json& b) { return b["plan"]["name"] == "team"; });
    CHECK(w.billing()["seats"] == 5);
    return;
  }
  SUBCASE("a malformed header") { CHECK(w.stripe.deliver_raw(body, "t=abc,v1=zz").status == 400); }
  CHECK(w.billing()["plan"]["name"] == "free");
  CHECK(w.s->call("GET", "/v1/billing/events", w.owner).body["items"].empty());
  CHECK(w.s->call("GET", "/v1/orgs/acme/billing/events", w.owner).body["items"].empty());
}

TEST_CASE("signed Stripe events of any shape are answered 200 and recorded, never a 500") {
  BillingWorld w;
  auto t = now_s() - 100;
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 2), t)).status == 200);
  w.poll("/v1/orgs/acme/billing", [](const json& b) { return b["plan"]["name"] == "team"; });
  std::vector<json> odd{
      {{"id", "evt_odd_1"}, {"object", "event"}, {"type", "invoice.paid"}, {"created", t + 1}, {"data", json::object()}},
      {{"id", "evt_odd_2"}, {"object", "event"}, {"type", "invoice.paid"}, {"created", t + 2}, {"data", {{"object", "x"}}}}};
  auto weird = w.subscription("sub_1", "active", 2);
  weird["cancel_at_period_end"] = nullptr;
  weird["items"] = "none";
  weird["metadata"] = {{"org_id", w.org_id}, {"plan", 5}};
  odd.push_back(FakeStripe::event("customer.subscription.updated", weird, t + 3));
  auto no_id = w.subscription("sub_1", "active", 2);
  no_id.erase("id");
  odd.push_back(FakeStripe::event("customer.subscription.updated", no_id, t + 4));
  auto customer = FakeStripe::event("customer.updated", {{"id", "cus_acme"}, {"invoice_settings", "none"}}, t + 5);
  odd.push_back(customer);
  for (const auto& e : odd) CHECK_MESSAGE(w.stripe.deliver(e).status == 200, e.dump());
  // Not an event at all, but signed: 400 in words.
  auto text = std::string(R"({"id":"evt_x","type":7})");
  CHECK(w.stripe.deliver_raw(text, FakeStripe::signature(text, "whsec_first", now_s())).status == 400);
  auto all = w.s->poll("/v1/billing/events", w.owner, [](const json& j) { return j["items"].size() >= 6; });
  CHECK(all["items"].size() == 6);
  auto b = w.billing();
  CHECK(b["status"] == "active");
  CHECK(b["cancel_at_period_end"] == false);
}

TEST_CASE("the same Stripe event twice is applied once, and an older event never overwrites newer state") {
  BillingWorld w;
  auto t = now_s() - 1000;
  auto created = FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 1), t);
  auto updated = FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "active", 3), t + 10);
  auto late = FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "past_due", 2), t + 5);
  // updated arrives before created, then an older updated after the newer one.
  REQUIRE(w.stripe.deliver(updated).status == 200);
  REQUIRE(w.stripe.deliver(created).status == 200);
  REQUIRE(w.stripe.deliver(late).status == 200);
  auto again = w.stripe.deliver(updated);  // Stripe delivers more than once
  CHECK(again.status == 200);
  CHECK(json::parse(again.body)["duplicate"] == true);
  auto seen = events(w, 3);
  CHECK(seen.size() == 3);
  std::map<std::string, std::string> outcome;
  for (const auto& e : seen) outcome[e["event_id"]] = e["outcome"];
  CHECK(outcome[updated["id"]] == "applied");
  CHECK(outcome[created["id"]] == "stale");
  CHECK(outcome[late["id"]] == "stale");
  CHECK(audited(w, "billing.event", 2) == 2);  // the stale ones too, saying so
  auto b = w.billing();
  CHECK(b["plan"]["name"] == "team");
  CHECK(b["status"] == "active");
  CHECK(b["seats"] == 3);
  CHECK(b["plan"]["limits"]["seats"] == 3);
  CHECK(b["past_due_since"].is_null());
  // Deleted: back to free; an update older than the deletion does not bring it back.
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.deleted", w.subscription("sub_1", "canceled", 3), t + 20))
              .status == 200);
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "active", 3), t + 15))
              .status == 200);
  events(w, 5);
  b = w.billing();
  CHECK(b["plan"]["name"] == "free");
  CHECK(b["status"] == "canceled");
  // Server admins see every event with its outcome.
  auto all = w.s->poll("/v1/billing/events", w.owner, [](const json& j) { return j["items"].size() >= 5; });
  CHECK(all["items"][0]["org_id"] == w.org_id);
  CHECK(w.s->call("GET", "/v1/billing/events", w.mia).status == 403);
  // Unknown types: 200, recorded as ignored; an event of no organization too.
  REQUIRE(w.stripe.deliver(FakeStripe::event("charge.refunded", {{"id", "ch_1"}, {"customer", "cus_acme"},
                                                                 {"metadata", {{"org_id", w.org_id}}}}))
              .status == 200);
  REQUIRE(w.stripe.deliver(FakeStripe::event("invoice.paid", {{"id", "in_x"}, {"customer", "cus_nobody"}})).status == 200);
  all = w.s->poll("/v1/billing/events", w.owner, [](const json& j) { return j["items"].size() >= 7; });
  std::set<std::string> outcomes;
  for (const auto& e : all["items"]) outcomes.insert(e["outcome"].get<std::string>());
  CHECK(outcomes.count("ignored") == 1);
  CHECK(outcomes.count("no organization") == 1);
}

TEST_CASE("Checkout through Stripe's hosted page puts the organization on the team plan, with its invoice and card") {
  BillingWorld w;
  CHECK(w.billing()["plan"]["name"] == "free");
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "gold"}}).status == 400);
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "free"}}).status == 400);
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/portal", w.owner, json::object()).status == 409);  // no customer yet
  auto started = w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}, {"seats", 3}});
  REQUIRE_MESSAGE(started.status == 201, started.body.dump());
  auto back = pay(w, started.body["url"]);
  CHECK(back.find("/orgs/acme/billing?checkout=done&session_id=" + started.body["checkout_session_id"].get<std::string>()) !=
        std::string::npos);
  auto b = w.poll("/v1/orgs/acme/billing", [](const json& j) {
    return j["plan"]["name"] == "team" && j["payment_method"] == "Visa ending in 4242";
  });
  CHECK(b["status"] == "active");
  CHECK(b["seats"] == 3);
  CHECK(b["current_period_end"].is_number());
  auto invoices = w.poll("/v1/orgs/acme/billing/invoices", [](const json& j) {
    return !j["items"].empty() && j["items"][0]["status"] == "paid";
  });
  CHECK(invoices["items"].size() == 1);
  CHECK(invoices["items"][0]["amount"] == 4500);
  CHECK(invoices["items"][0]["hosted_url"].get<std::string>().starts_with(w.stripe.url()));
  CHECK(audited(w, "billing.subscription.created") == 1);
  CHECK(audited(w, "billing.customer.created") == 1);
  // What Stripe was asked: one customer (the org in its metadata), a subscription-mode
  // session for the team price and 3 seats, each POST with an idempotency key.
  int customers = 0;
  for (const auto& r : w.stripe.requests()) {
    if (r.method == "POST") CHECK_MESSAGE(!r.idempotency_key.empty(), r.path);
    if (r.path == "/v1/customers" && r.method == "POST") {
      ++customers;
      CHECK(r.form.at("metadata[org_id]") == w.org_id);
    }
    if (r.path == "/v1/checkout/sessions") {
      CHECK(r.form.at("mode") == "subscription");
      CHECK(r.form.at("line_items[0][price]") == BillingWorld::kPrice);
      CHECK(r.form.at("line_items[0][quantity]") == "3");
      CHECK(r.form.at("subscription_data[metadata][org_id]") == w.org_id);
    }
    CHECK(r.authorization == std::string("Bearer ") + BillingWorld::kKey);
  }
  CHECK(customers == 1);
  // On the team plan already: said so. The portal now opens.
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}}).status == 409);
  auto portal = w.s->call("POST", "/v1/orgs/acme/billing/portal", w.owner, json::object());
  REQUIRE(portal.status == 201);
  CHECK(portal.body["url"].get<std::string>().starts_with(w.stripe.url() + "/p/session/"));

  // Cancel at the period's end, then resume; each audited.
  auto cancelled = w.s->call("POST", "/v1/orgs/acme/billing/cancel", w.owner, json::object());
  REQUIRE_MESSAGE(cancelled.status == 200, cancelled.body.dump());
  CHECK(cancelled.body["cancel_at_period_end"] == true);
  CHECK(cancelled.body["plan"]["name"] == "team");  // until the period ends
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/cancel", w.owner, json::object()).status == 409);
  auto resumed = w.s->call("POST", "/v1/orgs/acme/billing/resume", w.owner, json::object());
  REQUIRE(resumed.status == 200);
  CHECK(resumed.body["cancel_at_period_end"] == false);
  CHECK(audited(w, "billing.cancel") == 1);
  CHECK(audited(w, "billing.resume") == 1);
  // Stripe's own deliveries of those changes, arriving after Hearth applied them, change nothing.
  w.poll("/v1/orgs/acme/billing/events", [](const json& j) { return j["items"].size() >= 6; });
  CHECK(w.billing()["cancel_at_period_end"] == false);

  // Members see the plan, not the customer; only owners buy.
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "mia"}}).status == 201);
  auto as_member = w.s->call("GET", "/v1/orgs/acme/billing", w.mia);
  CHECK(as_member.body["plan"]["name"] == "team");
  CHECK(!as_member.body.contains("customer_id"));
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.mia, json{{"plan", "team"}}).status == 403);
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/cancel", w.mia, json::object()).status == 403);
  CHECK(w.s->call("GET", "/v1/orgs/acme/billing/invoices", w.mia).status == 403);
}

TEST_CASE("one subscription at a time, with a seat for every member, and another subscription's events are not the org's") {
  BillingWorld w(R"({"plans": [{"name": "free", "seats": 5}]})");
  w.s->user_with_token("noah");
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "mia"}}).status == 201);
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "noah"}}).status == 201);
  auto few = w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}, {"seats", 2}});
  CHECK(few.status == 409);
  CHECK(few.body["error"]["message"].get<std::string>().find("buy at least 3 seats") != std::string::npos);
  auto started = w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}});
  REQUIRE(started.status == 201);
  CHECK(started.body["seats"] == 3);
  pay(w, started.body["url"]);
  auto b = w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["plan"]["name"] == "team" && j["seats"] == 3; });
  auto mine = b["subscription_id"].get<std::string>();
  CHECK(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}}).status == 409);
  // Another subscription of the customer, in force: ignored while the org's is.
  auto other = w.subscription("sub_other", "unpaid", 1, b["customer_id"]);
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.updated", other)).status == 200);
  auto seen = events(w, 5);
  CHECK(seen[0]["outcome"] == "ignored");
  CHECK(w.billing()["subscription_id"] == mine);
  CHECK(w.billing()["status"] == "active");

  // Stripe's times are seconds: a "created" (incomplete) arriving after the "updated"
  // (active) of the same second is applied, and the read it starts settles it.
  auto sub = w.stripe.subscription(mine);
  json incomplete = sub;
  incomplete["status"] = "incomplete";
  auto late = FakeStripe::event("customer.subscription.created", incomplete, now_s());
  REQUIRE(w.stripe.deliver(late).status == 200);
  w.poll("/v1/orgs/acme/billing/events", [&](const json& j) {
    for (const auto& e : j["items"])
      if (e["event_id"] == late["id"]) return true;
    return false;
  });
  w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["status"] == "active" && j["plan"]["name"] == "team"; });
}

TEST_CASE("the plan's limits are refused with 402 where work starts, and lifted on upgrade") {
  BillingWorld w(R"({"plans": [{"name": "free", "seats": 1, "limits": {"running_tasks": 1, "sandboxes": 5, "monthly_turns": 3}}]})");
  w.connect_repo();
  auto refused = [](const ApiResponse& r, const std::string& words) {
    CHECK_MESSAGE(r.status == 402, r.body.dump());
    CHECK(r.body["error"]["code"] == "payment_required");
    CHECK_MESSAGE(r.body["error"]["message"].get<std::string>().find(words) != std::string::npos, r.body.dump());
  };
  // A second member: past the one seat.
  refused(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "mia"}}), "free plan's 1 seat is taken");

  // One task running (waiting on a person): a second is past the running tasks.
  auto first = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                         json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/ask run the tests"}});
  REQUIRE_MESSAGE(first.status == 201, first.body.dump());
  auto path = "/v1/orgs/acme/tasks/" + first.body["task_id"].get<std::string>();
  // Running, and waiting on a person (its turn has begun: the cancel below finds it).
  w.poll(path, [](const json& b) {
    return b["status"] == "running" && b["sessions"].size() == 1 && b["sessions"][0]["pending_permissions"] == 1;
  });
  refused(w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/say hi"}}),
          "allows 1 running task at once");
  refused(w.s->call("POST", path + "/sessions", w.owner, json{{"agent", "mock"}}), "allows 1 running task at once");
  auto session = w.s->call("GET", path, w.owner).body["sessions"][0]["session_id"].get<std::string>();
  REQUIRE(w.s->call("POST", path + "/sessions/" + session + "/cancel", w.owner, json::object()).status < 300);
  w.poll(path, [](const json& b) { return b["status"] == "idle"; });

  // Three turns a month: the first task's, then two prompts; the next is refused.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/say again"}}).status == 202);
    w.poll(path, [i](const json& b) { return b["status"] == "idle" && b["sessions"][0]["turn"] == i + 2; });
  }
  w.poll("/v1/orgs/acme/billing", [](const json& b) { return b["usage"]["turns_this_month"] == 3; });
  refused(w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/say more"}}), "3 agent turns this month are used");
  refused(w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/say hi"}}),
          "turns this month are used");
  auto b = w.billing();
  CHECK(b["usage"]["seats"] == 1);
  CHECK(b["usage"]["sandboxes"] == 1);

  // The team plan, 2 seats: all of it lifted.
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 2))).status == 200);
  w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["plan"]["name"] == "team"; });
  CHECK(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "mia"}}).status == 201);
  CHECK(w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/say more"}}).status == 202);
  // And its seats hold too.
  auto third = w.s->user_with_token("noah");
  refused(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "noah"}}), "team plan's 2 seats are all taken");
  (void)third;
}

TEST_CASE("requests at the same moment cannot together go past the seats or the running tasks") {
  BillingWorld w(R"({"plans": [{"name": "free", "seats": 3, "limits": {"running_tasks": 2, "sandboxes": 10}}]})");
  w.connect_repo();
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    names.push_back("user" + std::to_string(i));
    w.s->user_with_token(names.back());
  }
  std::vector<std::future<ApiResponse>> adds;
  for (const auto& name : names)
    adds.push_back(std::async(std::launch::async, [&w, name] {
      return w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", name}});
    }));
  int added = 0, refused = 0;
  for (auto& a : adds) {
    auto r = a.get();
    added += r.status == 201;
    refused += r.status == 402;
  }
  CHECK(added == 2);  // the owner holds the third seat
  CHECK(refused == 4);
  std::vector<std::future<ApiResponse>> creates;
  for (int i = 0; i < 5; ++i)
    creates.push_back(std::async(std::launch::async, [&w] {
      return w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                       json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/ask run the tests"}});
    }));
  int made = 0;
  refused = 0;
  for (auto& c : creates) {
    auto r = c.get();
    made += r.status == 201;
    refused += r.status == 402;
  }
  CHECK(made == 2);
  CHECK(refused == 3);
}

TEST_CASE("a past-due subscription keeps working through the grace period, then new work is refused") {
  BillingWorld w("", {"whsec_first"}, std::chrono::hours(48));
  w.connect_repo();
  auto t = now_s();
  REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 2), t - 5 * 86400))
              .status == 200);
  SUBCASE("within the grace period") {
    REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "past_due", 2), t - 86400))
                .status == 200);
    auto b = w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["status"] == "past_due"; });
    CHECK(b["past_due_since"] == t - 86400);
    CHECK(b["grace_ends_at"] == t + 86400);
    CHECK(b["plan"]["name"] == "team");
    CHECK(w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/say hi"}})
              .status == 201);
  }
  SUBCASE("past it: new work refused, nothing lost; paid again: allowed") {
    auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/say hi"}});
    REQUIRE(made.status == 201);
    auto path = "/v1/orgs/acme/tasks/" + made.body["task_id"].get<std::string>();
    w.poll(path, [](const json& b) { return b["status"] == "idle"; });
    REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "past_due", 2), t - 3 * 86400))
                .status == 200);
    w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["status"] == "past_due"; });
    auto refused = w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/say more"}});
    CHECK(refused.status == 402);
    CHECK(refused.body["error"]["message"].get<std::string>().find("past due beyond the 2-day grace period") != std::string::npos);
    CHECK(w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "checkout"}, {"agent", "mock"}, {"prompt", "/say hi"}})
              .status == 402);
    // The task is all there.
    CHECK(w.s->call("GET", path, w.owner).body["status"] == "idle");
    REQUIRE(w.stripe.deliver(FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "active", 2), t)).status ==
            200);
    w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["status"] == "active" && j["past_due_since"].is_null(); });
    CHECK(w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/say more"}}).status == 202);
  }
}

TEST_CASE("during a webhook secret rotation, events signed with either secret are accepted") {
  BillingWorld w("", {"whsec_old", "whsec_new"});
  auto a = FakeStripe::event("customer.subscription.created", w.subscription("sub_1", "active", 2), now_s() - 10);
  auto b = FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "active", 4), now_s() - 5);
  CHECK(w.stripe.deliver(a, {}, std::string("whsec_old")).status == 200);
  CHECK(w.stripe.deliver(b, {}, std::string("whsec_new")).status == 200);
  // Stripe signs with both during a rotation: one header, two v1s.
  auto c = FakeStripe::event("customer.subscription.updated", w.subscription("sub_1", "active", 5), now_s());
  auto body = c.dump();
  CHECK(w.stripe.deliver_raw(body, FakeStripe::signature_multi(body, {"whsec_retired", "whsec_new"}, now_s())).status == 200);
  CHECK(w.stripe.deliver(c, {}, std::string("whsec_retired")).status == 400);
  w.poll("/v1/orgs/acme/billing", [](const json& j) { return j["seats"] == 5; });
}

TEST_CASE("Stripe's failures are asked again with the same idempotency key, and its refusals come back in words") {
  BillingWorld w;
  SUBCASE("a 500, then a lost answer: one customer, one checkout") {
    w.stripe.fail_next(500);
    w.stripe.drop_next(1);
    auto started = w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}});
    REQUIRE_MESSAGE(started.status == 201, started.body.dump());
    std::map<std::string, int> keys;
    int customers = 0;
    for (const auto& r : w.stripe.requests())
      if (r.method == "POST") {
        ++keys[r.idempotency_key];
        customers += r.path == "/v1/customers" ? 1 : 0;
      }
    CHECK(customers == 3);  // asked three times ...
    CHECK(keys.size() == 2);  // ... with one key: Stripe made one customer
    CHECK(w.billing()["customer_id"].is_string());
  }
  SUBCASE("Stripe's refusal comes back in its words, never with the key") {
    REQUIRE(w.s->call("POST", "/v1/orgs/acme/billing/checkout", w.owner, json{{"plan", "team"}}).status == 201);
    w.stripe.fail_next(400);
    auto bad = w.s->call("POST", "/v1/orgs/acme/billing/portal", w.owner, json::object());
    CHECK(bad.status == 400);
    CHECK(bad.body["error"]["message"].get<std::string>().find("Stripe answered 400") != std::string::npos);
    CHECK(bad.body["error"]["message"].get<std::string>().find(BillingWorld::kKey) == std::string::npos);
  }
}

TEST_CASE("without a Stripe key, billing is off: everything is allowed and the billing routes say so") {
  TestServer s;
  auto owner = s.user_with_token("olive");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  auto b = s.call("GET", "/v1/orgs/acme/billing", owner);
  CHECK(b.status == 200);
  CHECK(b.body["enabled"] == false);
  auto checkout = s.call("POST", "/v1/orgs/acme/billing/checkout", owner, json{{"plan", "team"}});
  CHECK(checkout.status == 503);
  CHECK(s.call("POST", "/v1/webhooks/stripe", "", "{}").status == 503);
  s.user_with_token("mia");
  s.user_with_token("noah");
  CHECK(s.call("POST", "/v1/orgs/acme/members", owner, json{{"username", "mia"}}).status == 201);
  CHECK(s.call("POST", "/v1/orgs/acme/members", owner, json{{"username", "noah"}}).status == 201);
}

}  // namespace hearth::test
