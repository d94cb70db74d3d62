#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/test_host.h"

using namespace hearth;
using namespace std::chrono_literals;
using actors::Json;
using test::ledger;
using test::waiting;

namespace {

Json entries(actors::Host& host, const actors::Address& a) {
  auto r = host.call(a, "ledger.entries");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return *r;
}

}  // namespace

TEST_CASE("get_or_create runs on_create once with its input, strict lookups do not create") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("a");
  CHECK(*host->exists(a) == false);
  auto missing = host->call(a, "ledger.entries");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::not_found);
  auto send_missing = host->send(a, "ledger.command.append", {{"seq", 1}});
  REQUIRE_FALSE(send_missing.ok());
  CHECK(send_missing.error().code == ErrorCode::not_found);

  REQUIRE(host->get_or_create(a, {{"label", "first"}}).ok());
  REQUIRE(host->get_or_create(a, {{"label", "second"}}).ok());
  CHECK(*host->exists(a) == true);
  CHECK(entries(*host, a)["label"] == "first");
}

TEST_CASE("messages on a queue are handled one at a time in the order they were accepted") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("order");
  REQUIRE(host->get_or_create(a).ok());
  std::int64_t last_id = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = host->send(a, "ledger.command.append", {{"seq", i}});
    REQUIRE(r.ok());
    CHECK(r->message_id > last_id);
    last_id = r->message_id;
  }
  auto done = host->send(a, "ledger.command.append", {{"seq", 300}}, waiting());
  REQUIRE(done.ok());
  CHECK(done->result["count"] == 301);
  auto seqs = entries(*host, a)["seqs"];
  REQUIRE(seqs.size() == 301);
  for (int i = 0; i <= 300; ++i) CHECK(seqs[i] == i);
}

TEST_CASE("concurrent senders each get their own message applied exactly once") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("concurrent");
  REQUIRE(host->get_or_create(a).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        if (!host->send(a, "ledger.command.append", {{"seq", t * 1000 + i}}).ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", -1}}, waiting()).ok());
  auto e = entries(*host, a);
  CHECK(e["count"] == 401);
  std::set<std::int64_t> seen;
  for (auto& s : e["seqs"]) seen.insert(s.get<std::int64_t>());
  CHECK(seen.size() == 401);
}

TEST_CASE("wait returns the handler's result, and a failing handler's error with its code") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("wait");
  REQUIRE(host->get_or_create(a).ok());
  auto ok = host->send(a, "ledger.command.append", {{"seq", 7}}, waiting());
  REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
  CHECK(ok->status == actors::MessageStatus::completed);
  CHECK(ok->result["seq"] == 7);

  auto refused = host->send(a, "ledger.command.fail", {{"seq", 8}}, waiting());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::conflict);
  CHECK(refused.error().message == "ledger refuses seq 8");

  auto thrown = host->send(a, "ledger.command.throw", Json::object(), waiting());
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().code == ErrorCode::internal);
  CHECK(thrown.error().message.find("boom") != std::string::npos);
  CHECK(thrown.error().message.find("ledger.command.throw") != std::string::npos);

  // The failed steps' writes were rolled back and the loop went on.
  auto e = entries(*host, a);
  CHECK(e["seqs"] == Json::array({7}));
  CHECK(e["count"] == 1);
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 9}}, waiting()).ok());
}

TEST_CASE("a wait past its timeout fails with a clear timeout error and the message still runs") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("timeout");
  REQUIRE(host->get_or_create(a).ok());
  auto started = std::chrono::steady_clock::now();
  auto r = host->send(a, "ledger.command.sleep", {{"ms", 800}, {"seq", 1}}, waiting(200ms));
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::timeout);
  CHECK(r.error().message.find("ledger [\"test\",\"timeout\"]") != std::string::npos);
  CHECK(r.error().message.find("ledger.command.sleep") != std::string::npos);
  CHECK(took < 700ms);
  CHECK(test::eventually([&] { return entries(*host, a)["count"] == 1; }));
}

TEST_CASE("a wait longer than ten seconds is capped at ten seconds") {
  test::TempDir dir;
  auto config = test::quick_config(dir.path());
  config.max_wait = 300ms;  // the cap, shortened so that the test is quick
  test::TestHost host(dir.path(), config);
  auto a = ledger("cap");
  REQUIRE(host->get_or_create(a).ok());
  auto started = std::chrono::steady_clock::now();
  auto r = host->send(a, "ledger.command.sleep", {{"ms", 1500}}, waiting(60s));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 1400ms);
  CHECK(actors::HostConfig{}.max_wait == 10s);
}

