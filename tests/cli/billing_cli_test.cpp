// `hearth billing ...` against `hearth serve` as a separate process, its Stripe pointed
// at the fake Stripe on 127.0.0.1: the free plan, Checkout paid on Stripe's hosted page,
// the plan and card shown, invoices, cancel and resume, the portal.
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/fake_stripe.h"
#include "tests/support/served.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using nlohmann::json;
using test::contains;
using test::Served;

TEST_CASE("hearth billing shows the plan, opens Checkout and the portal, lists invoices, cancels and resumes") {
  test::FakeStripe stripe("sk_test_cli", "whsec_cli");
  stripe.add_price("price_team_cli", 2000);
  test::TempDir dir;
  auto key = dir.path() / "stripe.key";
  std::ofstream(key) << "sk_test_cli\n";
  Served s(dir.path(), {"--stripe-secret-key-file", key.string(), "--stripe-webhook-secret", "whsec_cli",
                        "--stripe-team-price", "price_team_cli", "--stripe-api-url", stripe.url()});
  stripe.set_webhook_endpoint(s.url + "/v1/webhooks/stripe");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);

  auto free = s.hearth({"billing", "status", "acme"});
  REQUIRE_MESSAGE(free.code == 0, free.out);
  CHECK(contains(free.out, "plan: Free (free)"));
  CHECK(contains(free.out, "seats: 1 of 1"));
  CHECK(contains(free.out, "agent turns this month: 0 of 100"));

  auto checkout = s.hearth({"billing", "checkout", "acme", "team", "--seats", "2"});
  REQUIRE_MESSAGE(checkout.code == 0, checkout.out);
  auto url = checkout.out.substr(0, checkout.out.find('\n'));
  REQUIRE(url.starts_with(stripe.url() + "/c/pay/"));
  httplib::Client browser(stripe.url());
  auto paid = browser.Post(url.substr(stripe.url().size()) + "/complete", "", "application/x-www-form-urlencoded");
  REQUIRE(paid);
  CHECK(paid->status == 303);
  s.poll("/v1/orgs/acme/billing", [](const json& b) { return b["payment_method"] == "Visa ending in 4242"; });

  auto team = s.hearth({"billing", "status", "acme"});
  CHECK(contains(team.out, "plan: Team (team)"));
  CHECK(contains(team.out, "status: active, renews"));
  CHECK(contains(team.out, "payment method: Visa ending in 4242"));
  CHECK(contains(team.out, "seats: 1 of 2"));

  auto invoices = s.hearth({"billing", "invoices", "acme"});
  REQUIRE_MESSAGE(invoices.code == 0, invoices.out);
  CHECK(contains(invoices.out, "40.00 usd"));
  CHECK(contains(invoices.out, "paid"));

  auto cancelled = s.hearth({"billing", "cancel", "acme"});
  REQUIRE_MESSAGE(cancelled.code == 0, cancelled.out);
  CHECK(contains(cancelled.out, "the subscription ends"));
  CHECK(contains(s.hearth({"billing", "status", "acme"}).out, ", ends "));
  auto resumed = s.hearth({"billing", "resume", "acme"});
  CHECK(contains(resumed.out, "the subscription renews"));
  auto again = s.hearth({"billing", "resume", "acme"});
  CHECK(again.code == 1);
  CHECK(contains(again.out, "not set to end"));

  auto portal = s.hearth({"billing", "portal", "acme"});
  REQUIRE_MESSAGE(portal.code == 0, portal.out);
  CHECK(contains(portal.out, stripe.url() + "/p/session/"));
  CHECK(s.hearth({"billing", "checkout", "acme", "gold"}).code == 1);
}
