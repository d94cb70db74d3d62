// The workflow batch: the only code that writes an actor's database. One batch is one
// SQLite transaction that (1) persists newly sent messages, (2) applies finished
// outbox deliveries, and (3) runs pending messages through their handlers, in order,
// each inside a savepoint, marking each completed or failed in the same transaction.
// Nothing a handler announces leaves the batch until the commit succeeded. Running
// several steps per commit (group commit) is what makes durable queues cheap.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "actors/host/instance.h"
#include "actors/host/message_status.h"
#include "actors/host/step_context.h"

namespace hearth::actors {

struct EnqueueItem {
  std::string queue;
  std::string body_json;
  std::string dedupe_key;     // empty: none
  std::int64_t io_job_id = 0;  // set: this message reports that I/O job's outcome

  // Filled in by the batch.
  std::int64_t message_id = 0;
  bool duplicate = false;          // the dedupe key was already used; fields below describe it
  bool dropped = false;            // an I/O result whose job was already settled
  MessageStatus status = MessageStatus::pending;  // of the (possibly earlier) message
  Json result;
  std::optional<Error> error;
};

struct StepOutcome {
  std::int64_t message_id = 0;
  std::string queue;
  bool ok = false;
  Json result;
  Error error;
};

// How many times a message may be running when the process dies (after the first such
// death, each counted) before it is parked as failed: a poison message stops no actor.
inline constexpr int kMaxCrashedRuns = 3;

struct WriterBatch {
  std::vector<EnqueueItem> enqueues;
  std::vector<std::int64_t> outbox_delivered;
  std::vector<std::pair<std::int64_t, std::string>> outbox_failed;  // row, reason
  bool recover = false;    // first batch after activation: settle interrupted I/O, reload outbox
  bool run_steps = true;
  std::chrono::microseconds budget{20'000};  // stop starting steps after this long
};

struct WriterResult {
  std::optional<Error> failure;  // set: the whole batch rolled back
  std::vector<EnqueueItem> enqueues;
  std::vector<StepOutcome> outcomes;
  StepEffects effects;  // of the committed steps, in order
  bool more_pending = false;
};

WriterResult run_writer_batch(Instance& inst, WriterBatch batch);

// Commits `item` as a new pending message in a transaction of its own (or, with a
// dedupe key already used, fills `item` in from the earlier message), on the caller's
// thread. The caller holds inst.writer_mu and tells the loop afterwards. Fails with
// unavailable when the database cannot commit (nothing was written then).
Status accept_message(Instance& inst, EnqueueItem& item);

// Creates the actor's record (actor_meta) and runs its type's on_create with `input`,
// in one transaction. Does nothing when the record exists already.
Status create_actor_record(Instance& inst, const Json& input, StepEffects& effects);

// The body of the message that reports an I/O job's outcome.
Json io_result_body(std::int64_t job_id, const std::string& name, const Json& context,
                    const Result<Json>& outcome);

}  // namespace hearth::actors
