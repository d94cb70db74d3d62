// A fake of Stripe on 127.0.0.1 at a free port, speaking its wire format, for Hearth's
// billing client and its webhook receiver (POST /v1/webhooks/stripe).
//
// The API, under /v1: the secret key as a Bearer token (401 otherwise); bodies
// form-encoded with Stripe's bracket nesting (metadata[org_id]=o_1,
// line_items[0][price]=price_team, expand[]=subscription), unknown top-level parameters
// refused as Stripe refuses them; errors in Stripe's shape {"error":{"type","code",
// "message","param"}}; Idempotency-Key on a POST replays the first answer
// (Idempotent-Replayed: true) and refuses the key with other parameters; expand[] on
// any answer; Request-Id and Stripe-Version on every answer. Customers, Checkout
// Sessions (subscription mode), billing portal sessions, subscriptions, invoices and
// payment methods, shaped as Stripe's are at API version 2024-06-20.
//
// The pages a browser sees: Checkout (/c/pay/ID, whose Subscribe button makes the
// customer, the card, the subscription and its paid invoice, then goes to success_url),
// the customer portal (/p/session/ID, whose cancel button cancels at period end), and
// hosted invoices (/i/ID, /i/ID/pdf).
//
// Whatever changes a subscription (those pages, the API, the test helpers) sends
// Stripe's events for it to the webhook endpoint, signed as Stripe signs them
// (Stripe-Signature: t=...,v1=HMAC-SHA256), before it answers: once a call returns,
// Hearth has had its events. Deliveries are made without the lock held, so Hearth may
// call the API while it handles one. Each is tried once (no retries: a test re-sends
// with deliver()). Tests send events of their own (deliver, deliver_raw), and make API
// requests fail (fail_next) or lose their connection (drop_next) to exercise retries.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/loopback_server.h"

namespace hearth::test {

class FakeStripe {
 public:
  using json = nlohmann::json;

  static constexpr const char* kApiVersion = "2024-06-20";

  // Hearth's answer to a delivery. status 0: Hearth could not be reached (body says why).
  struct Delivery {
    int status = 0;
    std::string body;
  };

  // One request under /v1, as received. `form` holds its parameters (the body's and the
  // query's) decoded, under their flat keys as sent: "line_items[0][price]"; a key sent
  // twice (expand[]=a&expand[]=b) keeps its last value here. `query` is the raw query.
  struct Request {
    std::string method, path, idempotency_key, authorization;
    std::map<std::string, std::string> form;
    std::string query;
  };

  // Serves at once. API requests must carry `secret_key`; deliveries are signed with
  // `webhook_secret`.
  FakeStripe(std::string secret_key, std::string webhook_secret)
      : secret_key_(std::move(secret_key)), webhook_secret_(std::move(webhook_secret)) {
    auto& s = http_.server();
    s.Post("/v1/customers", api(kCustomerParams, &FakeStripe::create_customer));
    s.Get(R"(/v1/customers/([^/]+))", api({"expand"}, &FakeStripe::get_customer));
    s.Post(R"(/v1/customers/([^/]+))", api(kCustomerParams, &FakeStripe::update_customer));
    s.Post("/v1/checkout/sessions", api(kCheckoutParams, &FakeStripe::create_checkout_session));
    s.Get(R"(/v1/checkout/sessions/([^/]+))", api({"expand"}, &FakeStripe::get_checkout_session));
    s.Post("/v1/billing_portal/sessions", api(kPortalParams, &FakeStripe::create_portal_session));
    s.Get(R"(/v1/subscriptions/([^/]+))", api({"expand"}, &FakeStripe::get_subscription));
    s.Post(R"(/v1/subscriptions/([^/]+))", api(kSubscriptionParams, &FakeStripe::update_subscription));
    s.Delete(R"(/v1/subscriptions/([^/]+))", api(kCancelParams, &FakeStripe::cancel_subscription));
    s.Get("/v1/invoices", api(kInvoiceListParams, &FakeStripe::list_invoices));
    s.Get(R"(/v1/payment_methods/([^/]+))", api({"expand"}, &FakeStripe::get_payment_method));
    // Registered last: httplib tries routes in order.
    s.Get(R"(/v1/.*)", api({}, &FakeStripe::unrecognized));
    s.Post(R"(/v1/.*)", api({}, &FakeStripe::unrecognized));
    s.Delete(R"(/v1/.*)", api({}, &FakeStripe::unrecognized));

    s.Get(R"(/c/pay/([^/]+))", [this](const auto& req, auto& res) { checkout_page(req, res); });
    s.Post(R"(/c/pay/([^/]+)/complete)", [this](const auto& req, auto& res) { complete_checkout(req, res); });
    s.Get(R"(/p/session/([^/]+))", [this](const auto& req, auto& res) { portal_page(req, res); });
    s.Post(R"(/p/session/([^/]+)/cancel)", [this](const auto& req, auto& res) { portal_cancel(req, res); });
    s.Get(R"(/i/([^/]+))", [this](const auto& req, auto& res) { invoice_page(req, res, false); });
    s.Get(R"(/i/([^/]+)/pdf)", [this](const auto& req, auto& res) { invoice_page(req, res, true); });
    http_.start();
  }

  // http://127.0.0.1:PORT: Stripe's API base (requests go to url() + "/v1/...") and the
  // origin of the hosted pages.
  std::string url() const { return http_.url(); }

  // Where events go: Hearth's POST /v1/webhooks/stripe. Empty (the default): nowhere.
  void set_webhook_endpoint(std::string endpoint) {
    std::lock_guard lock(mu_);
    webhook_endpoint_ = std::move(endpoint);
  }
  // The secret deliveries are signed with from now on (a rotation).
  void set_webhook_secret(std::string secret) {
    std::lock_guard lock(mu_);
    webhook_secret_ = std::move(secret);
  }

  // A recurring price, billed monthly at `unit_amount` (in the currency's minor unit).
  // Checkout and subscription items accept only prices added here, as Stripe accepts
  // only the account's. Returns `price_id`.
  std::string add_price(std::string price_id, std::int64_t unit_amount = 1500, std::string currency = "usd") {
    std::lock_guard lock(mu_);
    store_locked({{"id", price_id}, {"object", "price"}, {"active", true}, {"currency", std::move(currency)},
                  {"unit_amount", unit_amount}, {"type", "recurring"}, {"livemode", false},
                  {"recurring", {{"interval", "month"}, {"interval_count", 1}, {"usage_type", "licensed"}}},
                  {"product", random_id("prod_")}, {"created", now()}});
    return price_id;
  }

