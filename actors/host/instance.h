// One active actor as the host holds it: its address, type, writer connection (used by
// one workflow batch at a time) and a small pool of read-only connections for read
// actions. Internal to actors/host; it knows nothing of CAF.
#pragma once

#include <atomic>
#include <filesystem>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/host/actor_type.h"
#include "storage/database.h"
#include "storage/statement_cache.h"

namespace SQLite {
class Statement;
}

namespace hearth::actors {

struct Instance {
  Address address;
  std::string id;
  const ActorType* type = nullptr;
  std::filesystem::path db_path;
  storage::DbOptions db_options;
  std::size_t max_payload_bytes = 1 << 20;
  std::size_t max_steps_per_batch = 64;

  // Owned by the workflow: only the one batch in flight touches it.
  std::unique_ptr<SQLite::Database> writer;

  // A statement on the writer connection, prepared once and reused.
  using Cached = storage::StatementCache::Lease;
  Cached statement(const std::string& sql) { return statements().get(sql); }
  // The writer's statement cache (handlers reach it through StepContext::statement).
  storage::StatementCache& statements();
  // Finalizes cached statements, then closes the writer connection.
  void close_writer();

  std::atomic<std::int64_t> last_active_ms{0};
  std::atomic<int> reads_in_flight{0};
  std::int64_t pending_reported = 0;  // this actor's share of the pending-messages gauge

  ~Instance();

  // A read-only connection with its prepared statements, from the pool or newly opened.
  // Give it back with release_reader.
  struct Reader {
    std::unique_ptr<SQLite::Database> db;
    std::unique_ptr<storage::StatementCache> statements;  // declared after db: finalized first
  };
  Result<std::unique_ptr<Reader>> acquire_reader();
  void release_reader(std::unique_ptr<Reader> reader);

  bool has_queue(std::string_view queue) const { return type->queues.find(queue) != type->queues.end(); }

 private:
  std::unique_ptr<storage::StatementCache> statements_;  // on `writer`
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> readers_;
};

}  // namespace hearth::actors
