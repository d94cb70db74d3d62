// Benchmark "queue": durable queue throughput to one actor against raw SQLite.
// Fire-and-forget commands from one sender, each handled by doing one small insert,
// timed until the last one is applied; compared with raw single-row insert
// transactions on the same disk, with the same journal_mode (WAL) and synchronous
// setting, in the same run. The disk's speed drifts by 2x within a minute here, so the
// two are measured in alternating rounds. Run for synchronous=FULL (the default, also
// with four concurrent senders, where group commit shows) and synchronous=NORMAL.
//
// The NORMAL breakdown says where a message's time goes: "batch alone" runs the
// workflow's own code (persist, the step in a savepoint, completion and history rows,
// commit) on this thread with no other thread involved, one message per batch (one
// commit each) and 64 per batch (what a step costs when its commit is shared); the
// queue against those is what the threads around them cost, or save. `hearth_bench_queue normal` runs only NORMAL, for profiling.
#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <thread>

#include "actors/host/host.h"
#include "actors/host/instance.h"
#include "actors/host/step_context.h"
#include "actors/host/workflow.h"
#include "bench/bench_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kFullCommands = 10'000;
constexpr int kNormalCommands = 30'000;  // NORMAL is fast: more of them for a steady figure
constexpr int kRounds = 5;

actors::ActorType sink_type() {
  actors::ActorType t{"sink"};
  t.migrations = {{"sink", {{"0001_init.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL);"}}}};
  t.on_queue("sink.command.insert", [](actors::StepContext& ctx, const actors::Json& body) -> Result<actors::Json> {
    auto ins = ctx.statement("INSERT INTO items(value) VALUES(?)");
    ins->bind(1, body.at("value").get<std::string>());
    ins->exec();
    return actors::Json::object();
  });
  t.on_action("sink.count", [](actors::ReadContext& ctx, const actors::Json&) -> Result<actors::Json> {
    return actors::Json(ctx.db.execAndGet("SELECT COUNT(*) FROM items").getInt64());
  });
  return t;
}

std::unique_ptr<SQLite::Database> open(const std::filesystem::path& path, storage::Synchronous sync) {
  storage::DbOptions options;
  options.synchronous = sync;
  auto db = storage::open_database(path, options);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(*db);
}

// Raw SQLite: single-row insert transactions on a database of its own.
class Raw {
 public:
  Raw(const std::filesystem::path& dir, storage::Synchronous sync) : db_(open(dir / "raw.db", sync)) {
    db_->exec("CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL)");
    ins_ = std::make_unique<SQLite::Statement>(*db_, "INSERT INTO items(value) VALUES(?)");
  }
  double run(int n) {  // seconds
    auto started = Clock::now();
    for (int i = 0; i < n; ++i) {
      db_->exec("BEGIN");
      ins_->bind(1, "value-" + std::to_string(next_++));
      ins_->exec();
      ins_->reset();
      db_->exec("COMMIT");
    }
    return seconds_since(started);
  }

 private:
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<SQLite::Statement> ins_;
  int next_ = 0;
};

// The workflow batch alone: one message per batch through run_writer_batch, on this
// thread, against an actor database of its own (the sink's tables and the host's).
class BatchAlone {
 public:
  BatchAlone(const std::filesystem::path& dir, storage::Synchronous sync) : type_(sink_type()) {
    inst_.address = actors::Address{"sink", {"batch"}};
    inst_.id = inst_.address.id();
    inst_.type = &type_;
    inst_.db_path = dir / "batch.db";
    inst_.db_options.synchronous = sync;
    inst_.writer = open(inst_.db_path, sync);
    std::vector<storage::MigrationSet> sets{storage::embedded_migrations("host")};
    sets.insert(sets.end(), type_.migrations.begin(), type_.migrations.end());
    if (auto st = storage::apply_migrations(*inst_.writer, sets, "bench"); !st) throw std::runtime_error(st.error().message);
    actors::StepEffects effects;
    if (auto st = actors::create_actor_record(inst_, actors::Json::object(), effects); !st)
      throw std::runtime_error(st.error().message);
  }
  double run(int n, int per_batch) {  // seconds
    auto started = Clock::now();
    for (int i = 0; i < n; i += per_batch) {
      actors::WriterBatch batch;
      for (int j = 0; j < per_batch && i + j < n; ++j) {
        actors::Json body{{"value", "value-" + std::to_string(next_++)}};
        batch.enqueues.push_back(actors::EnqueueItem{"sink.command.insert", body.dump(), ""});
      }
      if (auto r = actors::run_writer_batch(inst_, std::move(batch)); r.failure) throw std::runtime_error(r.failure->message);
    }
    return seconds_since(started);
  }

 private:
  actors::ActorType type_;
  actors::Instance inst_;
  int next_ = 0;
};