  // A Stripe event of `type` about `object`, created at `created` (unix seconds; 0: now).
  // customer.subscription.updated carries an empty data.previous_attributes.
  static json event(const std::string& type, const json& object, std::int64_t created = 0) {
    json made{{"id", random_id("evt_")},
              {"object", "event"},
              {"api_version", kApiVersion},
              {"created", created != 0 ? created : now()},
              {"type", type},
              {"livemode", false},
              {"pending_webhooks", 1},
              {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
              {"data", {{"object", object}}}};
    if (type == "customer.subscription.updated") made["data"]["previous_attributes"] = json::object();
    return made;
  }

  // The Stripe-Signature header of `payload` as Stripe makes it:
  // t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>" keyed with `secret`>.
  static std::string signature(const std::string& payload, const std::string& secret, std::int64_t timestamp) {
    return signature_multi(payload, {secret}, timestamp);
  }
  // The same with one v1 per secret, in order (Stripe's header while a secret rotates).
  static std::string signature_multi(const std::string& payload, const std::vector<std::string>& secrets,
                                     std::int64_t timestamp) {
    auto header = "t=" + std::to_string(timestamp);
    auto signed_payload = std::to_string(timestamp) + "." + payload;
    for (const auto& secret : secrets) header += ",v1=" + hmac_sha256_hex(secret, signed_payload);
    return header;
  }

  // POSTs event.dump() to the webhook endpoint as Stripe does, signed with the current
  // secret (or `secret`) at `timestamp` (or now); returns Hearth's answer. Not recorded
  // in delivered(). Throws std::logic_error when no endpoint is set.
  Delivery deliver(const json& event, std::optional<std::int64_t> timestamp = {},
                   std::optional<std::string> secret = {}) {
    auto payload = serialized(event);
    std::string endpoint, key;
    {
      std::lock_guard lock(mu_);
      endpoint = webhook_endpoint_;
      key = secret ? *secret : webhook_secret_;
    }
    if (endpoint.empty()) throw std::logic_error("FakeStripe::deliver: no webhook endpoint is set");
    return post(endpoint, payload, signature(payload, key, timestamp.value_or(now())));
  }
  // POSTs `body` with `signature_header` as its Stripe-Signature, as they are: for
  // tampered, replayed and unsigned deliveries (an empty header is left out).
  Delivery deliver_raw(const std::string& body, const std::string& signature_header) {
    std::string endpoint;
    {
      std::lock_guard lock(mu_);
      endpoint = webhook_endpoint_;
    }
    if (endpoint.empty()) throw std::logic_error("FakeStripe::deliver_raw: no webhook endpoint is set");
    return post(endpoint, body, signature_header);
  }

  // The events the fake sent by itself (hosted pages, API calls, test helpers), in order:
  // {"event": <event>, "status": <Hearth's status, 0 if unreachable>, "body": <its body>}.
  // Events made while no endpoint was set are not here.
  std::vector<json> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }

  // The next `times` requests under /v1 answer `status` without being acted on: 5xx
  // api_error, 409 lock_timeout, 429 rate_limit, anything else invalid_request_error.
  // An injected answer is not kept for its Idempotency-Key, so a retry with the key runs.
  void fail_next(int status, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) faults_.push_back({status, false, false});
  }
  // The next `times` requests under /v1 lose their connection: the status line and
  // headers go out, then the connection closes before the body, which cpp-httplib's
  // client reports as Error::Read with no response. `processed`: Stripe acted on the
  // request first (the answer was lost on the way back; a POST's answer is kept for its
  // Idempotency-Key and its events delivered), else it never saw it.
  void drop_next(int times = 1, bool processed = true) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) faults_.push_back({0, true, processed});
  }

  // Every request under /v1 so far, in the order received.
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  // Moves subscription `sub_id` to `status` as Stripe would and delivers what Stripe
  // sends, returning the subscription as it now is: customer.subscription.updated; for
  // "past_due", first a renewal (the next period, its invoice open) and
  // invoice.payment_failed; for "active", each open invoice of the subscription paid
  // (invoice.paid) first; "canceled" is delete_subscription(). Throws std::out_of_range
  // for an unknown subscription, std::invalid_argument for a status Stripe has not.
  json set_subscription_status(const std::string& sub_id, const std::string& status) {
    static const std::set<std::string> kStatuses{"incomplete", "incomplete_expired", "trialing", "active",
                                                 "past_due",   "unpaid",             "paused",   "canceled"};
    if (!kStatuses.contains(status)) throw std::invalid_argument("FakeStripe: no subscription status '" + status + "'");
    if (status == "canceled") return delete_subscription(sub_id);
    std::vector<json> events;
    json now_is;
    {
      std::lock_guard lock(mu_);
      auto& sub = subscription_locked(sub_id);
      auto before = sub;
      if (status == "past_due") {
        set_period(sub, sub.at("current_period_end").get<std::int64_t>());
        auto& invoice = add_invoice_locked(sub, "subscription_cycle");
        invoice["attempt_count"] = 1;
        invoice["next_payment_attempt"] = now() + 3 * kDay;
        sub["latest_invoice"] = invoice["id"];
        events.push_back(event_of("invoice.payment_failed", invoice));
      }
      if (status == "active")
        for (const auto& id : invoice_ids_) {
          auto& invoice = objects_.at(id);
          if (invoice["subscription"] != sub_id || invoice["status"] != "open") continue;
          pay(invoice);
          events.push_back(event_of("invoice.paid", invoice));
        }
      sub["status"] = status;
      events.push_back(event_of("customer.subscription.updated", sub, previous_attributes(before, sub)));
      now_is = sub;
    }
    deliver_events(events);
    return now_is;
  }

  // Cancels subscription `sub_id` now (status canceled, ended_at) and delivers
  // customer.subscription.deleted (again, if it already was); returns the subscription.
  // Throws std::out_of_range for an unknown subscription.
  json delete_subscription(const std::string& sub_id) {
    json now_is;
    {
      std::lock_guard lock(mu_);
      auto& sub = subscription_locked(sub_id);
      cancel_now(sub);
      now_is = sub;
    }
    deliver_events({event_of("customer.subscription.deleted", now_is)});
    return now_is;
  }

  // Objects as the API would return them. Throw std::out_of_range for an unknown id.
  json subscription(const std::string& id) {
    std::lock_guard lock(mu_);
    return subscription_locked(id);
  }
  json customer(const std::string& id) {
    std::lock_guard lock(mu_);
    return existing_locked(id, "customer");
  }
  json checkout_session(const std::string& id) {
    std::lock_guard lock(mu_);
    return existing_locked(id, "checkout.session");
  }
  // The invoices of `customer`, newest first (as GET /v1/invoices lists them).
  std::vector<json> invoices_of(const std::string& customer) {
    std::lock_guard lock(mu_);
    std::vector<json> out;
    for (auto it = invoice_ids_.rbegin(); it != invoice_ids_.rend(); ++it)
      if (objects_.at(*it)["customer"] == customer) out.push_back(objects_.at(*it));
    return out;
  }

 private:
  static constexpr std::int64_t kDay = 86400;
  static constexpr std::int64_t kPeriod = 30 * kDay;  // a month, as the fake bills it

  using Pairs = std::vector<std::pair<std::string, std::string>>;

  // One API request as a handler sees it: its parameters nested as Stripe reads them,
  // and the events it causes (delivered once mu_ is released, before the answer).
  struct Call {
    const httplib::Request& http;
    json params;
    std::string request_id, idempotency_key;
    std::vector<json> events;
    std::string id() const { return http.matches[1].str(); }  // the object named in the path
  };
  struct Answer {
    int status = 200;
    json body;
  };
  using Handler = Answer (FakeStripe::*)(Call&);

  // What a Checkout Session subscribes to when it is paid.
  struct Checkout {
    std::vector<std::pair<std::string, std::int64_t>> items;  // price id, quantity
    json subscription_metadata;                               // subscription_data[metadata]
  };
  // The first request with an Idempotency-Key, and what it was answered.
  struct Replay {
    std::string method, path;
    Pairs params;  // sorted: the same parameters in another order are the same request
    Answer answer;
    std::string request_id;
  };
  // What happens to an upcoming API request instead of (or after) serving it.
  struct Fault {
    int status = 0;          // answered with this, not acted on
    bool drop = false;       // the connection closes before the body
    bool processed = false;  // with drop: acted on first
  };

  // Top-level parameters Stripe accepts on each endpoint; those the fake does not model
  // are accepted and ignored, anything else is refused (parameter_unknown).
  inline static const std::set<std::string> kCustomerParams{
      "address", "balance", "cash_balance", "coupon", "default_source", "description", "email", "expand",
      "invoice_prefix", "invoice_settings", "metadata", "name", "next_invoice_sequence", "payment_method", "phone",
      "preferred_locales", "promotion_code", "shipping", "source", "tax", "tax_exempt", "tax_id_data", "test_clock"};
  inline static const std::set<std::string> kCheckoutParams{
      "after_expiration", "allow_promotion_codes", "automatic_tax", "billing_address_collection", "cancel_url",
      "client_reference_id", "consent_collection", "currency", "custom_fields", "custom_text", "customer",
      "customer_creation", "customer_email", "customer_update", "discounts", "expand", "expires_at",
      "invoice_creation", "line_items", "locale", "metadata", "mode", "payment_intent_data",
      "payment_method_collection", "payment_method_configuration", "payment_method_data", "payment_method_options",
      "payment_method_types", "phone_number_collection", "redirect_on_completion", "return_url",
      "saved_payment_method_options", "setup_intent_data", "shipping_address_collection", "shipping_options",
      "submit_type", "subscription_data", "success_url", "tax_id_collection", "ui_mode"};
  inline static const std::set<std::string> kPortalParams{
      "configuration", "customer", "expand", "flow_data", "locale", "on_behalf_of", "return_url"};
  inline static const std::set<std::string> kSubscriptionParams{
      "add_invoice_items", "application_fee_percent", "automatic_tax", "billing_cycle_anchor", "billing_thresholds",
      "cancel_at", "cancel_at_period_end", "cancellation_details", "collection_method", "coupon", "days_until_due",
      "default_payment_method", "default_source", "default_tax_rates", "description", "discounts", "expand",
      "invoice_settings", "items", "metadata", "off_session", "on_behalf_of", "pause_collection", "payment_behavior",
      "payment_settings", "pending_invoice_item_interval", "promotion_code", "proration_behavior", "proration_date",
      "transfer_data", "trial_end", "trial_from_plan", "trial_settings"};
  inline static const std::set<std::string> kCancelParams{"cancellation_details", "expand", "invoice_now", "prorate"};
  inline static const std::set<std::string> kInvoiceListParams{
      "collection_method", "created", "customer", "due_date", "ending_before", "expand", "limit", "starting_after",
      "status", "subscription"};

  // ---- the API's front: faults, key, idempotency, parameter names ----

  // An API route: `handler` runs under mu_ once serve_api has let the request through;
  // `known` names the top-level parameters accepted there (empty: any).
  httplib::Server::Handler api(std::set<std::string> known, Handler handler) {
    return [this, known = std::move(known), handler](const httplib::Request& req, httplib::Response& res) {
      serve_api(req, res, known, handler);
    };
  }

  void serve_api(const httplib::Request& req, httplib::Response& res, const std::set<std::string>& known,
                 Handler handler) {
    auto mark = req.target.find('?');
    auto query = mark == std::string::npos ? std::string() : req.target.substr(mark + 1);
    auto pairs = parse_form(query);
    auto body = parse_form(req.body);
    pairs.insert(pairs.end(), body.begin(), body.end());
    Call call{req, nest(pairs), random_id("req_", 14), req.get_header_value("Idempotency-Key"), {}};
    Fault fault;
    Answer answer;
    std::string original_request;  // set when the answer is a replay
    {
      std::lock_guard lock(mu_);
      Request seen{req.method, req.path, call.idempotency_key, req.get_header_value("Authorization"), {}, query};
      for (const auto& [key, value] : pairs) seen.form[key] = value;  // a repeated key: its last value
      requests_.push_back(std::move(seen));
      if (!faults_.empty()) {
        fault = faults_.front();
        faults_.pop_front();
      }
      if (fault.status != 0) answer = injected(fault.status);
      else if (!fault.drop || fault.processed) answer = execute_locked(call, pairs, known, handler, original_request);
    }
    deliver_events(call.events);
    res.status = answer.status;
    res.set_header("Request-Id", call.request_id);
    res.set_header("Stripe-Version", kApiVersion);
    if (!original_request.empty()) {
      res.set_header("Idempotent-Replayed", "true");
      res.set_header("Original-Request", original_request);
    }
    auto text = answer.body.dump(2, ' ', false, json::error_handler_t::replace);
    if (!fault.drop) return res.set_content(text, "application/json");
    // A body promised (Content-Length) and never sent: httplib closes the connection.
    res.set_content_provider(text.size(), "application/json",
                             [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
  }

  // The key, a stored answer for the Idempotency-Key, the parameter names, then the
  // handler and expand[]. A POST's answer is kept for its key unless it is a 400 (a
  // parameter Stripe refused: it keeps none of those either). Caller holds mu_.
  Answer execute_locked(Call& call, Pairs pairs, const std::set<std::string>& known, Handler handler,
                        std::string& original_request) {
    if (auto refused = unauthorized(call.http)) return *refused;
    std::sort(pairs.begin(), pairs.end());
    const auto& key = call.idempotency_key;
    const bool idempotent = call.http.method == "POST" && !key.empty();
    if (idempotent)
      if (auto it = idempotent_.find(key); it != idempotent_.end()) {
        const auto& first = it->second;
        if (first.method != call.http.method || first.path != call.http.path || first.params != pairs)
          return error(400, "idempotency_error",
                       "Keys for idempotent requests can only be used with the same parameters they were first used "
                       "with. Try using a key other than '" + key + "' if you meant to execute a different request.");
        original_request = first.request_id;
        return first.answer;
      }
    if (!known.empty())
      for (const auto& item : call.params.items())
        if (!known.contains(item.key()))
          return invalid(item.key(), "Received unknown parameter: " + item.key(), "parameter_unknown");
    auto answer = (this->*handler)(call);
    if (answer.status < 300)
      for (const auto& entry : indexed(child(call.params, "expand")))
        if (entry.second.is_string()) expand_locked(answer.body, split(entry.second.get<std::string>(), '.'));
    if (idempotent && answer.status != 400)
      idempotent_[key] = {call.http.method, call.http.path, std::move(pairs), answer, call.request_id};
    return answer;
  }

  // The refusal of a request without the secret key as its Bearer token, if it is one.
  std::optional<Answer> unauthorized(const httplib::Request& req) const {
    auto auth = req.get_header_value("Authorization");
    if (auth.empty())
      return error(401, "invalid_request_error",
                   "You did not provide an API key. You need to provide your API key in the Authorization header, "
                   "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                   "https://stripe.com/docs/api#authentication for details, or we can help at "
                   "https://support.stripe.com/.");
    auto key = auth.starts_with("Bearer ") ? auth.substr(7) : auth;
    if (key == secret_key_) return std::nullopt;
    return error(401, "invalid_request_error", "Invalid API Key provided: " + redacted(key));
  }

  // sk_test_****abcd: the key's prefix and its last four characters, as Stripe shows it.
  static std::string redacted(const std::string& key) {
    auto first = key.find('_');
    auto second = first == std::string::npos ? first : key.find('_', first + 1);
    auto prefix = second == std::string::npos ? std::string() : key.substr(0, second + 1);
    auto rest = key.substr(prefix.size());
    return prefix + "****" + (rest.size() > 4 ? rest.substr(rest.size() - 4) : rest);
  }

  static Answer injected(int status) {
    if (status == 409)
      return error(409, "invalid_request_error",
                   "This object cannot be accessed right now because another API request or Stripe process is "
                   "currently accessing it.",
                   "lock_timeout");
    if (status == 429)
      return error(429, "invalid_request_error",
                   "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                   "rate_limit");
    if (status >= 500) return error(status, "api_error", "Something went wrong");
    return error(status, "invalid_request_error", "The request failed (status " + std::to_string(status) + ").");
  }

  // ---- errors, in Stripe's shape ----

  static Answer error(int status, const std::string& type, const std::string& message, const std::string& code = {},
                      const std::string& param = {}) {
    json body{{"type", type}, {"message", message}};
    if (!code.empty()) {
      auto dashed = code;
      std::replace(dashed.begin(), dashed.end(), '_', '-');
      body["code"] = code;
      body["doc_url"] = "https://stripe.com/docs/error-codes/" + dashed;
    }
    if (!param.empty()) body["param"] = param;
    return {status, json{{"error", body}}};
  }
  static Answer invalid(const std::string& param, const std::string& message, const std::string& code = {}) {
    return error(400, "invalid_request_error", message, code, param);
  }
  static Answer missing(const std::string& param) {
    return invalid(param, "Missing required param: " + param + ".", "parameter_missing");
  }
  // "No such customer: 'cus_x'": 404 for the object a path names, 400 for a parameter.
  static Answer no_such(int status, const std::string& kind, const std::string& id, const std::string& param) {
    return error(status, "invalid_request_error", "No such " + kind + ": '" + id + "'", "resource_missing", param);
  }

  // ---- parameters ----

  // `a=1&b%5Bc%5D=x+y` as decoded pairs in order: %XX and '+' (a space) decoded.
  static Pairs parse_form(std::string_view text) {
    Pairs out;
    while (!text.empty()) {
      auto amp = text.find('&');
      auto part = text.substr(0, amp);
      text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
      if (part.empty()) continue;
      auto eq = part.find('=');
      out.emplace_back(decoded(part.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : decoded(part.substr(eq + 1)));
    }
    return out;
  }
  static std::string decoded(std::string_view text) {
    auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') {
        out += ' ';
      } else if (text[i] == '%' && i + 2 < text.size() && digit(text[i + 1]) >= 0 && digit(text[i + 2]) >= 0) {
        out += static_cast<char>(digit(text[i + 1]) * 16 + digit(text[i + 2]));
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  }

  // Stripe's bracket nesting as JSON objects: a[b][c]=v is {"a":{"b":{"c":"v"}}}. An
  // index (line_items[0]) is a key like any other ("0"), `[]` takes the next free one;
  // values stay strings, as sent.
  static json nest(const Pairs& pairs) {
    json out = json::object();
    for (const auto& [key, value] : pairs) {
      auto path = key_path(key);
      json* node = &out;
      for (std::size_t i = 0; i < path.size(); ++i) {
        auto name = path[i].empty() ? std::to_string(node->size()) : path[i];
        if (i + 1 == path.size()) {
          (*node)[name] = value;
          break;
        }
        auto& next = (*node)[name];
        if (!next.is_object()) next = json::object();
        node = &next;
      }
    }
    return out;
  }
  // "line_items[0][price]" as {"line_items", "0", "price"}; a key with an unclosed
  // bracket is one name.
  static std::vector<std::string> key_path(const std::string& key) {
    std::vector<std::string> path{key.substr(0, key.find('['))};
    for (auto open = key.find('['); open != std::string::npos; open = key.find('[', open)) {
      auto close = key.find(']', open);
      if (close == std::string::npos) return {key};
      path.push_back(key.substr(open + 1, close - open - 1));
      open = close;
    }
    return path;
  }

  // The entries of a list parameter (line_items[0], line_items[1]...) in index order, each
  // with its index as sent, to name a parameter in an error.
  static std::vector<std::pair<std::string, json>> indexed(const json& node) {
    std::vector<std::pair<std::string, json>> out;
    if (!node.is_object()) return out;
    for (const auto& item : node.items())
      if (integer(item.key())) out.emplace_back(item.key(), item.value());
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return *integer(a.first) < *integer(b.first); });
    return out;
  }
  static const json& child(const json& node, const std::string& key) {
    static const json kNone;
    auto it = node.find(key);
    return it == node.end() ? kNone : *it;
  }
  static std::optional<std::string> text(const json& node, const std::string& key) {
    auto it = node.find(key);
    if (it == node.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  }
  static std::optional<std::int64_t> integer(const std::string& text) {
    std::int64_t value = 0;
    auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (failure != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  }
  // Parameter `key` of `node` into `out` (left as it is when absent); the refusal when
  // it is not an integer of at least `minimum`. `param` names it in the refusal.
  static std::optional<Answer> read_integer(const json& node, const std::string& key, const std::string& param,
                                            std::int64_t minimum, std::int64_t& out) {
    auto given = text(node, key);
    if (!given) return std::nullopt;
    auto parsed = integer(*given);
    if (!parsed) return invalid(param, "Invalid integer: " + *given, "parameter_invalid_integer");
    if (*parsed < minimum)
      return invalid(param, "This value must be greater than or equal to " + std::to_string(minimum) + ".");
    out = *parsed;
    return std::nullopt;
  }
  // `current` with params' metadata applied: metadata[k]=v sets, metadata[k]= unsets,
  // metadata= clears, no metadata leaves it. nullopt: not a hash of strings.
  static std::optional<json> with_metadata(json current, const json& params) {
    const auto& given = child(params, "metadata");
    if (given.is_null()) return current;
    if (given.is_string())
      return given.get_ref<const std::string&>().empty() ? std::optional<json>(json::object()) : std::nullopt;
    for (const auto& item : given.items()) {
      if (!item.value().is_string()) return std::nullopt;
      if (item.value().get_ref<const std::string&>().empty()) current.erase(item.key());
      else current[item.key()] = item.value();
    }
    return current;
  }
  // A string field Stripe unsets with an empty value: absent leaves it, "" makes it null.
  static void set_nullable(json& object, const json& params, const std::string& key) {
    if (auto value = text(params, key)) object[key] = value->empty() ? json() : json(*value);
  }

  // ---- objects ----

  json& store_locked(json object) {
    auto id = object.at("id").get<std::string>();
    return objects_[id] = std::move(object);
  }
  // The object `id` if it is a `kind` ("customer", "checkout.session"...), else null.
  json* find_locked(const std::string& id, std::string_view kind) {
    auto it = objects_.find(id);
    return it != objects_.end() && it->second.value("object", "") == kind ? &it->second : nullptr;
  }
  json& existing_locked(const std::string& id, std::string_view kind) {
    auto* found = find_locked(id, kind);
    if (!found) throw std::out_of_range("FakeStripe: no such " + std::string(kind) + ": '" + id + "'");
    return *found;
  }
  json& subscription_locked(const std::string& id) { return existing_locked(id, "subscription"); }

  json& add_customer_locked(json metadata) {
    return store_locked({{"id", random_id("cus_")},
                         {"object", "customer"},
                         {"email", nullptr},
                         {"name", nullptr},
                         {"metadata", std::move(metadata)},
                         {"invoice_settings", {{"default_payment_method", nullptr}}},
                         {"invoice_prefix", random_prefix()},
                         {"next_invoice_sequence", 1},
                         {"created", now()},
                         {"livemode", false}});
  }

  json& add_subscription_locked(const std::string& customer, const Checkout& checkout, const json& payment_method) {
    auto id = random_id("sub_");
    auto start = now();
    json items = json::array();
    for (const auto& [price, quantity] : checkout.items) items.push_back(item_of(price, quantity, id));
    json sub{{"id", id},
             {"object", "subscription"},
             {"customer", customer},
             {"status", "active"},
             {"cancel_at_period_end", false},
             {"cancel_at", nullptr},
             {"canceled_at", nullptr},
             {"ended_at", nullptr},
             {"trial_start", nullptr},
             {"trial_end", nullptr},
             {"created", start},
             {"start_date", start},
             {"metadata", checkout.subscription_metadata},
             {"default_payment_method", payment_method},
             {"currency", objects_.at(checkout.items.front().first).at("currency")},
             {"collection_method", "charge_automatically"},
             {"latest_invoice", nullptr},
             {"livemode", false},
             {"items", {{"object", "list"}, {"data", items}, {"has_more", false},
                        {"url", "/v1/subscription_items?subscription=" + id}}}};
    set_period(sub, start);
    return store_locked(std::move(sub));
  }
  json item_of(const std::string& price, std::int64_t quantity, const std::string& subscription) {
    return {{"id", random_id("si_")}, {"object", "subscription_item"}, {"price", objects_.at(price)},
            {"quantity", quantity},   {"subscription", subscription},   {"metadata", json::object()},
            {"created", now()}};
  }
  // The subscription's current period (and its items') from `start`, a month long.
  static void set_period(json& sub, std::int64_t start) {
    sub["current_period_start"] = start;
    sub["current_period_end"] = start + kPeriod;
    for (auto& item : sub["items"]["data"]) {
      item["current_period_start"] = start;
      item["current_period_end"] = start + kPeriod;
    }
  }
  static void set_cancel_at_period_end(json& sub, bool cancel) {
    if (sub["cancel_at_period_end"] == cancel) return;
    sub["cancel_at_period_end"] = cancel;
    sub["cancel_at"] = cancel ? sub["current_period_end"] : json();
    sub["canceled_at"] = cancel ? json(now()) : json();
  }
  static void cancel_now(json& sub) {
    if (sub["status"] == "canceled") return;
    auto at = now();
    sub["status"] = "canceled";
    sub["cancel_at_period_end"] = false;
    sub["canceled_at"] = at;
    sub["ended_at"] = at;
  }

  // A new invoice, open, for the subscription's current period: its items' amounts,
  // numbered <customer's invoice_prefix>-NNNN.
  json& add_invoice_locked(const json& sub, const std::string& billing_reason) {
    auto& customer = objects_.at(sub.at("customer").get<std::string>());
    auto sequence = customer["next_invoice_sequence"].get<std::int64_t>();
    customer["next_invoice_sequence"] = sequence + 1;
    auto number = std::to_string(sequence);
    number.insert(0, number.size() < 4 ? 4 - number.size() : 0, '0');
    auto id = random_id("in_");
    json lines = json::array();
    std::int64_t total = 0;
    for (const auto& item : sub.at("items").at("data")) {
      auto amount = item.at("price").at("unit_amount").get<std::int64_t>() * item.at("quantity").get<std::int64_t>();
      total += amount;
      lines.push_back({{"id", random_id("il_")}, {"object", "line_item"}, {"amount", amount},
                       {"currency", item.at("price").at("currency")}, {"price", item.at("price")},
                       {"quantity", item.at("quantity")}, {"subscription", sub.at("id")},
                       {"subscription_item", item.at("id")},
                       {"period", {{"start", sub.at("current_period_start")}, {"end", sub.at("current_period_end")}}}});
    }
    invoice_ids_.push_back(id);
    return store_locked({{"id", id},
                         {"object", "invoice"},
                         {"number", customer["invoice_prefix"].get<std::string>() + "-" + number},
                         {"customer", sub.at("customer")},
                         {"subscription", sub.at("id")},
                         {"status", "open"},
                         {"paid", false},
                         {"amount_due", total},
                         {"amount_paid", 0},
                         {"amount_remaining", total},
                         {"subtotal", total},
                         {"total", total},
                         {"currency", sub.at("currency")},
                         {"billing_reason", billing_reason},
                         {"collection_method", "charge_automatically"},
                         {"attempt_count", 0},
                         {"hosted_invoice_url", url() + "/i/" + id},
                         {"invoice_pdf", url() + "/i/" + id + "/pdf"},
                         {"lines", {{"object", "list"}, {"data", lines}, {"has_more", false},
                                    {"url", "/v1/invoices/" + id + "/lines"}}},
                         {"period_start", sub.at("current_period_start")},
                         {"period_end", sub.at("current_period_end")},
                         {"created", now()},
                         {"livemode", false}});
  }
  static void pay(json& invoice) {
    invoice["status"] = "paid";
    invoice["paid"] = true;
    invoice["attempt_count"] = std::max<std::int64_t>(1, invoice["attempt_count"].get<std::int64_t>());
    invoice["amount_paid"] = invoice["amount_due"];
    invoice["amount_remaining"] = 0;
    invoice["next_payment_attempt"] = nullptr;
  }

  // Replaces the ids along `path` with the objects they name, as expand[] does:
  // "subscription", "subscription.latest_invoice", "data.customer" (in a list).
  void expand_locked(json& node, const std::vector<std::string>& path, std::size_t at = 0) const {
    if (at == path.size() || !node.is_object()) return;
    auto it = node.find(path[at]);
    if (it == node.end()) return;
    if (it->is_string()) {
      if (auto found = objects_.find(it->get<std::string>()); found != objects_.end()) *it = found->second;
    }
    if (it->is_array()) {
      for (auto& each : *it) expand_locked(each, path, at + 1);
    } else {
      expand_locked(*it, path, at + 1);
    }
  }

  // ---- events ----

  // An event about `object`: with `previous` as data.previous_attributes when given, and
  // the API request that caused it (`cause`), as Stripe's request field names it.
  static json event_of(const std::string& type, const json& object, const json& previous = nullptr,
                       const Call* cause = nullptr) {
    auto made = event(type, object);
    if (!previous.is_null()) made["data"]["previous_attributes"] = previous;
    if (cause)
      made["request"] = {{"id", cause->request_id},
                         {"idempotency_key", cause->idempotency_key.empty() ? json() : json(cause->idempotency_key)}};
    return made;
  }
  // The top-level fields of `after` that changed, with their values before.
  static json previous_attributes(const json& before, const json& after) {
    json out = json::object();
    for (const auto& item : before.items())
      if (!after.contains(item.key()) || after.at(item.key()) != item.value()) out[item.key()] = item.value();
    return out;
  }

  // Sends `events` to the webhook endpoint in order, signed with the current secret, and
  // records each with Hearth's answer. Called without mu_: Hearth may call the API while
  // it handles one.
  void deliver_events(const std::vector<json>& events) {
    for (const auto& event : events) {
      std::string endpoint, secret;
      {
        std::lock_guard lock(mu_);
        endpoint = webhook_endpoint_;
        secret = webhook_secret_;
      }
      if (endpoint.empty()) continue;
      auto payload = serialized(event);
      auto answer = post(endpoint, payload, signature(payload, secret, now()));
      std::lock_guard lock(mu_);
      delivered_.push_back({{"event", event}, {"status", answer.status}, {"body", answer.body}});
    }
  }

  // A POST of `body` to `endpoint` with Stripe's webhook headers.
  static Delivery post(const std::string& endpoint, const std::string& body, const std::string& signature_header) {
    auto scheme = endpoint.find("://");
    auto path_at = endpoint.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    httplib::Client client(endpoint.substr(0, path_at));
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(30));
    httplib::Headers headers{{"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
                             {"Accept", "*/*; q=0.5, application/xml"},
                             {"Cache-Control", "no-cache"}};
    if (!signature_header.empty()) headers.emplace("Stripe-Signature", signature_header);
    auto path = path_at == std::string::npos ? std::string("/") : endpoint.substr(path_at);
    auto result = client.Post(path, headers, body, "application/json; charset=utf-8");
    if (!result) return {0, "no answer: " + httplib::to_string(result.error())};
    return {result->status, result->body};
  }

  static std::string serialized(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  // ---- API handlers (under mu_) ----

  Answer create_customer(Call& call) {
    auto metadata = with_metadata(json::object(), call.params);
    if (!metadata) return invalid("metadata", "Invalid hash");
    auto& made = add_customer_locked(*metadata);
    set_nullable(made, call.params, "email");
    set_nullable(made, call.params, "name");
    return {200, made};
  }

  Answer get_customer(Call& call) {
    auto* found = find_locked(call.id(), "customer");
    if (!found) return no_such(404, "customer", call.id(), "id");
    return {200, *found};
  }

  // Email, name, metadata and invoice_settings[default_payment_method] (a known card).
  Answer update_customer(Call& call) {
    auto* found = find_locked(call.id(), "customer");
    if (!found) return no_such(404, "customer", call.id(), "id");
    auto metadata = with_metadata(found->at("metadata"), call.params);
    if (!metadata) return invalid("metadata", "Invalid hash");
    auto card = text(child(call.params, "invoice_settings"), "default_payment_method");
    if (card && !card->empty() && !find_locked(*card, "payment_method"))
      return no_such(400, "PaymentMethod", *card, "invoice_settings[default_payment_method]");
    (*found)["metadata"] = *metadata;
    set_nullable(*found, call.params, "email");
    set_nullable(*found, call.params, "name");
    if (card) (*found)["invoice_settings"]["default_payment_method"] = card->empty() ? json() : json(*card);
    return {200, *found};
  }

  // mode (subscription only), success_url and line_items[N][price] (a known price) are
  // required; line_items[N][quantity] defaults to 1.
  Answer create_checkout_session(Call& call) {
    const auto& params = call.params;
    auto mode = text(params, "mode");
    if (!mode) return missing("mode");
    if (*mode != "subscription")
      return invalid("mode", *mode == "payment" || *mode == "setup"
                                 ? "The fake Stripe's Checkout supports mode=subscription only, not " + *mode + "."
                                 : "Invalid mode: must be one of payment, setup, or subscription");
    auto success_url = text(params, "success_url");
    if (!success_url) return missing("success_url");
    Checkout checkout;
    std::int64_t total = 0;
    auto line_items = indexed(child(params, "line_items"));
    if (line_items.empty()) return missing("line_items[0][price]");
    for (const auto& [index, item] : line_items) {
      auto name = "line_items[" + index + "]";
      auto price = text(item, "price");
      if (!price) return missing(name + "[price]");
      const auto* known = find_locked(*price, "price");
      if (!known) return no_such(400, "price", *price, name + "[price]");
      std::int64_t quantity = 1;
      if (auto refused = read_integer(item, "quantity", name + "[quantity]", 1, quantity)) return *refused;
      total += known->at("unit_amount").get<std::int64_t>() * quantity;
      checkout.items.emplace_back(*price, quantity);
    }
    auto customer = text(params, "customer");
    if (customer && !find_locked(*customer, "customer")) return no_such(400, "customer", *customer, "customer");
    auto email = text(params, "customer_email");
    if (customer && email)
      return invalid("customer_email", "You may only specify one of these parameters: customer, customer_email.");
    auto metadata = with_metadata(json::object(), params);
    if (!metadata) return invalid("metadata", "Invalid hash");
    auto subscription_metadata = with_metadata(json::object(), child(params, "subscription_data"));
    if (!subscription_metadata) return invalid("subscription_data[metadata]", "Invalid hash");
    checkout.subscription_metadata = *subscription_metadata;
    auto nullable = [](const std::optional<std::string>& value) { return value ? json(*value) : json(); };
    auto id = random_id("cs_test_");
    auto created = now();
    auto currency = objects_.at(checkout.items.front().first).at("currency");
    checkouts_[id] = std::move(checkout);
    return {200, store_locked({{"id", id},
                               {"object", "checkout.session"},
                               {"mode", "subscription"},
                               {"status", "open"},
                               {"payment_status", "unpaid"},
                               {"customer", nullable(customer)},
                               {"customer_email", nullable(email)},
                               {"customer_details", nullptr},
                               {"client_reference_id", nullable(text(params, "client_reference_id"))},
                               {"metadata", *metadata},
                               {"subscription", nullptr},
                               {"invoice", nullptr},
                               {"amount_subtotal", total},
                               {"amount_total", total},
                               {"currency", currency},
                               {"url", url() + "/c/pay/" + id},
                               {"success_url", *success_url},
                               {"cancel_url", nullable(text(params, "cancel_url"))},
                               {"created", created},
                               {"expires_at", created + kDay},
                               {"livemode", false}})};
  }

  Answer get_checkout_session(Call& call) {
    auto* found = find_locked(call.id(), "checkout.session");
    if (!found) return no_such(404, "checkout.session", call.id(), "id");
    return {200, *found};
  }

  Answer create_portal_session(Call& call) {
    auto customer = text(call.params, "customer");
    if (!customer) return missing("customer");
    if (!find_locked(*customer, "customer")) return no_such(400, "customer", *customer, "customer");
    auto return_url = text(call.params, "return_url");
    auto id = random_id("bps_");
    return {200, store_locked({{"id", id},
                               {"object", "billing_portal.session"},
                               {"customer", *customer},
                               {"return_url", return_url ? json(*return_url) : json()},
                               {"url", url() + "/p/session/" + id},
                               {"created", now()},
                               {"livemode", false}})};
  }

  Answer get_subscription(Call& call) {
    auto* found = find_locked(call.id(), "subscription");
    if (!found) return no_such(404, "subscription", call.id(), "id");
    return {200, *found};
  }

  // cancel_at_period_end, items[N] (id with quantity, price or deleted=true; or a new
  // price), metadata and default_payment_method; customer.subscription.updated when
  // anything changed. A canceled subscription takes metadata only.
  Answer update_subscription(Call& call) {
    auto* found = find_locked(call.id(), "subscription");
    if (!found) return no_such(404, "subscription", call.id(), "id");
    const auto& params = call.params;
    if (found->at("status") == "canceled")
      for (const auto& item : params.items())
        if (item.key() != "metadata" && item.key() != "cancellation_details" && item.key() != "expand")
          return invalid(item.key(), "A canceled subscription can only update its cancellation_details and metadata.");
    auto next = *found;  // changed as a copy: a refused parameter leaves the subscription as it was
    if (auto cancel = text(params, "cancel_at_period_end")) {
      if (*cancel != "true" && *cancel != "false")
        return invalid("cancel_at_period_end", "Invalid boolean: " + *cancel, "parameter_invalid_boolean");
      set_cancel_at_period_end(next, *cancel == "true");
    }
    for (const auto& [index, change] : indexed(child(params, "items")))
      if (auto refused = change_item_locked(next, change, "items[" + index + "]")) return *refused;
    auto metadata = with_metadata(next["metadata"], params);
    if (!metadata) return invalid("metadata", "Invalid hash");
    next["metadata"] = *metadata;
    if (auto card = text(params, "default_payment_method")) {
      if (!card->empty() && !find_locked(*card, "payment_method"))
        return no_such(400, "PaymentMethod", *card, "default_payment_method");
      next["default_payment_method"] = card->empty() ? json() : json(*card);
    }
    if (next != *found) {
      call.events.push_back(event_of("customer.subscription.updated", next, previous_attributes(*found, next), &call));
      *found = std::move(next);
    }
    return {200, *found};
  }

  // One items[N] of a subscription update, applied to `sub`; the refusal, if any.
  std::optional<Answer> change_item_locked(json& sub, const json& change, const std::string& name) {
    auto& items = sub["items"]["data"];
    auto price = text(change, "price");
    if (price && !find_locked(*price, "price")) return no_such(400, "price", *price, name + "[price]");
    std::int64_t quantity = 1;
    if (auto refused = read_integer(change, "quantity", name + "[quantity]", 0, quantity)) return refused;
    if (auto id = text(change, "id")) {
      auto it = std::find_if(items.begin(), items.end(), [&](const json& item) { return item.at("id") == *id; });
      if (it == items.end()) return no_such(400, "subscription item", *id, name + "[id]");
      if (text(change, "deleted") == "true") {
        items.erase(it);
        return std::nullopt;
      }
      if (price) (*it)["price"] = objects_.at(*price);
      if (text(change, "quantity")) (*it)["quantity"] = quantity;
      return std::nullopt;
    }
    if (!price) return missing(name + "[price]");
    for (const auto& item : items)
      if (item.at("price").at("id") == *price)
        return invalid(name + "[price]", "Cannot add multiple subscription items with the same price: " + *price + ".");
    auto item = item_of(*price, quantity, sub.at("id").get<std::string>());
    item["current_period_start"] = sub.at("current_period_start");
    item["current_period_end"] = sub.at("current_period_end");
    items.push_back(std::move(item));
    return std::nullopt;
  }

  // Cancels now; customer.subscription.deleted.
  Answer cancel_subscription(Call& call) {
    auto* found = find_locked(call.id(), "subscription");
    if (!found) return no_such(404, "subscription", call.id(), "id");
    if (found->at("status") == "canceled")
      return error(400, "invalid_request_error", "Subscription '" + call.id() + "' is already canceled.");
    cancel_now(*found);
    call.events.push_back(event_of("customer.subscription.deleted", *found, nullptr, &call));
    return {200, *found};
  }

  // Newest first, filtered by customer, subscription and status; limit (1-100, default
  // 10) with starting_after or ending_before (an invoice id) as the cursor.
  Answer list_invoices(Call& call) {
    const auto& params = call.params;
    std::int64_t limit = 10;
    if (auto refused = read_integer(params, "limit", "limit", 1, limit)) return *refused;
    if (limit > 100) return invalid("limit", "This value must be less than or equal to 100.");
    auto after = text(params, "starting_after"), before = text(params, "ending_before");
    if (after && !find_locked(*after, "invoice")) return no_such(400, "invoice", *after, "starting_after");
    if (before && !find_locked(*before, "invoice")) return no_such(400, "invoice", *before, "ending_before");
    auto rank = [&](const std::string& id) {
      return std::find(invoice_ids_.begin(), invoice_ids_.end(), id) - invoice_ids_.begin();
    };
    std::ptrdiff_t below = after ? rank(*after) : static_cast<std::ptrdiff_t>(invoice_ids_.size());
    std::ptrdiff_t above = before ? rank(*before) : -1;
    std::vector<const json*> candidates;  // newest first
    for (auto i = static_cast<std::ptrdiff_t>(invoice_ids_.size()) - 1; i >= 0; --i) {
      if (i >= below || i <= above) continue;
      const auto& invoice = objects_.at(invoice_ids_[static_cast<std::size_t>(i)]);
      bool wanted = true;
      for (const char* field : {"customer", "subscription", "status"})
        if (auto want = text(params, field); want && invoice.at(field) != *want) wanted = false;
      if (wanted) candidates.push_back(&invoice);
    }
    auto count = std::min(candidates.size(), static_cast<std::size_t>(limit));
    auto first = before ? candidates.end() - static_cast<std::ptrdiff_t>(count) : candidates.begin();
    json data = json::array();
    for (auto it = first; it != first + static_cast<std::ptrdiff_t>(count); ++it) data.push_back(**it);
    return {200, json{{"object", "list"}, {"data", data}, {"has_more", candidates.size() > count},
                      {"url", "/v1/invoices"}}};
  }

  Answer get_payment_method(Call& call) {
    auto* found = find_locked(call.id(), "payment_method");
    if (!found) return no_such(404, "PaymentMethod", call.id(), "id");
    return {200, *found};
  }

  Answer unrecognized(Call& call) {
    return error(404, "invalid_request_error",
                 "Unrecognized request URL (" + call.http.method + ": " + call.http.path +
                     "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.");
  }

  // ---- hosted pages ----

  // Checkout: the line items, the total and the Subscribe button; a link back to
  // cancel_url.
  void checkout_page(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto id = req.matches[1].str();
    auto* session = find_locked(id, "checkout.session");
    if (!session) return page(res, 404, "Checkout", "<p>This Checkout Session does not exist.</p>");
    if (session->at("status") != "open")
      return page(res, 410, "Checkout", "<p id=\"inactive\">This Checkout Session is no longer active.</p>");
    std::string body = "<h1>Subscribe</h1><ul>";
    for (const auto& [price, quantity] : checkouts_.at(id).items) {
      const auto& known = objects_.at(price);
      body += "<li class=\"item\"><span class=\"price\">" + html(price) + "</span>: " +
              money(known.at("unit_amount").get<std::int64_t>(), known.at("currency").get<std::string>()) +
              " per month, quantity <span class=\"quantity\">" + std::to_string(quantity) + "</span></li>";
    }
    body += "</ul><p id=\"total\">Total due today: " +
            money(session->at("amount_total").get<std::int64_t>(), session->at("currency").get<std::string>()) + "</p>";
    body += "<form method=\"post\" action=\"/c/pay/" + html(id) +
            "/complete\"><button id=\"pay\" type=\"submit\">Subscribe</button></form>";
    if (session->at("cancel_url").is_string())
      body += "<a id=\"cancel\" href=\"" + html(session->at("cancel_url").get<std::string>()) + "\">Back</a>";
    page(res, 200, "Checkout", body);
  }

  // The Subscribe button: the customer (unless the session had one), a Visa card as
  // their default, the subscription and its first invoice, paid; then
  // checkout.session.completed, customer.subscription.created, invoice.finalized and
  // invoice.paid, and 303 to success_url ({CHECKOUT_SESSION_ID} filled in).
  void complete_checkout(const httplib::Request& req, httplib::Response& res) {
    auto id = req.matches[1].str();
    std::vector<json> events;
    std::string location;
    {
      std::lock_guard lock(mu_);
      auto* session = find_locked(id, "checkout.session");
      if (!session) return page(res, 404, "Checkout", "<p>This Checkout Session does not exist.</p>");
      if (session->at("status") != "open")
        return page(res, 410, "Checkout", "<p id=\"inactive\">This Checkout Session is no longer active.</p>");
      auto& s = *session;
      if (s["customer"].is_null()) {
        auto& made = add_customer_locked(json::object());
        made["email"] = s["customer_email"].is_string() ? s["customer_email"] : json("jenny.rosen@example.com");
        s["customer"] = made["id"];
      }
      auto customer_id = s["customer"].get<std::string>();
      auto& customer = objects_.at(customer_id);
      auto& card = store_locked({{"id", random_id("pm_")},
                                 {"object", "payment_method"},
                                 {"type", "card"},
                                 {"card", {{"brand", "visa"}, {"last4", "4242"}, {"exp_month", 12},
                                           {"exp_year", 2030}}},
                                 {"billing_details", {{"email", customer["email"]}, {"name", customer["name"]}}},
                                 {"customer", customer_id},
                                 {"created", now()},
                                 {"livemode", false}});
      customer["invoice_settings"]["default_payment_method"] = card["id"];
      auto& sub = add_subscription_locked(customer_id, checkouts_.at(id), card["id"]);
      auto& invoice = add_invoice_locked(sub, "subscription_create");
      sub["latest_invoice"] = invoice["id"];
      auto finalized = invoice;  // as invoice.finalized shows it: open, before the card is charged
      pay(invoice);
      s["status"] = "complete";
      s["payment_status"] = "paid";
      s["subscription"] = sub["id"];
      s["invoice"] = invoice["id"];
      s["customer_details"] = {{"email", customer["email"]}, {"name", customer["name"]}};
      events = {event_of("checkout.session.completed", s), event_of("customer.subscription.created", sub),
                event_of("invoice.finalized", finalized), event_of("invoice.paid", invoice)};
      location = s["success_url"].get<std::string>();
      if (auto at = location.find("{CHECKOUT_SESSION_ID}"); at != std::string::npos)
        location.replace(at, std::string_view("{CHECKOUT_SESSION_ID}").size(), id);
    }
    deliver_events(events);
    res.status = 303;
    res.set_header("Location", location);
  }

  // The customer portal: the customer's subscriptions, a cancel button for the one that
  // can be canceled, a link back to return_url.
  void portal_page(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto id = req.matches[1].str();
    auto* session = find_locked(id, "billing_portal.session");
    if (!session) return page(res, 404, "Billing", "<p>This portal session does not exist.</p>");
    auto customer = session->at("customer").get<std::string>();
    std::string body = "<h1>Your subscription</h1>";
    for (const auto& entry : objects_) {
      const auto& sub = entry.second;
      if (sub.value("object", "") != "subscription" || sub.at("customer") != customer) continue;
      body += "<section class=\"subscription\" id=\"" + html(entry.first) + "\"><p class=\"status\">" +
              html(sub.at("status").get<std::string>()) + "</p>";
      for (const auto& item : sub.at("items").at("data"))
        body += "<p class=\"item\">" + html(item.at("price").at("id").get<std::string>()) + ": " +
                money(item.at("price").at("unit_amount").get<std::int64_t>(),
                      item.at("price").at("currency").get<std::string>()) +
                " per month, quantity " + std::to_string(item.at("quantity").get<std::int64_t>()) + "</p>";
      if (sub.at("cancel_at_period_end") == true)
        body += "<p class=\"cancels\">Cancels on " + date(sub.at("current_period_end").get<std::int64_t>()) + "</p>";
      body += "</section>";
    }
    if (cancelable_locked(customer))
      body += "<form method=\"post\" action=\"/p/session/" + html(id) +
              "/cancel\"><button id=\"cancel\" type=\"submit\">Cancel plan</button></form>";
    if (session->at("return_url").is_string())
      body += "<a id=\"return\" href=\"" + html(session->at("return_url").get<std::string>()) + "\">Return</a>";
    page(res, 200, "Billing", body);
  }

  // The portal's cancel button: the customer's live subscription cancels at period end
  // (customer.subscription.updated); back to the portal page.
  void portal_cancel(const httplib::Request& req, httplib::Response& res) {
    auto id = req.matches[1].str();
    std::vector<json> events;
    {
      std::lock_guard lock(mu_);
      auto* session = find_locked(id, "billing_portal.session");
      if (!session) return page(res, 404, "Billing", "<p>This portal session does not exist.</p>");
      if (auto* sub = cancelable_locked(session->at("customer").get<std::string>())) {
        auto before = *sub;
        set_cancel_at_period_end(*sub, true);
        events.push_back(event_of("customer.subscription.updated", *sub, previous_attributes(before, *sub)));
      }
    }
    deliver_events(events);
    res.status = 303;
    res.set_header("Location", url() + "/p/session/" + id);
  }

  // The customer's subscription the portal can cancel: live, not already canceling.
  json* cancelable_locked(const std::string& customer) {
    for (auto& entry : objects_) {
      auto& sub = entry.second;
      if (sub.value("object", "") != "subscription" || sub.at("customer") != customer) continue;
      auto status = sub.at("status").get<std::string>();
      auto live = status == "active" || status == "trialing" || status == "past_due";
      if (live && sub.at("cancel_at_period_end") == false) return &sub;
    }
    return nullptr;
  }

  // A hosted invoice: its number, amount and status; or its PDF.
  void invoice_page(const httplib::Request& req, httplib::Response& res, bool pdf) {
    std::lock_guard lock(mu_);
    auto* invoice = find_locked(req.matches[1].str(), "invoice");
    if (!invoice) return page(res, 404, "Invoice", "<p>This invoice does not exist.</p>");
    auto number = invoice->at("number").get<std::string>();
    if (pdf) return res.set_content("%PDF-1.4\n% Invoice " + number + "\n%%EOF\n", "application/pdf");
    page(res, 200, "Invoice " + number,
         "<h1>Invoice " + html(number) + "</h1><p id=\"amount\">" +
             money(invoice->at("total").get<std::int64_t>(), invoice->at("currency").get<std::string>()) +
             "</p><p id=\"status\">" + html(invoice->at("status").get<std::string>()) + "</p>");
  }

  static void page(httplib::Response& res, int status, const std::string& title, const std::string& body) {
    res.status = status;
    res.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html(title) +
                        "</title></head><body>" + body + "</body></html>",
                    "text/html; charset=utf-8");
  }

  // ---- small things ----

  static std::string html(std::string_view text) {
    std::string out;
    for (char c : text) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return out;
  }
  // 1500, "usd" as "15.00 USD".
  static std::string money(std::int64_t amount, const std::string& currency) {
    auto cents = std::to_string(amount % 100);
    auto upper = currency;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    return std::to_string(amount / 100) + "." + (cents.size() < 2 ? "0" : "") + cents + " " + upper;
  }
  static std::string date(std::int64_t seconds) {
    auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
    return text;
  }
  static std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (auto at = text.find(separator); at != std::string::npos; at = text.find(separator, start)) {
      parts.push_back(text.substr(start, at - start));
      start = at + 1;
    }
    parts.push_back(text.substr(start));
    return parts;
  }

  static std::int64_t now() {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  }
  // `prefix` and `length` random letters and digits, as Stripe's ids are.
  static std::string random_id(std::string_view prefix, std::size_t length = 24) {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::vector<unsigned char> raw(length);
    RAND_bytes(raw.data(), static_cast<int>(raw.size()));
    std::string out(prefix);
    for (auto byte : raw) out += kAlphabet[byte % 62];
    return out;
  }
  // A customer's invoice_prefix: 8 uppercase hex digits.
  static std::string random_prefix() {
    static constexpr char kHex[] = "0123456789ABCDEF";
    unsigned char raw[8];
    RAND_bytes(raw, sizeof raw);
    std::string out;
    for (auto byte : raw) out += kHex[byte & 15];
    return out;
  }
  static std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), mac, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += kHex[mac[i] >> 4];
      out += kHex[mac[i] & 15];
    }
    return out;
  }

  const std::string secret_key_;
  std::mutex mu_;
  std::string webhook_secret_;
  std::string webhook_endpoint_;
  std::map<std::string, json> objects_;        // every object by id: prices, customers, sessions, cards, ...
  std::map<std::string, Checkout> checkouts_;  // by Checkout Session id
  std::vector<std::string> invoice_ids_;       // in the order they were made
  std::map<std::string, Replay> idempotent_;   // by Idempotency-Key
  std::deque<Fault> faults_;                   // for the next API requests, in order
  std::vector<Request> requests_;
  std::vector<json> delivered_;
  LoopbackServer http_;  // last: serving stops before the state above goes away
};

}  // namespace hearth::test
