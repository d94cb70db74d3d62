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

  // Written by the workflow's batches and, with synchronous=NORMAL, by callers that
  // commit their own message (Host::Core::send's direct path); whoever uses it holds
  // writer_mu. Closing it (hibernation, shutdown) happens under writer_mu too and sets
  // writer_closed, so a caller that finds it closed resolves the actor again.
  std::unique_ptr<SQLite::Database> writer;
  std::mutex writer_mu;
  bool writer_closed = false;  // guarded by writer_mu
  // Guarded by writer_mu: the loop's first batch has reported the I/O jobs the last
  // process left unfinished. Callers commit directly only after that, so that those
  // reports come before any message sent since the restart.
  bool recovered = false;
  // A caller committed a message the loop has not been told of yet. Set under
  // writer_mu, where hibernation checks it: an actor never sleeps on a message.
  std::atomic<bool> accepted_unseen{false};

  // A statement on the writer connection, prepared once and reused.
  using Cached = storage::StatementCache::Lease;
  Cached statement(const std::string& sql) { return statements().get(sql); }
  // The writer's statement cache (handlers reach it through StepContext::statement).
  storage::StatementCache& statements();
  // Finalizes cached statements, then closes the writer connection. Takes writer_mu.
  void close_writer();

  std::atomic<std::int64_t> last_active_ms{0};
  std::atomic<int> reads_in_flight{0};
  std::int64_t pending_reported = 0;  // this actor's share of the pending-messages gauge
  // After an unclean stop of the last process: messages up to this id, pending when the
  // actor woke, run one per batch, each counted (attempts) in a commit of its own before
  // its step, so that one that kills the process is parked once it has done so
  // kMaxCrashedRuns times (workflow.cpp). 0: the loop runs as usual. Loop thread only.
  std::int64_t suspect_until = 0;

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
