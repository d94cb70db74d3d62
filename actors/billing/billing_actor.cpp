// The billing actor's handlers and reads: see billing_actor.h and docs/billing.md.
#include "actors/billing/billing_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/audit/audit_actor.h"
#include "actors/directory/directory_actor.h"
#include "actors/host/host.h"
#include "actors/host/step_context.h"
#include "storage/database.h"
#include "storage/sql.h"
#include "storage/text.h"
#include "stripe/stripe.h"

namespace hearth::actors::billing {
namespace {

constexpr std::int64_t kKeptEvents = 1000;

std::int64_t now_ms() { return storage::now_ms(); }
std::int64_t now_s() { return storage::now_ms() / 1000; }

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}
std::int64_t integer(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : 0;
}

const char* kStateColumns =
    "org_id, customer_id, subscription_id, status, plan, price_id, seats, cancel_at_period_end, current_period_end, "
    "trial_end, past_due_since, subscription_at, payment_method_id, payment_method";

std::string org_of(SQLite::Database& db) { return db.execAndGet("SELECT org_id FROM billing").getString(); }

State load(SQLite::Database& db, std::string* payment_method_id = nullptr) {
  SQLite::Statement q(db, std::string("SELECT ") + kStateColumns + " FROM billing");
  State s;
  if (!q.executeStep()) return s;
  s.customer_id = q.getColumn(1).isNull() ? "" : q.getColumn(1).getString();
  s.subscription_id = q.getColumn(2).isNull() ? "" : q.getColumn(2).getString();
  s.status = q.getColumn(3).getString();
  s.plan = q.getColumn(4).getString();
  s.price_id = q.getColumn(5).isNull() ? "" : q.getColumn(5).getString();
  s.seats = q.getColumn(6).getInt64();
  s.cancel_at_period_end = q.getColumn(7).getInt() != 0;
  s.current_period_end = q.getColumn(8).getInt64();
  s.trial_end = q.getColumn(9).getInt64();
  s.past_due_since = q.getColumn(10).getInt64();
  s.subscription_at = q.getColumn(11).getInt64();
  if (payment_method_id) *payment_method_id = q.getColumn(12).isNull() ? "" : q.getColumn(12).getString();
  s.payment_method = q.getColumn(13).isNull() ? "" : q.getColumn(13).getString();
  SQLite::Statement t(db, "SELECT count FROM turns WHERE month = ?");
  t.bind(1, month_of(now_s()));
  if (t.executeStep()) s.turns_this_month = t.getColumn(0).getInt64();
  return s;
}

void save(StepContext& ctx, const State& s) {
  auto up = ctx.statement(
      "UPDATE billing SET customer_id = ?, subscription_id = ?, status = ?, plan = ?, price_id = ?, seats = ?, "
      "cancel_at_period_end = ?, current_period_end = ?, trial_end = ?, past_due_since = ?, subscription_at = ?, "
      "payment_method = ?, updated_at = ?");
  auto opt = [](const std::string& v) { return v.empty() ? std::optional<std::string>() : std::optional<std::string>(v); };
  sql::bind_all(*up, opt(s.customer_id), opt(s.subscription_id), s.status, s.plan, opt(s.price_id), s.seats,
                s.cancel_at_period_end ? 1 : 0, s.current_period_end, s.trial_end, s.past_due_since, s.subscription_at,
                opt(s.payment_method), now_ms());
  up->exec();
}

Json state_json(const State& s, const BillingConfig& config) {
  const Plan* plan = plan_named(config.plans, s.plan);
  if (!plan) plan = plan_named(config.plans, "free");
  auto seconds_or_null = [](std::int64_t t) { return t > 0 ? Json(t) : Json(nullptr); };
  Json out{{"plan", plan ? plan_json(*plan, s.seats) : Json(nullptr)},
           {"status", s.status},
           {"customer_id", s.customer_id.empty() ? Json(nullptr) : Json(s.customer_id)},
           {"subscription_id", s.subscription_id.empty() ? Json(nullptr) : Json(s.subscription_id)},
           {"seats", s.seats},
           {"cancel_at_period_end", s.cancel_at_period_end},
           {"current_period_end", seconds_or_null(s.current_period_end)},
           {"trial_end", seconds_or_null(s.trial_end)},
           {"payment_method", s.payment_method.empty() ? Json(nullptr) : Json(s.payment_method)},
           {"past_due_since", seconds_or_null(s.past_due_since)},
           {"grace_ends_at", s.past_due_since > 0 ? Json(s.past_due_since + config.past_due_grace.count()) : Json(nullptr)},
           {"turns_this_month", s.turns_this_month},
           {"month", month_of(now_s())}};
  return out;
}

Status create(StepContext& ctx, const Json& in) {
  auto ins = ctx.statement("INSERT INTO billing(id, org_id, updated_at) VALUES(1, ?, ?)");
  sql::bind_all(*ins, in.at("org_id").get<std::string>(), now_ms());
  ins->exec();
  return {};
}

Status audit_entry(StepContext& ctx, const std::string& kind, const std::string& by, const std::string& outcome,
                   Json detail) {
  auto org = org_of(ctx.db());
  if (org == kServer) return {};
  Json entry{{"at", now_ms()}, {"user_id", nullptr},     {"username", by},         {"kind", kind},
             {"target", ctx.address().display()},          {"outcome", outcome},    {"detail", std::move(detail)}};
  return ctx.create(audit::address(org), Json::object(), Json::array({{{"queue", audit::kAppend}, {"body", entry}}}));
}

// The customer, once known, routes Stripe's events about it here (directory).
Status link_customer(StepContext& ctx, const std::string& before, const std::string& after) {
  if (after.empty() || after == before) return {};
  return ctx.send(directory::kAddress, directory::kLinkCustomer, {{"customer_id", after}, {"org_id", org_of(ctx.db())}});
}

void announce(StepContext& ctx, const BillingConfig& config) {
  ctx.broadcast("billing_changed", state_json(load(ctx.db()), config));
}

// The payment method's label, read from Stripe off the loop, when its id is new.
Status read_payment_method(StepContext& ctx, const BillingConfig& config, const std::string& id) {
  if (id.empty() || !config.client) return {};
  std::string known;
  load(ctx.db(), &known);
  if (known == id) return {};
  auto up = ctx.statement("UPDATE billing SET payment_method_id = ?");
  sql::bind_all(*up, id);
  up->exec();
  auto client = config.client;
  auto job = ctx.spawn_io("stripe payment method", kPaymentMethod, {{"id", id}},
                          [client, id](std::stop_token stop) { return client->get("/v1/payment_methods/" + id, {}, stop); });
  if (!job) return job.error();
  return {};
}

// The subscription as Stripe has it now, read off the loop (kSubscriptionRead): reads are
// numbered, and one answers only when no later one has.
Status read_subscription(StepContext& ctx, const BillingConfig& config, const std::string& id) {
  if (id.empty() || !config.client) return {};
  ctx.db().exec("UPDATE billing SET reads_started = reads_started + 1");
  auto seq = ctx.db().execAndGet("SELECT reads_started FROM billing").getInt64();
  auto client = config.client;
  auto job = ctx.spawn_io("stripe subscription", kSubscriptionRead, {{"seq", seq}, {"subscription", id}},
                          [client, id](std::stop_token stop) { return client->get("/v1/subscriptions/" + id, {}, stop); });
  if (!job) return job.error();
  return {};
}

void record_event(StepContext& ctx, const Json& event, const std::string& org, const std::string& outcome,
                  const std::string& detail) {
  auto ins = ctx.statement(
      "INSERT OR IGNORE INTO events(event_id, type, org_id, created, outcome, detail, received_at) VALUES(?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(*ins, text(event, "id"), text(event, "type"), org, integer(event, "created"), outcome,
                detail.empty() ? std::optional<std::string>() : std::optional<std::string>(detail), now_ms());
  ins->exec();
  auto trim = ctx.statement(
      "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events ORDER BY received_at DESC LIMIT -1 OFFSET ?)");
  sql::bind_all(*trim, kKeptEvents);
  trim->exec();
}

struct Outcome {
  std::string outcome, detail;
};

Result<Outcome> apply_event(StepContext& ctx, const BillingConfig& config, const Json& event) {
  auto type = text(event, "type");
  auto created = integer(event, "created");
  const Json object = event.contains("data") && event["data"].is_object() ? event["data"].value("object", Json()) : Json();
  if (!object.is_object()) return Outcome{"ignored", "the event carries no object"};
  auto state = load(ctx.db());
  // Only this organization's customer speaks for it.
  auto customer = type.starts_with("customer.") && !type.starts_with("customer.subscription.") ? text(object, "id")
                                                                                              : text(object, "customer");
  if (!state.customer_id.empty() && !customer.empty() && customer != state.customer_id)
    return Outcome{"ignored", "the event is about customer " + customer + ", not this organization's"};
  if (type == "checkout.session.completed") {
    if (state.customer_id.empty() && !customer.empty()) {
      state.customer_id = customer;
      save(ctx, state);
      if (auto st = link_customer(ctx, "", customer); !st) return st.error();
    }
    if (auto st = audit_entry(ctx, "billing.checkout.completed", "Stripe", "ok",
                              {{"checkout_session", text(object, "id")}, {"subscription", text(object, "subscription")}});
        !st)
      return st.error();
    return Outcome{"applied", ""};
  }
  if (type == "customer.subscription.created" || type == "customer.subscription.updated" ||
      type == "customer.subscription.deleted") {
    auto sub = subscription_from(object, config.plans);
    auto before = state;
    bool deleted = type == "customer.subscription.deleted";
    auto applied = deleted ? apply_deleted(state, sub.id, created)
                           : apply_subscription(state, sub, created, now_s(), config.plans);
    // Stripe's times are seconds: what it says now settles events of the same second.
    if (!deleted && applied != Applied::other)
      if (auto st = read_subscription(ctx, config, sub.id); !st) return st.error();
    if (applied == Applied::stale) return Outcome{"stale", "older than the subscription state applied"};
    if (applied == Applied::ended) return Outcome{"stale", "the subscription was canceled already"};
    if (applied == Applied::other)
      return Outcome{"ignored", "another subscription than the organization's (" + state.subscription_id + ")"};
    save(ctx, state);
    if (auto st = link_customer(ctx, before.customer_id, state.customer_id); !st) return st.error();
    if (auto st = read_payment_method(ctx, config, sub.payment_method); !st) return st.error();
    Json detail{{"subscription", sub.id}, {"status", state.status}, {"plan", state.plan}, {"seats", state.seats}};
    if (before.plan != state.plan) detail["plan_before"] = before.plan;
    if (auto st = audit_entry(ctx, "billing." + type.substr(std::string("customer.").size()), "Stripe", "ok", detail); !st)
      return st.error();
    return Outcome{"applied", ""};
  }
  if (type == "customer.subscription.trial_will_end") {
    if (auto st = audit_entry(ctx, "billing.subscription.trial_will_end", "Stripe", "ok",
                              {{"subscription", text(object, "id")}, {"trial_end", integer(object, "trial_end")}});
        !st)
      return st.error();
    return Outcome{"applied", ""};
  }
  if (type == "invoice.paid" || type == "invoice.payment_failed" || type == "invoice.finalized") {
    auto id = text(object, "id");
    if (id.empty()) return Outcome{"ignored", "the invoice has no id"};
    auto amount = object.contains("amount_due") ? integer(object, "amount_due") : integer(object, "total");
    if (type == "invoice.paid" && object.contains("amount_paid")) amount = integer(object, "amount_paid");
    auto up = ctx.statement(
        "INSERT INTO invoices(invoice_id, number, amount, currency, status, hosted_url, created, event_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(invoice_id) DO UPDATE SET number = ?2, amount = ?3, "
        "currency = ?4, status = CASE WHEN invoices.status IN ('paid', 'void') THEN invoices.status ELSE ?5 END, "
        "hosted_url = ?6, created = ?7, event_at = ?8 WHERE excluded.event_at >= invoices.event_at");
    auto status = text(object, "status");
    if (type == "invoice.paid") status = "paid";  // whatever a late snapshot says
    sql::bind_all(*up, id, text(object, "number"), amount, text(object, "currency"), status.empty() ? "open" : status,
                  text(object, "hosted_invoice_url"), integer(object, "created"), created);
    if (up->exec() == 0) return Outcome{"stale", "older than the invoice's state applied"};
    if (auto st = audit_entry(ctx, "billing." + type, "Stripe", "ok",
                              {{"invoice", id}, {"number", text(object, "number")}, {"amount", amount},
                               {"currency", text(object, "currency")}});
        !st)
      return st.error();
    return Outcome{"applied", ""};
  }
  if (type == "customer.updated") {
    const Json settings = object.contains("invoice_settings") ? object["invoice_settings"] : Json();
    auto pm = text(settings, "default_payment_method");
    if (auto st = read_payment_method(ctx, config, pm); !st) return st.error();
    if (auto st = audit_entry(ctx, "billing.customer.updated", "Stripe", "ok", {{"payment_method", pm}}); !st)
      return st.error();
    return Outcome{"applied", ""};
  }
  return Outcome{"ignored", "Hearth does not act on " + type};
}

Result<Json> on_event(const std::shared_ptr<const BillingConfig>& config, StepContext& ctx, const Json& b) {
  const auto& event = b.at("event");
  auto id = text(event, "id");
  auto org = org_of(ctx.db());
  {
    auto seen = ctx.statement("SELECT outcome FROM events WHERE event_id = ?");
    sql::bind_all(*seen, id);
    if (seen->executeStep()) return Json{{"event_id", id}, {"outcome", "duplicate"}};
  }
  if (org == kServer) {
    // A note of another organization's outcome, or an event nobody claims.
    auto outcome = b.value("outcome", std::string("no organization"));
    record_event(ctx, event, b.value("org_id", std::string()), outcome, b.value("detail", std::string()));
    return Json{{"event_id", id}, {"outcome", outcome}};
  }
  auto applied = apply_event(ctx, *config, event);
  if (!applied) return applied.error();
  record_event(ctx, event, org, applied->outcome, applied->detail);
  if (applied->outcome == "applied") announce(ctx, *config);
  // Applied events are audited by kind as they apply; the others say why they changed nothing.
  else if (auto st = audit_entry(ctx, "billing.event", "Stripe", applied->outcome,
                                 {{"event_id", id}, {"type", text(event, "type")}, {"detail", applied->detail}});
           !st)
    return st.error();
  spdlog::info("billing.event id={} type={} org={} outcome={}", id, text(event, "type"), org, applied->outcome);
  Json note{{"event", {{"id", id}, {"type", text(event, "type")}, {"created", integer(event, "created")}}},
            {"org_id", org}, {"outcome", applied->outcome}, {"detail", applied->detail}};
  if (auto st = ctx.create(address(kServer), {{"org_id", kServer}}, Json::array({{{"queue", kEvent}, {"body", note}}})); !st)
    return st.error();
  return Json{{"event_id", id}, {"outcome", applied->outcome}, {"detail", applied->detail}};
}

Result<Json> on_customer(const std::shared_ptr<const BillingConfig>& config, StepContext& ctx, const Json& b) {
  auto state = load(ctx.db());
  auto customer = b.at("customer_id").get<std::string>();
  if (!state.customer_id.empty() && state.customer_id != customer)
    return Error{ErrorCode::conflict, "the organization has Stripe customer " + state.customer_id + " already"};
  if (state.customer_id.empty()) {
    state.customer_id = customer;
    save(ctx, state);
    if (auto st = audit_entry(ctx, "billing.customer.created", b.value("by", std::string()), "ok", {{"customer", customer}});
        !st)
      return st.error();
    announce(ctx, *config);
  }
  return state_json(state, *config);
}

// Applies what Stripe answered (after Hearth changed the subscription, or a read an
// event started), as Stripe's state now: never another subscription than the recorded one.
Status apply_read(StepContext& ctx, const BillingConfig& config, const Json& object) {
  auto state = load(ctx.db());
  auto sub = subscription_from(object, config.plans);
  if (sub.id.empty() || sub.id != state.subscription_id)
    return Error{ErrorCode::conflict, "Stripe answered with another subscription than the organization's"};
  if (apply_subscription(state, sub, std::nullopt, now_s(), config.plans) != Applied::applied) return {};
  save(ctx, state);
  if (auto st = read_payment_method(ctx, config, sub.payment_method); !st) return st.error();
  announce(ctx, config);
  return {};
}

Result<Json> on_subscription(const std::shared_ptr<const BillingConfig>& config, StepContext& ctx, const Json& b) {
  if (auto st = apply_read(ctx, *config, b.at("subscription")); !st) return st.error();
  if (b.contains("change"))
    if (auto st = audit_entry(ctx, "billing." + b["change"].get<std::string>(), b.value("by", std::string()), "ok",
                              {{"subscription", load(ctx.db()).subscription_id}}); !st)
      return st.error();
  return state_json(load(ctx.db()), *config);
}

Result<Json> on_subscription_read(const std::shared_ptr<const BillingConfig>& config, StepContext& ctx, const Json& b) {
  auto seq = b["context"].value("seq", std::int64_t{0});
  if (seq <= ctx.db().execAndGet("SELECT reads_applied FROM billing").getInt64())
    return Json{{"ignored", "a later read answered first"}};
  ctx.db().exec("UPDATE billing SET reads_applied = " + std::to_string(seq));
  if (!b.value("ok", false)) {
    // A subscription Stripe does not know (a test's), or Stripe away: the events stand.
    spdlog::info("billing.subscription_unread actor={} error=\"{}\"", ctx.address().display(),
                 error_from_json(b["error"]).message);
    return Json{{"read", false}};
  }
  if (!b["result"].is_object()) return Json{{"read", false}};
  if (auto st = apply_read(ctx, *config, b["result"]); !st) return Json{{"read", false}, {"why", st.error().message}};
  return Json{{"read", true}};
}

Result<Json> on_payment_method(const std::shared_ptr<const BillingConfig>& config, StepContext& ctx, const Json& b) {
  if (!b.value("ok", false)) {
    spdlog::warn("billing.payment_method_unread actor={} error=\"{}\"", ctx.address().display(),
                 error_from_json(b["error"]).message);
    return Json{{"label", nullptr}};
  }
  auto label = payment_method_label(b["result"]);
  std::string current_id;
  auto state = load(ctx.db(), &current_id);
  if (text(b["result"], "id") != current_id) return Json{{"ignored", "another payment method is the default now"}};
  state.payment_method = label;
  save(ctx, state);
  announce(ctx, *config);
  return Json{{"label", label}};
}

Result<Json> on_turn(StepContext& ctx, const Json& b) {
  auto state = load(ctx.db());
  auto up = ctx.statement("INSERT INTO turns(month, count) VALUES(?, 1) ON CONFLICT(month) DO UPDATE SET count = count + 1");
  sql::bind_all(*up, month_of(now_s()));
  up->exec();
  (void)b;
  return Json{{"turns_this_month", state.turns_this_month + 1}};
}

Result<Json> get(const std::shared_ptr<const BillingConfig>& config, ReadContext& ctx, const Json&) {
  return state_json(load(ctx.db), *config);
}

Result<Json> invoices(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", 50), 1, 200);
  SQLite::Statement q(ctx.db,
                      "SELECT invoice_id, number, amount, currency, status, hosted_url, created FROM invoices "
                      "ORDER BY created DESC, invoice_id LIMIT ?");
  q.bind(1, limit);
  Json items = Json::array();
  while (q.executeStep())
    items.push_back({{"invoice_id", q.getColumn(0).getString()}, {"number", sql::text_or_null(q.getColumn(1))},
                     {"amount", q.getColumn(2).getInt64()}, {"currency", q.getColumn(3).getString()},
                     {"status", q.getColumn(4).getString()}, {"hosted_url", sql::text_or_null(q.getColumn(5))},
                     {"created", q.getColumn(6).getInt64()}});
  return Json{{"items", items}};
}

Result<Json> events(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", 50), 1, 500);
  SQLite::Statement q(ctx.db,
                      "SELECT event_id, type, org_id, created, outcome, detail, received_at FROM events "
                      "ORDER BY received_at DESC, rowid DESC LIMIT ?");
  q.bind(1, limit);
  Json items = Json::array();
  while (q.executeStep())
    items.push_back({{"event_id", q.getColumn(0).getString()}, {"type", q.getColumn(1).getString()},
                     {"org_id", sql::text_or_null(q.getColumn(2))}, {"created", q.getColumn(3).getInt64()},
                     {"outcome", q.getColumn(4).getString()}, {"detail", sql::text_or_null(q.getColumn(5))},
                     {"received_at", q.getColumn(6).getInt64()}});
  return Json{{"items", items}};
}

}  // namespace

