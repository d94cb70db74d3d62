// The workflow batch and instance connections: see workflow.h and instance.h.
#include "actors/host/workflow.h"

#include "actors/host/metrics.h"
#include "storage/sql.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hearth::actors {
namespace {

constexpr std::int64_t kKeepSettledMessages = 10'000;
constexpr std::int64_t kKeepHistory = 10'000;
constexpr std::size_t kMaxPooledReaders = 4;
constexpr std::int64_t kPruneEvery = 1'000;

using Clock = std::chrono::steady_clock;

std::int64_t micros_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

Json parse_or_null(const SQLite::Column& c) {
  if (c.isNull()) return nullptr;
  return Json::parse(c.getString(), nullptr, false);
}

// Persists one new message (or finds the earlier one with the same dedupe key).
void persist(Instance& inst, EnqueueItem& item) {
  auto& db = *inst.writer;
  if (item.io_job_id != 0) {
    auto del = inst.statement("DELETE FROM io_jobs WHERE id = ?");
    sql::bind_all(*del, item.io_job_id);
    if (del->exec() == 0) {
      item.dropped = true;  // settled already (reported as interrupted after a restart)
      return;
    }
  }
  auto ins = inst.statement(
      "INSERT INTO queue_messages(queue, body_json, dedupe_key, status, enqueued_at) "
      "VALUES(?, ?, ?, 'pending', ?) ON CONFLICT(dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING");
  sql::bind_all(*ins, item.queue, item.body_json,
                item.dedupe_key.empty() ? std::nullopt : std::optional<std::string>(item.dedupe_key), storage::now_ms());
  if (ins->exec() == 1) {
    item.message_id = db.getLastInsertRowid();
    return;
  }
  SQLite::Statement q(db,
                      "SELECT id, status, result_json, error_json FROM queue_messages WHERE dedupe_key = ?");
  sql::bind_all(q, item.dedupe_key);
  if (!q.executeStep()) throw std::runtime_error("dedupe conflict without a row");
  item.duplicate = true;
  item.message_id = q.getColumn(0).getInt64();
  item.status = parse_message_status(q.getColumn(1).getString()).value_or(MessageStatus::failed);
  item.result = parse_or_null(q.getColumn(2));
  if (!q.getColumn(3).isNull()) item.error = error_from_json(parse_or_null(q.getColumn(3)));
}

// After a restart: report I/O jobs the previous process never finished, and pick up
// the outbox rows it never delivered.
void recover(Instance& inst, StepEffects& effects) {
  auto& db = *inst.writer;
  struct Job {
    std::int64_t id;
    std::string name, queue;
    Json context;
  };
  std::vector<Job> jobs;
  {
    SQLite::Statement q(db, "SELECT id, name, result_queue, context_json FROM io_jobs ORDER BY id");
    while (q.executeStep())
      jobs.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                      parse_or_null(q.getColumn(3))});
  }
  for (auto& job : jobs) {
    EnqueueItem item{job.queue,
                     io_result_body(job.id, job.name, job.context,
                                    Error{ErrorCode::interrupted, "interrupted: the process stopped before "
                                                                  "this job finished"})
                         .dump(),
                     "", job.id};
    persist(inst, item);
    spdlog::warn("actor.io_interrupted actor={} job={} name={}", inst.address.display(), job.id, job.name);
  }
  SQLite::Statement q(db,
                      "SELECT id, to_type, to_key_json, queue, body_json, dedupe_key FROM outbox "
                      "WHERE last_error IS NULL ORDER BY id");
  while (q.executeStep()) {
    StepEffects::Outgoing out;
    out.id = q.getColumn(0).getInt64();
    out.to.type = q.getColumn(1).getString();
    out.to.key = Json::parse(q.getColumn(2).getString()).get<std::vector<std::string>>();
    out.queue = q.getColumn(3).getString();
    out.body_json = q.getColumn(4).getString();
    out.dedupe_key = q.getColumn(5).getString();
    effects.outbox.push_back(std::move(out));
  }
}

void merge(StepEffects& into, StepEffects&& from) {
  for (auto& b : from.broadcasts) into.broadcasts.push_back(std::move(b));
  for (auto& j : from.io_jobs) into.io_jobs.push_back(std::move(j));
  for (auto& o : from.outbox) into.outbox.push_back(std::move(o));
  for (auto& f : from.after_commit) into.after_commit.push_back(std::move(f));
  into.self_sent = into.self_sent || from.self_sent;
  if (from.rewind_to) into.rewind_to = std::min(into.rewind_to.value_or(*from.rewind_to), *from.rewind_to);
}

