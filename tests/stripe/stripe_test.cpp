// The Stripe client's pieces alone: Stripe's form encoding and its webhook signature
// check (timestamps, several v1s, several secrets), and the client against the fake.
#include <doctest/doctest.h>

#include "stripe/stripe.h"
#include "tests/support/fake_stripe.h"

namespace hearth::stripe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

std::int64_t seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

TEST_CASE("Stripe's form encoding nests objects and arrays in brackets and percent-encodes") {
  Json params{{"mode", "subscription"},
              {"line_items", Json::array({{{"price", "price_1"}, {"quantity", 3}}})},
              {"metadata", {{"org_id", "o_1"}, {"note", "a b&c=d/é"}}},
              {"cancel_at_period_end", true},
              {"skipped", nullptr}};
  auto form = form_encode(params);
  CHECK(form.find("line_items%5B0%5D%5Bprice%5D=price_1") != std::string::npos);
  CHECK(form.find("line_items%5B0%5D%5Bquantity%5D=3") != std::string::npos);
  CHECK(form.find("metadata%5Borg_id%5D=o_1") != std::string::npos);
  CHECK(form.find("metadata%5Bnote%5D=a%20b%26c%3Dd%2F%C3%A9") != std::string::npos);
  CHECK(form.find("cancel_at_period_end=true") != std::string::npos);
  CHECK(form.find("skipped") == std::string::npos);
  CHECK(form_encode(Json::object()).empty());
}

TEST_CASE("a Stripe-Signature is checked against the raw body, each secret, and the time") {
  const std::string body = R"({"id":"evt_1","type":"invoice.paid"})";
  auto now = Clock::now();
  auto t = seconds(now);
  auto header = test::FakeStripe::signature(body, "whsec_a", t);
  CHECK(verify_signature(header, body, {"whsec_a"}, now).ok());
  CHECK(verify_signature(header, body, {"whsec_old", "whsec_a"}, now).ok());  // a rotation
  CHECK(!verify_signature(header, body, {"whsec_b"}, now).ok());
  CHECK(!verify_signature(header, body + " ", {"whsec_a"}, now).ok());        // the body changed
  CHECK(!verify_signature(header, body, {"whsec_a"}, now + 301s).ok());       // replayed later
  CHECK(verify_signature(header, body, {"whsec_a"}, now + 299s).ok());
  CHECK(!verify_signature(header, body, {"whsec_a"}, now - 302s).ok());       // from the future
  CHECK(!verify_signature("", body, {"whsec_a"}, now).ok());
  CHECK(!verify_signature("v1=" + header.substr(header.find("v1=") + 3), body, {"whsec_a"}, now).ok());  // no t
  CHECK(!verify_signature("t=" + std::to_string(t), body, {"whsec_a"}, now).ok());                       // no v1
  CHECK(!verify_signature(header, body, {""}, now).ok());                                                // no secret
  // Several v1s (Stripe signs with both secrets during a rotation), and v0 ignored.
  auto both = test::FakeStripe::signature_multi(body, {"whsec_x", "whsec_a"}, t) + ",v0=deadbeef";
  CHECK(verify_signature(both, body, {"whsec_a"}, now).ok());
  auto refused = verify_signature(header, body, {"whsec_a"}, now + 1h);
  REQUIRE(!refused.ok());
  CHECK(refused.error().message.find("a replay") != std::string::npos);
  // Timestamps at the ends of the range (found by fuzzing: the clock's nanoseconds overflowed).
  for (const char* far : {"t=170000000000", "t=9223372036854775807", "t=-9223372036854775808", "t=-1"}) {
    auto odd = verify_signature(std::string(far) + ",v1=" + std::string(64, '0'), body, {"whsec_a"}, now);
    CHECK_MESSAGE(!odd.ok(), far);
  }
}

TEST_CASE("the Stripe client posts with its key and an idempotency key, retries failures, and says Stripe's refusals") {
  test::FakeStripe fake("sk_test_client", "whsec_x");
  ClientConfig config;
  config.api_url = fake.url();
  config.secret_key = "sk_test_client";
  config.first_pause = 1ms;
  auto client = Client::create(config);
  REQUIRE(client.ok());
  fake.fail_next(503, 2);
  auto made = (*client)->post("/v1/customers", {{"name", "acme"}, {"metadata", {{"org_id", "o_1"}}}}, "key-1");
  REQUIRE_MESSAGE(made.ok(), (made.ok() ? "" : made.error().message));
  CHECK((*made)["metadata"]["org_id"] == "o_1");
  auto requests = fake.requests();
  REQUIRE(requests.size() == 3);
  for (const auto& r : requests) CHECK(r.idempotency_key == "key-1");
  auto got = (*client)->get("/v1/customers/" + (*made)["id"].get<std::string>());
  REQUIRE(got.ok());
  CHECK((*got)["id"] == (*made)["id"]);
  auto missing = (*client)->get("/v1/customers/cus_nobody");
  REQUIRE(!missing.ok());
  CHECK(missing.error().code == ErrorCode::not_found);
  CHECK(missing.error().message.find("No such customer") != std::string::npos);
  fake.fail_next(500, 4);
  auto down = (*client)->post("/v1/customers", Json::object(), "key-2");
  REQUIRE(!down.ok());
  CHECK(down.error().code == ErrorCode::unavailable);
  ClientConfig wrong = config;
  wrong.secret_key = "sk_test_wrong_key_123";
  auto bad = (*Client::create(wrong))->get("/v1/customers/x");
  REQUIRE(!bad.ok());
  CHECK(bad.error().code == ErrorCode::unavailable);
  CHECK(bad.error().message.find("sk_test_wrong_key_123") == std::string::npos);
  CHECK(!Client::create({"ftp://x", "k"}).ok());
  CHECK(!Client::create({"https://api.stripe.com", ""}).ok());
}

}  // namespace hearth::stripe