TEST_CASE("unknown queues, actions and types, and oversized bodies are rejected at send time") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("bad");
  REQUIRE(host->get_or_create(a).ok());
  auto q = host->send(a, "ledger.command.nope", Json::object());
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().code == ErrorCode::invalid);
  CHECK(q.error().message.find("ledger.command.nope") != std::string::npos);

  auto act = host->call(a, "ledger.nope");
  REQUIRE_FALSE(act.ok());
  CHECK(act.error().code == ErrorCode::invalid);

  auto type = host->send(actors::Address{"ghost", {"x"}}, "q", Json::object());
  REQUIRE_FALSE(type.ok());
  CHECK(type.error().code == ErrorCode::not_found);

  auto big = host->send(a, "ledger.command.append", {{"seq", 1}, {"pad", std::string(1 << 20, 'x')}});
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == ErrorCode::too_large);
  CHECK(entries(*host, a)["count"] == 0);

  auto bad_key = host->send(actors::Address{"ledger", {"\xff"}}, "ledger.command.append", Json::object());
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.error().code == ErrorCode::invalid);
}

TEST_CASE("a handler that waits on its own queue is refused, not deadlocked, without wait it works") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("self");
  REQUIRE(host->get_or_create(a).ok());
  auto started = std::chrono::steady_clock::now();
  auto r = host->send(a, "ledger.command.self_wait", Json::object(), waiting());
  REQUIRE(r.ok());
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(r->result["refused"] == true);
  CHECK(r->result["code"] == "invalid");
  CHECK(r->result["message"].get<std::string>().find("deadlock") != std::string::npos);

  auto s = host->send(a, "ledger.command.self_send", {{"seq", 42}}, waiting());
  REQUIRE(s.ok());
  CHECK(test::eventually([&] { return entries(*host, a)["seqs"] == Json::array({42}); }));
}

TEST_CASE("a dedupe key makes repeated sends one message") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("dedupe");
  REQUIRE(host->get_or_create(a).ok());
  actors::SendOptions o = waiting();
  o.dedupe_key = "delivery-1";
  auto first = host->send(a, "ledger.command.append", {{"seq", 1}}, o);
  auto second = host->send(a, "ledger.command.append", {{"seq", 1}}, o);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->duplicate);
  CHECK(second->message_id == first->message_id);
  CHECK(second->result == first->result);
  CHECK(entries(*host, a)["count"] == 1);
}

TEST_CASE("broadcasts reach subscribers after commit, a failed step broadcasts nothing") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("events");
  REQUIRE(host->get_or_create(a).ok());
  auto sub = host->subscribe(a);
  auto created = ledger("events-2");
  REQUIRE(host->get_or_create(created, {{"label", "x"}}).ok());
  REQUIRE(host->send(a, "ledger.command.fail", {{"seq", 1}}).ok());
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 2}}, waiting()).ok());
  auto e = sub->next(2s);
  REQUIRE(e);
  CHECK(e->name == "ledger.entry.appended");
  CHECK(e->payload["seq"] == 2);
  CHECK(e->topic == a.id());
  CHECK_FALSE(sub->next(50ms));
  auto creation = host->subscribe(ledger("events-3"));
  REQUIRE(host->get_or_create(ledger("events-3"), {{"label", "new"}}).ok());
  auto c = creation->next(0ms);  // published before get_or_create returned
  REQUIRE(c);
  CHECK(c->name == "ledger.created");
  CHECK(c->payload["label"] == "new");
}

TEST_CASE("after-commit signals run once the step commits, and not at all when it fails") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("signals");
  REQUIRE(host->get_or_create(a).ok());
  auto before = test::ledger_signals().load();
  auto failed = host->send(a, "ledger.command.signal", {{"fail", true}}, waiting());
  REQUIRE_FALSE(failed.ok());
  CHECK(test::ledger_signals() == before);
  REQUIRE(host->send(a, "ledger.command.signal", {{"seq", 7}}, waiting()).ok());
  CHECK(test::eventually([&] { return test::ledger_signals() == before + 1; }));
  CHECK(entries(*host, a)["count"] == 1);
}

TEST_CASE("a slow subscriber never blocks the actor, it loses the oldest events and is told") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("slow-sub");
  REQUIRE(host->get_or_create(a).ok());
  auto sub = host->subscribe(a);  // never read until the end
  for (int i = 0; i < 1100; ++i) REQUIRE(host->send(a, "ledger.command.append", {{"seq", i}}).ok());
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 1100}}, waiting()).ok());
  CHECK(sub->take_lagged());
  auto first = sub->next(1s);
  REQUIRE(first);
  CHECK(first->payload["seq"].get<int>() > 0);  // the oldest were dropped
}