// Whether a message waits to run: one is pending at or above the cursor.
bool any_pending(Instance& inst) {
  auto more = inst.statement(
      "SELECT EXISTS(SELECT 1 FROM queue_messages WHERE id >= (SELECT next_id FROM queue_cursor) AND "
      "status = 'pending')");
  more->executeStep();
  return more->getColumn(0).getInt() != 0;
}

struct PendingMessage {
  std::int64_t id;
  std::string queue;
  std::string body_json;
};

// What a handler's error makes of its message: `rejected` when the input was refused
// (nothing is wrong, a retry would answer the same), `failed` when something broke.
MessageStatus error_outcome(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid:
    case ErrorCode::not_found:
    case ErrorCode::conflict:
    case ErrorCode::too_large:
    case ErrorCode::unauthorized:
    case ErrorCode::forbidden:
    case ErrorCode::method_not_allowed:
    case ErrorCode::unsupported_media_type:
    case ErrorCode::rate_limited:
    case ErrorCode::payment_required:
      return MessageStatus::rejected;
    case ErrorCode::timeout:
    case ErrorCode::unavailable:
    case ErrorCode::interrupted:
    case ErrorCode::internal:
      return MessageStatus::failed;
  }
  return MessageStatus::failed;
}

// Runs one message through its handler inside a savepoint; records the outcome.
StepOutcome run_step(Instance& inst, const PendingMessage& msg, StepEffects& effects) {
  StepOutcome out{msg.id, msg.queue, false, nullptr, {}};
  auto started_ms = storage::now_ms();
  auto started = Clock::now();
  inst.statement("SAVEPOINT step")->exec();
  StepContext ctx(inst.address, inst.statements(), msg.id, msg.queue,
                  [&inst](std::string_view q) { return inst.has_queue(q); }, inst.max_payload_bytes);
  Result<Json> result = Error{ErrorCode::internal, ""};
  auto handler = inst.type->queues.find(msg.queue);
  if (handler == inst.type->queues.end()) {
    result = Error{ErrorCode::invalid,
                   fmt::format("actor {}: queue \"{}\" has no handler in this build", inst.address.display(), msg.queue)};
  } else {
    try {
      CurrentStep current(ctx);
      result = handler->second(ctx, Json::parse(msg.body_json));
    } catch (const std::exception& e) {
      result = Error{ErrorCode::internal, fmt::format("actor {}: handler for \"{}\" threw: {}",
                                                      inst.address.display(), msg.queue, e.what())};
    }
  }
  if (result) {
    inst.statement("RELEASE step")->exec();
    out.ok = true;
    out.result = std::move(*result);
    merge(effects, std::move(ctx.effects()));
  } else {
    inst.statement("ROLLBACK TO step")->exec();
    inst.statement("RELEASE step")->exec();
    out.error = result.error();
  }
  auto ended_ms = storage::now_ms();
  auto duration_us = micros_since(started);
  auto outcome = out.ok ? MessageStatus::completed : error_outcome(out.error.code);
  auto upd = inst.statement(
      "UPDATE queue_messages SET status = ?, completed_at = ?, result_json = ?, error_json = ? WHERE id = ?");
  std::optional<std::string> result_json, error_json;
  if (out.ok) result_json = out.result.dump();
  else error_json = error_to_json(out.error).dump();
  sql::bind_all(*upd, to_string(outcome), ended_ms, result_json, error_json, msg.id);
  upd->exec();
  auto hist = inst.statement(
      "INSERT INTO workflow_history(message_id, queue, started_at, ended_at, duration_us, outcome, error_json) "
      "VALUES(?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(*hist, msg.id, msg.queue, started_ms, ended_ms, duration_us, to_string(outcome), error_json);
  hist->exec();
  auto& metrics = Metrics::global();
  metrics.add("hearth_queue_messages_processed_total",
              {{"type", inst.address.type}, {"outcome", std::string(to_string(outcome))}});
  metrics.observe("hearth_queue_step_duration_seconds", {{"type", inst.address.type}}, duration_us / 1e6);
  if (outcome == MessageStatus::rejected)
    spdlog::debug("queue.step_rejected actor={} queue={} msg={} code={} error={}", inst.address.display(),
                  msg.queue, msg.id, to_string(out.error.code), out.error.message);
  else if (!out.ok)
    spdlog::warn("queue.step_failed actor={} queue={} msg={} code={} error={}", inst.address.display(),
                 msg.queue, msg.id, to_string(out.error.code), out.error.message);
  else if (duration_us > 1'000'000)
    spdlog::warn("queue.step_slow actor={} queue={} msg={} ms={} (long work belongs in spawn_io)",
                 inst.address.display(), msg.queue, msg.id, duration_us / 1000);
  return out;
}

// Keeps the settled tail of the queue and the history bounded. Cheap, but not free, so
// it runs when the newest message id crosses a multiple of kPruneEvery. It never
// deletes the newest message: a new message's id is MAX(id) + 1 (no AUTOINCREMENT, see
// migrations/host/0003_lighter_messages.sql), and that is what keeps ids unique.
void prune(SQLite::Database& db) {
  db.exec(fmt::format(
      "DELETE FROM queue_messages WHERE status IN ('completed', 'rejected', 'discarded') AND "
      "id < (SELECT MAX(id) FROM queue_messages) - {}",
      kKeepSettledMessages));
  db.exec(fmt::format("DELETE FROM workflow_history WHERE id < (SELECT MAX(id) FROM workflow_history) - {}",
                      kKeepHistory));
}

// Why a batch or a message could not be committed, for the person who sent it: a full
// disk says so (nothing was accepted, and sends work again once there is room).
Error commit_failure(const Instance& inst, const std::exception& e) {
  Metrics::global().add("hearth_queue_commit_failures_total", {{"type", inst.address.type}});
  const auto* sql = dynamic_cast<const SQLite::Exception*>(&e);
  if (sql && (sql->getErrorCode() & 0xff) == SQLITE_FULL)
    return Error{ErrorCode::unavailable,
                 fmt::format("actor {}: the disk holding the server's data dir is full, so nothing new can be "
                             "saved (nothing was lost; this works again once there is room)",
                             inst.address.display())};
  return Error{ErrorCode::unavailable,
               fmt::format("actor {}: could not commit to its database: {}", inst.address.display(), e.what())};
}

// A message that ran kMaxCrashedRuns times more, each time in a process that died
// before its step committed, is settled as failed instead of run again.
StepOutcome park(Instance& inst, std::int64_t id, const std::string& queue, std::int64_t runs) {
  StepOutcome out{id, queue, false, nullptr, {}};
  out.error = Error{ErrorCode::internal,
                    fmt::format("actor {}: the server stopped {} times while this message's step ran (a crash, or a "
                                "kill); it was parked as failed so that the actor goes on. Retry it from the "
                                "inspector once the cause is fixed",
                                inst.address.display(), runs)};
  auto now = storage::now_ms();
  auto error_json = error_to_json(out.error).dump();
  auto upd = inst.statement("UPDATE queue_messages SET status = 'failed', completed_at = ?, error_json = ? WHERE id = ?");
  sql::bind_all(*upd, now, error_json, id);
  upd->exec();
  auto hist = inst.statement(
      "INSERT INTO workflow_history(message_id, queue, started_at, ended_at, duration_us, outcome, error_json) "
      "VALUES(?, ?, ?, ?, 0, 'failed', ?)");
  sql::bind_all(*hist, id, queue, now, now, error_json);
  hist->exec();
  Metrics::global().add("hearth_queue_messages_processed_total", {{"type", inst.address.type}, {"outcome", "failed"}});
  spdlog::error("queue.message_parked actor={} queue={} msg={} runs={} (the process died each time it ran)",
                inst.address.display(), queue, id, runs);
  return out;
}

// After an unclean stop: the next message pending from when the actor woke, counted in
// a commit of its own before it runs (no fsync: the count must outlive the process, not
// the machine). Returns it and its count, or nothing once those messages are done.
std::optional<std::pair<std::int64_t, std::int64_t>> count_suspect(Instance& inst) {
  auto& db = *inst.writer;
  std::int64_t id = 0;
  {
    auto q = inst.statement(
        "SELECT id FROM queue_messages WHERE id >= (SELECT next_id FROM queue_cursor) AND status = 'pending' "
        "ORDER BY id LIMIT 1");
    if (q->executeStep()) id = q->getColumn(0).getInt64();
  }
  if (id == 0 || id > inst.suspect_until) {
    inst.suspect_until = 0;
    return std::nullopt;
  }
  auto restore = inst.db_options.synchronous == storage::Synchronous::full ? "PRAGMA synchronous=FULL"
                                                                            : "PRAGMA synchronous=NORMAL";
  db.exec("PRAGMA synchronous=OFF");
  std::int64_t runs = 0;
  try {
    auto upd = inst.statement("UPDATE queue_messages SET attempts = attempts + 1 WHERE id = ? RETURNING attempts");
    sql::bind_all(*upd, id);
    if (upd->executeStep()) runs = upd->getColumn(0).getInt64();
    while (upd->executeStep()) {
    }
  } catch (...) {
    db.exec(restore);
    throw;
  }
  db.exec(restore);
  return std::make_pair(id, runs);
}

}  // namespace