// The durable queue: fire-and-forget sends to one actor, timed until all are applied.
class Queue {
 public:
  Queue(const std::filesystem::path& dir, storage::Synchronous sync) {
    actors::HostConfig config;
    config.data_dir = dir;
    config.synchronous = sync;
    host_ = std::make_unique<actors::Host>(config);
    if (!host_->register_type(sink_type()).ok() || !host_->start().ok()) throw std::runtime_error("no host");
    if (!host_->get_or_create(sink_).ok()) throw std::runtime_error("cannot create sink");
  }
  ~Queue() { host_->shutdown(); }
  double run(int n, int senders) {  // seconds
    auto started = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t)
      threads.emplace_back([&, t] {
        for (int i = t; i < n; i += senders)
          if (!host_->send(sink_, "sink.command.insert", {{"value", "value-" + std::to_string(i)}}))
            throw std::runtime_error("send failed");
      });
    for (auto& t : threads) t.join();
    // Fire-and-forget: the clock stops when the last command has been applied.
    applied_ += n;
    while (*host_->call(sink_, "sink.count") != applied_) std::this_thread::sleep_for(std::chrono::microseconds(200));
    return seconds_since(started);
  }

 private:
  std::unique_ptr<actors::Host> host_;
  actors::Address sink_{"sink", {"bench"}};
  std::int64_t applied_ = 0;
};

struct Figures {
  double raw_per_s, queue_per_s, batch_per_s, batch64_per_s;
  double ratio() const { return queue_per_s / raw_per_s; }
};

// With `breakdown`, the batch alone is measured in the same alternating rounds.
Figures compare(const std::filesystem::path& dir, storage::Synchronous sync, int commands, int senders,
                bool breakdown) {
  std::filesystem::create_directories(dir / "batch");
  Raw raw(dir / "raw", sync);
  std::optional<BatchAlone> batch;
  if (breakdown) batch.emplace(dir / "batch", sync);
  Queue queue(dir / "queue", sync);
  double raw_s = 0, queue_s = 0, batch_s = 0, batch64_s = 0;
  for (int r = 0; r < kRounds; ++r) {
    raw_s += raw.run(commands / kRounds);
    if (batch) batch_s += batch->run(commands / kRounds, 1);
    if (batch) batch64_s += batch->run(commands / kRounds, 64);
    queue_s += queue.run(commands / kRounds, senders);
  }
  if (!batch) return {commands / raw_s, commands / queue_s, 0, 0};
  return {commands / raw_s, commands / queue_s, commands / batch_s, commands / batch64_s};
}

double round2(double x) { return std::round(x * 100) / 100; }
double us(double per_s) { return std::round(1e7 / per_s) / 10; }

void print(const char* label, const Figures& f) {
  std::printf("  %-28s: raw SQLite %7.0f tx/s, queue %7.0f msg/s, ratio %.2f; per message: raw %.1f us, queue %.1f us",
              label, f.raw_per_s, f.queue_per_s, f.ratio(), us(f.raw_per_s), us(f.queue_per_s));
  if (f.batch_per_s > 0)
    std::printf(", batch alone %.1f us (64 to a batch: %.1f us)", us(f.batch_per_s), us(f.batch64_per_s));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  bool normal_only = argc > 1 && std::strcmp(argv[1], "normal") == 0;
  ScratchDir scratch("queue");
  std::cout << "queue: fire-and-forget commands to one actor, each one insert (" << kFullCommands << " FULL, "
            << kNormalCommands << " NORMAL)\n";

  auto normal = compare(scratch.path() / "normal", storage::Synchronous::normal, kNormalCommands, 1, true);
  print("synchronous=NORMAL", normal);
  nlohmann::json figures{{"bench", "queue"},
                         {"normal_commands", kNormalCommands},
                         {"normal_queue_per_s", std::round(normal.queue_per_s)},
                         {"normal_raw_sqlite_per_s", std::round(normal.raw_per_s)},
                         {"normal_ratio", round2(normal.ratio())},
                         {"normal_us", {{"raw_tx", us(normal.raw_per_s)},
                                        {"batch_alone", us(normal.batch_per_s)},
                                        {"batch_alone_64", us(normal.batch64_per_s)},
                                        {"queue", us(normal.queue_per_s)}}}};
  if (!normal_only) {
    // FULL waits for the disk on every commit; no breakdown, to stay under a minute.
    auto full = compare(scratch.path() / "full", storage::Synchronous::full, kFullCommands, 1, false);
    auto full4 = compare(scratch.path() / "full4", storage::Synchronous::full, kFullCommands, 4, false);
    print("synchronous=FULL (default)", full);
    print("FULL, 4 concurrent senders", full4);
    figures.update({{"commands", kFullCommands},
                    {"synchronous", "full"},
                    {"queue_per_s", std::round(full.queue_per_s)},
                    {"raw_sqlite_per_s", std::round(full.raw_per_s)},
                    {"ratio", round2(full.ratio())},
                    {"queue_per_s_4_senders", std::round(full4.queue_per_s)},
                    {"ratio_4_senders", round2(full4.queue_per_s / full4.raw_per_s)}});
  }
  print_figures(figures);
}
