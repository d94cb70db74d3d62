// Benchmark "queue": durable queue throughput to one actor against raw SQLite.
// 10,000 fire-and-forget commands from one sender, each handled by doing one small
// insert, timed until the last one is applied; compared with 10,000 raw single-row
// insert transactions on the same disk, with the same journal_mode (WAL) and
// synchronous setting, in the same run. The disk's speed drifts by 2x within a minute
// here, so the two are measured in alternating rounds of 2,000. Repeated for
// synchronous=normal, and with four concurrent senders (where group commit shows).
#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "actors/host/host.h"
#include "actors/host/step_context.h"
#include "bench/bench_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kCommands = 10'000;
constexpr int kRounds = 5;

actors::ActorType sink_type() {
  actors::ActorType t{"sink"};
  t.migrations = {{"sink", {{"0001_init.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL);"}}}};
  t.on_queue("sink.command.insert", [](actors::StepContext& ctx, const actors::Json& body) -> Result<actors::Json> {
    SQLite::Statement ins(ctx.db(), "INSERT INTO items(value) VALUES(?)");
    ins.bind(1, body.at("value").get<std::string>());
    ins.exec();
    return actors::Json::object();
  });
  t.on_action("sink.count", [](actors::ReadContext& ctx, const actors::Json&) -> Result<actors::Json> {
    return actors::Json(ctx.db.execAndGet("SELECT COUNT(*) FROM items").getInt64());
  });
  return t;
}

// Raw SQLite: single-row insert transactions on a database of its own.
class Raw {
 public:
  Raw(const std::filesystem::path& dir, storage::Synchronous sync) {
    storage::DbOptions options;
    options.synchronous = sync;
    auto db = storage::open_database(dir / "raw.db", options);
    if (!db) throw std::runtime_error(db.error().message);
    db_ = std::move(*db);
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

struct Pair {
  double raw_per_s, queue_per_s;
};

Pair compare(const std::filesystem::path& dir, storage::Synchronous sync, int senders) {
  Raw raw(dir / "raw", sync);
  Queue queue(dir / "queue", sync);
  double raw_s = 0, queue_s = 0;
  for (int r = 0; r < kRounds; ++r) {
    raw_s += raw.run(kCommands / kRounds);
    queue_s += queue.run(kCommands / kRounds, senders);
  }
  return {kCommands / raw_s, kCommands / queue_s};
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  ScratchDir scratch("queue");
  std::cout << "queue: " << kCommands << " fire-and-forget commands to one actor, each one insert\n";

  auto full = compare(scratch.path() / "full", storage::Synchronous::full, 1);
  auto full4 = compare(scratch.path() / "full4", storage::Synchronous::full, 4);
  auto normal = compare(scratch.path() / "normal", storage::Synchronous::normal, 1);
  auto raw_full = full.raw_per_s, queue_full = full.queue_per_s;
  auto queue_full_4 = full4.queue_per_s;
  auto raw_normal = normal.raw_per_s, queue_normal = normal.queue_per_s;

  std::printf("  synchronous=FULL (default): raw SQLite %7.0f tx/s, queue %7.0f msg/s, ratio %.2f\n", raw_full,
              queue_full, queue_full / raw_full);
  std::printf("  FULL, 4 concurrent senders: raw SQLite %7.0f tx/s, queue %7.0f msg/s, ratio %.2f\n",
              full4.raw_per_s, queue_full_4, queue_full_4 / full4.raw_per_s);
  std::printf("  synchronous=NORMAL        : raw SQLite %7.0f tx/s, queue %7.0f msg/s, ratio %.2f\n", raw_normal,
              queue_normal, queue_normal / raw_normal);
  print_figures({{"bench", "queue"},
                 {"commands", kCommands},
                 {"synchronous", "full"},
                 {"queue_per_s", std::round(queue_full)},
                 {"raw_sqlite_per_s", std::round(raw_full)},
                 {"ratio", std::round(queue_full / raw_full * 100) / 100},
                 {"queue_per_s_4_senders", std::round(queue_full_4)},
                 {"ratio_4_senders", std::round(queue_full_4 / full4.raw_per_s * 100) / 100},
                 {"normal_queue_per_s", std::round(queue_normal)},
                 {"normal_raw_sqlite_per_s", std::round(raw_normal)},
                 {"normal_ratio", std::round(queue_normal / raw_normal * 100) / 100}});
}