TEST_CASE("an idle actor hibernates and wakes on the next message with its state intact") {
  test::TempDir dir;
  auto config = test::quick_config(dir.path());
  config.hibernate_after = 50ms;
  test::TestHost host(dir.path(), config);
  auto a = ledger("sleepy");
  REQUIRE(host->get_or_create(a, {{"label", "zz"}}).ok());
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 1}}, waiting()).ok());
  CHECK(test::eventually([&] { return host->stats().active_actors == 0; }));
  auto listed = host->list_actors("ledger", "", 10, false);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);

  auto r = host->send(a, "ledger.command.append", {{"seq", 2}}, waiting());  // wakes it
  REQUIRE(r.ok());
  CHECK(r->result["count"] == 2);
  auto e = entries(*host, a);
  CHECK(e["seqs"] == Json::array({1, 2}));
  CHECK(e["label"] == "zz");
  CHECK(test::eventually([&] { return host->stats().active_actors == 0; }));
  CHECK(entries(*host, a)["count"] == 2);  // a read wakes it too
}

TEST_CASE("sends racing with hibernation are never lost") {
  test::TempDir dir;
  auto config = test::quick_config(dir.path());
  config.hibernate_after = 5ms;
  test::TestHost host(dir.path(), config);
  auto a = ledger("racy");
  REQUIRE(host->get_or_create(a).ok());
  int sent = 0;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(host->send(a, "ledger.command.append", {{"seq", i}}).ok());
    ++sent;
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(i % 20));
  }
  CHECK(test::eventually([&] { return entries(*host, a)["count"] == sent; }));
}

TEST_CASE("a thousand actors can be active at once") {
  test::TempDir dir;
  auto config = test::quick_config(dir.path());
  config.synchronous = storage::Synchronous::normal;  // the disk is not what this test is about
  test::TestHost host(dir.path(), config);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < 1000; i += 4) {
        auto a = ledger("many-" + std::to_string(i));
        if (!host->get_or_create(a).ok() || !host->send(a, "ledger.command.append", {{"seq", i}}).ok()) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(host->stats().active_actors == 1000);
  for (int i = 0; i < 1000; i += 97) {
    auto a = ledger("many-" + std::to_string(i));
    CHECK(test::eventually([&] { return entries(*host, a)["seqs"] == Json::array({i}); }));
  }
  auto listed = host->list_actors("ledger", "", 500, true);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 500);
}

TEST_CASE("a read action answers while the same actor's step is still running") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("busy");
  REQUIRE(host->get_or_create(a).ok());
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 1}}, waiting()).ok());
  // A handler that blocks inside its transaction for 1.5 s: the worst case.
  std::atomic<bool> step_done{false};
  std::thread slow([&] {
    auto r = host->send(a, "ledger.command.sleep", {{"ms", 1500}, {"seq", 2}}, waiting());
    CHECK(r.ok());
    step_done = true;
  });
  std::this_thread::sleep_for(100ms);
  int answered_during_step = 0;
  for (int i = 0; i < 10; ++i) {
    auto e = entries(*host, a);
    CHECK(e["seqs"] == Json::array({1}));  // the snapshot before the step commits
    if (!step_done) ++answered_during_step;
  }
  slow.join();
  CHECK(answered_during_step == 10);
  CHECK(entries(*host, a)["seqs"] == Json::array({1, 2}));
}

TEST_CASE("long I/O runs off the loop and reports back as a message") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("io");
  REQUIRE(host->get_or_create(a).ok());
  auto job = host->send(a, "ledger.command.start_job", {{"ms", 300}}, waiting());
  REQUIRE(job.ok());
  // The loop is free while the job runs.
  auto quick = host->send(a, "ledger.command.append", {{"seq", 1}}, waiting(1s));
  REQUIRE(quick.ok());
  auto jobs = host->call(a, "ledger.jobs");
  REQUIRE(jobs.ok());
  CHECK((*jobs)[0]["status"] == "running");
  CHECK(test::eventually([&] { return (*host->call(a, "ledger.jobs"))[0]["status"] == "done"; }));
  auto settled = (*host->call(a, "ledger.jobs"))[0]["outcome"];
  CHECK(settled["result"]["slept_ms"] == 300);
  CHECK(settled["context"]["ms"] == 300);

  REQUIRE(host->send(a, "ledger.command.start_job", {{"ms", 10}, {"fail", true}}, waiting()).ok());
  CHECK(test::eventually([&] { return (*host->call(a, "ledger.jobs"))[1]["status"] == "failed"; }));
  CHECK((*host->call(a, "ledger.jobs"))[1]["outcome"]["error"]["code"] == "conflict");
}