State state_from(const Json& j) {
  State s;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number_integer() ? j[k].get<std::int64_t>() : 0; };
  s.customer_id = str("customer_id");
  s.subscription_id = str("subscription_id");
  s.status = str("status");
  s.plan = j.contains("plan") && j["plan"].is_object() ? j["plan"].value("name", std::string("free")) : "free";
  s.seats = num("seats");
  s.cancel_at_period_end = j.value("cancel_at_period_end", false);
  s.current_period_end = num("current_period_end");
  s.trial_end = num("trial_end");
  s.past_due_since = num("past_due_since");
  s.turns_this_month = num("turns_this_month");
  s.payment_method = str("payment_method");
  return s;
}

ActorType make_type(std::shared_ptr<const BillingConfig> config) {
  ActorType t{"billing"};
  t.on_create = create;
  t.on_queue(kEvent, [config](StepContext& ctx, const Json& b) { return on_event(config, ctx, b); })
      .on_queue(kCustomer, [config](StepContext& ctx, const Json& b) { return on_customer(config, ctx, b); })
      .on_queue(kSubscription, [config](StepContext& ctx, const Json& b) { return on_subscription(config, ctx, b); })
      .on_queue(kPaymentMethod, [config](StepContext& ctx, const Json& b) { return on_payment_method(config, ctx, b); })
      .on_queue(kSubscriptionRead,
                [config](StepContext& ctx, const Json& b) { return on_subscription_read(config, ctx, b); })
      .on_queue(kTurn, on_turn)
      .on_action(kGet, [config](ReadContext& ctx, const Json& a) { return get(config, ctx, a); })
      .on_action(kInvoices, invoices)
      .on_action(kEvents, events);
  return t;
}

Status register_type(Host& host, std::shared_ptr<const BillingConfig> config) {
  if (!config) config = std::make_shared<BillingConfig>(BillingConfig{*load_plans("", ""), {}, "", {}, nullptr});
  return host.register_type(make_type(std::move(config)));
}

}  // namespace hearth::actors::billing
