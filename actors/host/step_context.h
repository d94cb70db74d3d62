// The context a queue handler runs in: one workflow step of one actor. Everything it
// writes through db() commits in the same SQLite transaction that marks the message
// complete; everything it announces (broadcasts, sends to other actors, long I/O)
// happens only after that commit, and not at all if the handler fails.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "actors/host/address.h"
#include "storage/statement_cache.h"

namespace SQLite {
class Database;
}

namespace hearth::actors {

// The outbox's name for "create this actor, then send it these" (StepContext::create).
inline constexpr const char* kCreateQueue = "host.create";

// Long external work (an agent turn, a git push, an HTTP call). It runs on the host's
// I/O pool, never on the workflow loop; it should return soon after `stop` is requested.
using IoWork = std::function<Result<Json>(std::stop_token stop)>;

struct StepEffects {
  struct Broadcast {
    std::string name;
    Json payload;
  };
  struct IoJob {
    std::int64_t id;
    std::string name;
    std::string result_queue;
    Json context;
    IoWork work;
  };
  struct Outgoing {
    std::int64_t id;  // outbox row
    Address to;
    std::string queue;
    std::string body_json;
    std::string dedupe_key;
  };
  std::vector<Broadcast> broadcasts;
  std::vector<IoJob> io_jobs;
  std::vector<Outgoing> outbox;
  std::vector<std::function<void()>> after_commit;
  bool self_sent = false;
  // The lowest id of a message a step put back to pending (a retry): the loop's cursor
  // moves no further than it (migrations/host/0004_queue_cursor.sql).
  std::optional<std::int64_t> rewind_to;
};

class StepContext {
 public:
  // Queues a handler may name (its own type's); used to validate send_self and
  // spawn_io result queues at the point of the mistake.
  using QueueCheck = std::function<bool(std::string_view)>;

  StepContext(const Address& address, storage::StatementCache& statements, std::int64_t message_id,
              std::string queue, QueueCheck has_queue, std::size_t max_payload_bytes);

  const Address& address() const { return address_; }
  // The actor's database, inside this step's transaction.
  SQLite::Database& db() { return db_; }
  // A statement on db(), prepared once per connection and reused (reset, bindings
  // cleared, when the lease ends): use it for the statements a handler runs per message.
  // Preparing costs more than running a small insert. Hold one lease per SQL text at a time.
  storage::StatementCache::Lease statement(const std::string& sql) { return statements_.get(sql); }
  // The cache itself, for code that runs a handler's statements on its behalf (an
  // actor's store functions).
  storage::StatementCache& statements() { return statements_; }
  // The message being handled (0 while running on_create).
  std::int64_t message_id() const { return message_id_; }
  const std::string& queue() const { return queue_; }

  // Publishes `name` with `payload` on this actor's topic once the step commits.
  void broadcast(std::string name, Json payload);

  // Appends a message to this actor's own queue, committed with this step; it runs
  // after every message already queued. Returns its message id.
  Result<std::int64_t> send_self(std::string_view queue, const Json& body);

  // Sends to another actor once this step commits, exactly once: the message goes into
  // this actor's outbox in the step's transaction and is delivered with a dedupe key,
  // again after a crash if need be. Failures to deliver are kept on the outbox row.
  // With `dedupe_key`, that key is used instead of one naming the outbox row, so that
  // another sender of the same message (the HTTP edge waiting for it) makes it one.
  Status send(const Address& to, std::string_view queue, const Json& body, std::string dedupe_key = {});

  // Creates the actor at `to` once this step commits (its type's on_create with
  // `input`; nothing when it exists already), exactly once like send, and then sends it
  // each of `then` ({"queue", "body"}) in order. The way one actor brings another into
  // being: a task its sandbox and sessions, an organization its tasks.
  Status create(const Address& to, const Json& input, const Json& then = Json::array());

  // Starts `work` off the loop once the step commits. Its outcome arrives on this
  // actor's `result_queue` as {"job_id", "name", "context", "ok", "result" | "error"}.
  // If the process dies before it finishes, that message still arrives when the actor
  // wakes, with ok=false and error.code "interrupted". Returns the job id.
  Result<std::int64_t> spawn_io(std::string name, std::string_view result_queue, const Json& context,
                                IoWork work);

  // Runs `signal` on the actor's thread once the step commits (not at all if it fails):
  // for in-process signals to long work this actor started, such as telling a running
  // agent turn that a person answered it. It must be quick and must not block.
  void after_commit(std::function<void()> signal);

  // The context of the step running on this thread, or nullptr.
  static StepContext* current();

  StepEffects& effects() { return effects_; }

 private:
  friend class CurrentStep;
  const Address& address_;
  storage::StatementCache& statements_;
  SQLite::Database& db_;
  std::int64_t message_id_;
  std::string queue_;
  QueueCheck has_queue_;
  std::size_t max_payload_bytes_;
  StepEffects effects_;
};

// Marks `ctx` as the step running on this thread for its lifetime.
class CurrentStep {
 public:
  explicit CurrentStep(StepContext& ctx);
  ~CurrentStep();

 private:
  StepContext* previous_;
};

}  // namespace hearth::actors