TEST_CASE("an I/O job cut off by shutdown reports as interrupted when the actor wakes again") {
  test::TempDir dir;
  auto a = ledger("interrupted");
  {
    test::TestHost host(dir);
    REQUIRE(host->get_or_create(a).ok());
    REQUIRE(host->send(a, "ledger.command.start_job", {{"ms", 60'000}}, waiting()).ok());
    host->shutdown(200ms);
  }
  test::TestHost host(dir);
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 1}}, waiting()).ok());  // wakes it
  CHECK(test::eventually([&] { return (*host->call(a, "ledger.jobs"))[0]["status"] == "failed"; }));
  CHECK((*host->call(a, "ledger.jobs"))[0]["outcome"]["error"]["code"] == "interrupted");
}

TEST_CASE("a send to another actor from a handler is delivered once, after the step commits") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto from = ledger("from");
  auto to = ledger("to");
  REQUIRE(host->get_or_create(from).ok());
  REQUIRE(host->get_or_create(to).ok());
  for (int i = 0; i < 20; ++i) REQUIRE(host->send(from, "ledger.command.forward", {{"to", "to"}, {"seq", i}}).ok());
  CHECK(test::eventually([&] { return entries(*host, to)["count"] == 20; }));
  std::this_thread::sleep_for(100ms);
  CHECK(entries(*host, to)["count"] == 20);
  auto summary = host->actor_summary(from);
  REQUIRE(summary.ok());
  CHECK(test::eventually([&] { return (*host->actor_summary(from))["outbox_undelivered"] == 0; }));

  // To an actor that does not exist: kept on the outbox row with the reason.
  REQUIRE(host->send(from, "ledger.command.forward", {{"to", "nobody"}, {"seq", 1}}, waiting()).ok());
  CHECK(test::eventually([&] {
    auto rows = host->table_rows(from, "outbox", 0, 10);
    return rows.ok() && rows->at("items").size() == 1 && rows->at("items")[0]["last_error"].is_string();
  }));
}

TEST_CASE("one sender's messages reach a recipient in the order its steps committed them") {
  test::TempDir dir;
  // The first delivery of seq 0 is held back; the rows after it must wait for it.
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, released = false;
  std::atomic<int> attempts{0};
  auto config = test::quick_config(dir.path());
  config.before_delivery = [&](const std::string&, const std::string&, const std::string& body) {
    ++attempts;
    if (Json::parse(body).value("seq", -1) != 0) return;
    std::unique_lock lock(mu);
    if (released) return;
    held = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  };
  test::TestHost host(dir.path(), config);
  auto from = ledger("ordered-from");
  auto to = ledger("ordered-to");
  auto other = ledger("ordered-other");
  for (const auto& a : {from, to, other}) REQUIRE(host->get_or_create(a).ok());
  REQUIRE(host->send(from, "ledger.command.forward", {{"to", "ordered-to"}, {"seqs", {0, 1, 2}}}, waiting()).ok());
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return held; }));
  }
  // Another recipient is not held up by this one.
  REQUIRE(host->send(from, "ledger.command.forward", {{"to", "ordered-other"}, {"seq", 7}}, waiting()).ok());
  CHECK(test::eventually([&] { return entries(*host, other)["count"] == 1; }));
  // Nothing after seq 0 overtakes it while it is held.
  CHECK_FALSE(test::eventually([&] { return entries(*host, to)["count"] != 0; }, 300ms));
  CHECK(attempts == 2);  // seq 0, and the other recipient's
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  CHECK(test::eventually([&] { return entries(*host, to)["count"] == 3; }));
  CHECK(entries(*host, to)["seqs"] == Json::array({0, 1, 2}));
}

TEST_CASE("messages accepted before shutdown are all applied after restart") {
  test::TempDir dir;
  auto a = ledger("drain");
  {
    test::TestHost host(dir);
    REQUIRE(host->get_or_create(a).ok());
    for (int i = 0; i < 100; ++i) REQUIRE(host->send(a, "ledger.command.sleep", {{"ms", 2}, {"seq", i}}).ok());
    host->shutdown();
    auto after = host->send(a, "ledger.command.append", {{"seq", 1}});
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::unavailable);
  }
  test::TestHost host(dir);
  CHECK(test::eventually([&] { return entries(*host, a)["count"] == 100; }));
  auto seqs = entries(*host, a)["seqs"];
  for (int i = 0; i < 100; ++i) CHECK(seqs[i] == i);
}