Json io_result_body(std::int64_t job_id, const std::string& name, const Json& context,
                    const Result<Json>& outcome) {
  Json body{{"job_id", job_id}, {"name", name}, {"context", context}, {"ok", outcome.ok()}};
  if (outcome) body["result"] = *outcome;
  else body["error"] = error_to_json(outcome.error());
  return body;
}

WriterResult run_writer_batch(Instance& inst, WriterBatch batch) {
  WriterResult res;
  auto& db = *inst.writer;
  auto started = Clock::now();
  std::int64_t pending_now = -1;
  try {
    std::optional<std::pair<std::int64_t, std::int64_t>> suspect;  // run alone, counted
    if (batch.run_steps && inst.suspect_until > 0) suspect = count_suspect(inst);
    inst.statement("BEGIN IMMEDIATE")->exec();
    // What the previous process left unfinished is reported before anything new runs.
    if (batch.recover) recover(inst, res.effects);
    for (auto& item : batch.enqueues) persist(inst, item);
    for (auto id : batch.outbox_delivered) {
      auto del = inst.statement("DELETE FROM outbox WHERE id = ?");
      sql::bind_all(*del, id);
      del->exec();
    }
    for (const auto& [id, reason] : batch.outbox_failed) {
      auto upd = inst.statement("UPDATE outbox SET last_error = ? WHERE id = ?");
      sql::bind_all(*upd, reason, id);
      upd->exec();
    }
    if (batch.run_steps) {
      std::vector<PendingMessage> pending;
      std::int64_t cursor = 0;
      {
        auto c = inst.statement("SELECT next_id FROM queue_cursor");
        if (c->executeStep()) cursor = c->getColumn(0).getInt64();
        // A range of the table by rowid from the cursor (migrations/host/0004_queue_cursor.sql).
        auto q = inst.statement(
            "SELECT id, queue, body_json FROM queue_messages WHERE id >= ? AND status = 'pending' ORDER BY id LIMIT ?");
        sql::bind_all(*q, cursor, suspect ? std::int64_t{1} : static_cast<std::int64_t>(inst.max_steps_per_batch));
        while (q->executeStep())
          pending.push_back({q->getColumn(0).getInt64(), q->getColumn(1).getString(), q->getColumn(2).getString()});
      }
      for (const auto& msg : pending) {
        if (!res.outcomes.empty() && Clock::now() - started > batch.budget) break;
        if (suspect && suspect->first == msg.id && suspect->second > kMaxCrashedRuns)
          res.outcomes.push_back(park(inst, msg.id, msg.queue, suspect->second));
        else
          res.outcomes.push_back(run_step(inst, msg, res.effects));
      }
      if (!res.outcomes.empty()) {
        // Every pending message below the first one not run has run now, except those a
        // step put back to pending (a retry), wherever they are: the cursor stops at the
        // lowest of them.
        auto next = res.outcomes.size() < pending.size() ? pending[res.outcomes.size()].id : pending.back().id + 1;
        if (res.effects.rewind_to) next = std::min(next, *res.effects.rewind_to);
        if (next != cursor) {
          auto move = inst.statement("UPDATE queue_cursor SET next_id = ?");
          sql::bind_all(*move, next);
          move->exec();
        }
      }
      if (!suspect && !res.outcomes.empty() && pending.size() == res.outcomes.size() && !res.effects.self_sent &&
          pending.size() < inst.max_steps_per_batch) {
        res.more_pending = false;  // ran everything that was pending, and added nothing
      } else {
        res.more_pending = any_pending(inst);
      }
      if (!pending.empty() && pending.back().id / kPruneEvery != (pending.back().id - static_cast<std::int64_t>(pending.size())) / kPruneEvery)
        prune(db);
    } else {
      res.more_pending = any_pending(inst);
    }
    if (!res.more_pending) {
      pending_now = 0;
    } else if (!res.outcomes.empty() || !batch.enqueues.empty()) {
      // Queue depth for /metrics: this actor's pending count, reported as a change.
      auto count = inst.statement(
          "SELECT COUNT(*) FROM queue_messages WHERE id >= (SELECT next_id FROM queue_cursor) AND status = 'pending'");
      count->executeStep();
      pending_now = count->getColumn(0).getInt64();
    }
    inst.statement("COMMIT")->exec();
    if (pending_now >= 0 && pending_now != inst.pending_reported) {
      Metrics::global().add("hearth_queue_pending_messages", {{"type", inst.address.type}},
                            static_cast<double>(pending_now - inst.pending_reported));
      inst.pending_reported = pending_now;
    }
  } catch (const std::exception& e) {
    try {
      if (!db.getHandle() || !sqlite3_get_autocommit(db.getHandle())) db.exec("ROLLBACK");
    } catch (...) {
    }
    res = WriterResult{};
    res.failure = commit_failure(inst, e);
    res.more_pending = true;
    spdlog::error("queue.commit_failed actor={} error={}", inst.address.display(), e.what());
    return res;
  }
  res.enqueues = std::move(batch.enqueues);
  return res;
}

