// A world with billing for server tests: the fake Stripe (tests/support/fake_stripe.h)
// with the team plan's price, a TestServer whose billing talks to it (its webhook
// endpoint set to the server's), an owner ("olive", also a server admin, so that she can
// connect a repository on disk) of the org "acme" on the free plan, and a second user
// ("mia") to add as a member. `plans` replaces the plans file; `secrets` the webhook
// secrets (the fake signs with the first).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/billing/billing_state.h"
#include "stripe/stripe.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/git_repo.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace hearth::test {

struct BillingWorld {
  static constexpr const char* kKey = "sk_test_hearth_billing_tests";
  static constexpr const char* kPrice = "price_team_monthly";

  FakeStripe stripe;
  TempDir repos;
  std::unique_ptr<TestServer> s;
  std::string owner, mia, org_id;

  explicit BillingWorld(const std::string& plans = "", std::vector<std::string> secrets = {"whsec_first"},
                        std::chrono::seconds grace = std::chrono::hours(24 * 7))
      : stripe(kKey, secrets.at(0)) {
    stripe.add_price(kPrice, 1500);
    auto config = std::make_shared<actors::billing::BillingConfig>();
    auto loaded = actors::billing::load_plans(kPrice, plans);
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    config->plans = *loaded;
    config->webhook_secrets = std::move(secrets);
    config->past_due_grace = grace;
    stripe::ClientConfig client;
    client.api_url = stripe.url();
    client.secret_key = kKey;
    client.first_pause = std::chrono::milliseconds(5);
    auto stripe_client = stripe::Client::create(client);
    REQUIRE(stripe_client.ok());
    config->client = std::shared_ptr<stripe::Client>(std::move(*stripe_client));
    http::EdgeConfig edge;
    edge.billing = config;
    s = std::make_unique<TestServer>(std::move(edge), 16);
    stripe.set_webhook_endpoint("http://127.0.0.1:" + std::to_string(s->port) + "/v1/webhooks/stripe");
    owner = s->user_with_token("olive", true);
    mia = s->user_with_token("mia");
    auto made = s->call("POST", "/v1/orgs", owner, nlohmann::json{{"name", "Acme"}});
    REQUIRE(made.status == 201);
    org_id = s->call("GET", "/v1/orgs/acme", owner).body["id"];
  }

  nlohmann::json poll(const std::string& path, const std::function<bool(const nlohmann::json&)>& pred) {
    return s->poll(path, owner, pred, std::chrono::seconds(60));
  }
  nlohmann::json billing() { return s->call("GET", "/v1/orgs/acme/billing", owner).body; }

  // A repository on disk connected to acme, for tasks.
  void connect_repo() {
    auto repo = make_repo(repos.path() / "checkout");
    auto r = s->call("POST", "/v1/orgs/acme/repos", owner, nlohmann::json{{"url", "file://" + repo.string()}});
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  }

  // A subscription object of this org as Stripe sends it (team price, `quantity` seats).
  nlohmann::json subscription(const std::string& id, const std::string& status, std::int64_t quantity = 1,
                              const std::string& customer = "cus_acme") {
    return {{"id", id},
            {"object", "subscription"},
            {"customer", customer},
            {"status", status},
            {"cancel_at_period_end", false},
            {"current_period_end", 1900000000},
            {"trial_end", nullptr},
            {"metadata", {{"org_id", org_id}, {"plan", "team"}}},
            {"items", {{"object", "list"}, {"data", nlohmann::json::array({{{"id", "si_1"}, {"quantity", quantity},
                                                                            {"price", {{"id", kPrice}, {"object", "price"}}}}})}}}};
  }
};

}  // namespace hearth::test