TEST_CASE("an actor whose migration fails is not activated, and the error names actor, file and cause") {
  test::TempDir dir;
  actors::Host host(test::quick_config(dir.path()));
  auto broken = test::make_ledger_type(host);
  broken.migrations[0].migrations.push_back({"0002_broken.sql", "ALTER TABLE nowhere ADD COLUMN x TEXT;"});
  REQUIRE(host.register_type(std::move(broken)).ok());
  REQUIRE(host.start().ok());
  auto st = host.get_or_create(ledger("broken"));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("actor ledger [\"test\",\"broken\"]") != std::string::npos);
  CHECK(st.error().message.find("ledger/0002_broken.sql") != std::string::npos);
  CHECK(st.error().message.find("no such table: nowhere") != std::string::npos);
  CHECK(host.stats().active_actors == 0);
}

TEST_CASE("a failed message retried after later ones ran runs again, once, and the loop goes on") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("retry");
  REQUIRE(host->get_or_create(a).ok());
  test::ledger_flaky_broken() = true;
  auto failed = host->send(a, "ledger.command.flaky", {{"seq", 7}}, waiting());
  REQUIRE_FALSE(failed.ok());
  auto failed_id = (*host->queue_messages(a, "failed", 0, 1))["items"][0]["id"].get<std::int64_t>();
  // Later messages run: the loop's cursor moves past the failed one.
  for (int i = 0; i < 3; ++i) REQUIRE(host->send(a, "ledger.command.append", {{"seq", i}}, waiting()).ok());
  test::ledger_flaky_broken() = false;
  REQUIRE(host->send(a, actors::kRetryQueue, {{"message_id", failed_id}}, waiting()).ok());
  REQUIRE(host->send(a, "ledger.command.append", {{"seq", 3}}, waiting()).ok());
  // The retried message ran before the one sent after the retry (the loop runs in id
  // order from its cursor, moved back by the retry).
  CHECK(entries(*host, a)["seqs"] == Json::array({0, 1, 2, 7, 3}));
  CHECK((*host->queue_messages(a, "failed", 0, 10))["items"].empty());
  CHECK((*host->queue_messages(a, "pending", 0, 10))["items"].empty());
}

TEST_CASE("the inspector shows queue messages, workflow history and table rows, paginated") {
  test::TempDir dir;
  test::TestHost host(dir);
  auto a = ledger("inspect");
  REQUIRE(host->get_or_create(a).ok());
  for (int i = 0; i < 5; ++i) REQUIRE(host->send(a, "ledger.command.append", {{"seq", i}}).ok());
  // Refused input is `rejected`; a handler that breaks is `failed` (only that is worth a retry).
  (void)host->send(a, "ledger.command.fail", {{"seq", 98}}, waiting());
  (void)host->send(a, "ledger.command.throw", {{"seq", 99}}, waiting());

  auto summary = host->actor_summary(a);
  REQUIRE(summary.ok());
  CHECK((*summary)["queue"]["failed"] == 1);
  CHECK((*summary)["queue"]["rejected"] == 1);
  CHECK((*summary)["queue"]["completed"] == 5);
  CHECK((*summary)["last_step"]["outcome"] == "failed");

  auto failed = host->queue_messages(a, "failed", 0, 10);
  REQUIRE(failed.ok());
  REQUIRE((*failed)["items"].size() == 1);
  CHECK((*failed)["items"][0]["error"]["message"].get<std::string>().find("boom") != std::string::npos);
  CHECK((*failed)["items"][0]["body"]["seq"] == 99);
  auto rejected = host->queue_messages(a, "rejected", 0, 10);
  REQUIRE(rejected.ok());
  REQUIRE((*rejected)["items"].size() == 1);
  CHECK((*rejected)["items"][0]["error"]["message"] == "ledger refuses seq 98");

  auto page1 = host->workflow_history(a, 0, 4);
  REQUIRE(page1.ok());
  CHECK((*page1)["items"].size() == 4);
  auto page2 = host->workflow_history(a, (*page1)["next_before_id"].get<std::int64_t>(), 4);
  REQUIRE(page2.ok());
  CHECK((*page2)["items"].size() == 3);

  auto rows = host->table_rows(a, "entries", 0, 3);
  REQUIRE(rows.ok());
  CHECK((*rows)["items"].size() == 3);
  CHECK((*rows)["items"][0]["seq"] == 0);
  auto bad = host->table_rows(a, "entries; DROP TABLE entries", 0, 3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::not_found);
  CHECK_FALSE(host->queue_messages(a, "bogus", 0, 10).ok());
}
