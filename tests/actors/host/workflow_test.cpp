// The workflow batch driven directly, one batch at a time (actors/host/workflow.h), so
// that which messages share a batch is certain: the loop's cursor never passes a message
// a retry put back to pending, whichever batch the retry runs in.
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>

#include "actors/host/host.h"
#include "actors/host/instance.h"
#include "actors/host/workflow.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {
namespace {

using actors::Json;

std::atomic<bool>& broken() {
  static std::atomic<bool> b{false};
  return b;
}

// One actor's database and workflow, with a queue that fails while broken() holds.
struct Batches {
  TempDir dir;
  actors::ActorType type{"flaky"};
  actors::Instance inst;

  Batches() {
    type.migrations = {{"flaky", {{"0001_init.sql", "CREATE TABLE done (seq INTEGER NOT NULL);"}}}};
    type.on_queue("flaky.command.do", [](actors::StepContext& ctx, const Json& body) -> Result<Json> {
      if (broken()) return Error{ErrorCode::unavailable, "broken for now"};
      auto ins = ctx.statement("INSERT INTO done(seq) VALUES(?)");
      ins->bind(1, body.at("seq").get<std::int64_t>());
      ins->exec();
      return Json::object();
    });
    actors::add_host_queues(type);
    inst.address = actors::Address{"flaky", {"one"}};
    inst.id = inst.address.id();
    inst.type = &type;
    inst.db_path = dir.path() / "flaky.db";
    inst.writer = storage::open_database(inst.db_path, {}).value();
    std::vector<storage::MigrationSet> sets{storage::embedded_migrations("host")};
    sets.insert(sets.end(), type.migrations.begin(), type.migrations.end());
    REQUIRE(storage::apply_migrations(*inst.writer, sets, "test").ok());
    actors::StepEffects effects;
    REQUIRE(actors::create_actor_record(inst, Json::object(), effects).ok());
  }

  // One batch: `sends` persisted, then every pending message run. The ids of the sends.
  std::vector<std::int64_t> batch(std::vector<std::pair<std::string, Json>> sends = {}) {
    actors::WriterBatch b;
    for (auto& [queue, body] : sends) b.enqueues.push_back(actors::EnqueueItem{queue, body.dump(), ""});
    auto r = actors::run_writer_batch(inst, std::move(b));
    REQUIRE_FALSE(r.failure);
    std::vector<std::int64_t> ids;
    for (const auto& e : r.enqueues) ids.push_back(e.message_id);
    return ids;
  }
  std::int64_t send(const Json& body) { return batch({{"flaky.command.do", body}}).at(0); }
  std::int64_t retry(std::int64_t id) { return batch({{actors::kRetryQueue, {{"message_id", id}}}}).at(0); }
  std::string status(std::int64_t id) {
    SQLite::Statement q(*inst.writer, "SELECT status FROM queue_messages WHERE id = ?");
    q.bind(1, static_cast<int64_t>(id));
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }
  std::int64_t pending() {
    return inst.writer->execAndGet("SELECT COUNT(*) FROM queue_messages WHERE status = 'pending'").getInt64();
  }
  ~Batches() { broken() = false; }
};

TEST_CASE("a retry whose message is above the cursor the batch started from still stops the cursor there") {
  Batches w;
  broken() = true;
  auto first = w.send({{"seq", 1}});
  auto second = w.send({{"seq", 2}});
  CHECK(w.status(first) == "failed");
  CHECK(w.status(second) == "failed");
  broken() = false;
  w.send({{"seq", 3}});  // the cursor moves past both failed ones
  // The first retry runs alone: the cursor goes back to `first`. The second shares the
  // next batch with `first` itself, which starts from there: `second` is above it.
  w.retry(first);
  CHECK(w.status(first) == "pending");
  w.retry(second);
  CHECK(w.status(first) == "completed");
  w.batch();
  CHECK(w.status(second) == "completed");
  CHECK(w.pending() == 0);
}

TEST_CASE("a message retried again in the batch where it failed again runs a third time") {
  Batches w;
  broken() = true;
  auto id = w.send({{"seq", 1}});
  w.send({{"seq", 2}});
  w.retry(id);  // back to pending; still broken: it fails again in the next batch,
  w.retry(id);  // ... the one this second retry runs in, after it
  CHECK(w.status(id) == "pending");
  broken() = false;
  w.batch();
  CHECK(w.status(id) == "completed");
  CHECK(w.pending() == 0);
}

}  // namespace
}  // namespace hearth::test