Status accept_message(Instance& inst, EnqueueItem& item) {
  auto& db = *inst.writer;
  try {
    inst.statement("BEGIN IMMEDIATE")->exec();
    persist(inst, item);
    inst.statement("COMMIT")->exec();
    return {};
  } catch (const std::exception& e) {
    try {
      if (!sqlite3_get_autocommit(db.getHandle())) db.exec("ROLLBACK");
    } catch (...) {
    }
    spdlog::error("queue.commit_failed actor={} error={}", inst.address.display(), e.what());
    return commit_failure(inst, e);
  }
}

Status create_actor_record(Instance& inst, const Json& input, StepEffects& effects) {
  auto& db = *inst.writer;
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    if (db.execAndGet("SELECT COUNT(*) FROM actor_meta").getInt() > 0) return {};
    SQLite::Statement ins(db,
                          "INSERT INTO actor_meta(id, actor_id, type, key_json, input_json, created_at) "
                          "VALUES(1, ?, ?, ?, ?, ?)");
    sql::bind_all(ins, inst.id, inst.address.type, Json(inst.address.key).dump(), input.dump(), storage::now_ms());
    ins.exec();
    if (inst.type->on_create) {
      StepContext ctx(inst.address, inst.statements(), 0, "", [&inst](std::string_view q) { return inst.has_queue(q); },
                      inst.max_payload_bytes);
      Status st;
      try {
        CurrentStep current(ctx);
        st = inst.type->on_create(ctx, input);
      } catch (const std::exception& e) {
        st = Error{ErrorCode::internal, e.what()};
      }
      if (!st)
        return Error{st.error().code,
                     fmt::format("actor {}: could not be created: {}", inst.address.display(), st.error().message)};
      effects = std::move(ctx.effects());
    }
    tx.commit();
    return {};
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable,
                 fmt::format("actor {}: could not be created: {}", inst.address.display(), e.what())};
  }
}

Instance::~Instance() {
  {
    std::lock_guard lock(readers_mu_);
    readers_.clear();
  }
  close_writer();
}

storage::StatementCache& Instance::statements() {
  if (!statements_) statements_ = std::make_unique<storage::StatementCache>(*writer);
  return *statements_;
}

void Instance::close_writer() {
  std::lock_guard lock(writer_mu);
  writer_closed = true;
  statements_.reset();
  writer.reset();
}

Result<std::unique_ptr<Instance::Reader>> Instance::acquire_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      auto reader = std::move(readers_.back());
      readers_.pop_back();
      return reader;
    }
  }
  auto options = db_options;
  options.read_only = true;
  auto db = storage::open_database(db_path, options);
  if (!db) return db.error();
  auto reader = std::make_unique<Reader>();
  reader->db = std::move(*db);
  reader->statements = std::make_unique<storage::StatementCache>(*reader->db);
  return reader;
}

void Instance::release_reader(std::unique_ptr<Reader> reader) {
  std::lock_guard lock(readers_mu_);
  if (readers_.size() < kMaxPooledReaders) readers_.push_back(std::move(reader));
}

}  // namespace hearth::actors
