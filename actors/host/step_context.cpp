// StepContext: what a handler may do inside one workflow step. See step_context.h.
#include "actors/host/step_context.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors {
namespace {
thread_local StepContext* tl_current = nullptr;
}

StepContext::StepContext(const Address& address, storage::StatementCache& statements, std::int64_t message_id,
                         std::string queue, QueueCheck has_queue, std::size_t max_payload_bytes)
    : address_(address),
      statements_(statements),
      db_(statements.db()),
      message_id_(message_id),
      queue_(std::move(queue)),
      has_queue_(std::move(has_queue)),
      max_payload_bytes_(max_payload_bytes) {}

void StepContext::broadcast(std::string name, Json payload) {
  effects_.broadcasts.push_back({std::move(name), std::move(payload)});
}

Result<std::int64_t> StepContext::send_self(std::string_view queue, const Json& body) {
  if (!has_queue_(queue))
    return Error{ErrorCode::invalid, fmt::format("actor {} has no queue \"{}\"", address_.display(), queue)};
  auto text = body.dump();
  if (text.size() > max_payload_bytes_)
    return Error{ErrorCode::too_large, fmt::format("message body has {} bytes; the limit is {}",
                                                   text.size(), max_payload_bytes_)};
  auto ins = statement("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES(?, ?, 'pending', ?)");
  sql::bind_all(*ins, std::string(queue), text, storage::now_ms());
  ins->exec();
  effects_.self_sent = true;
  return db_.getLastInsertRowid();
}

Status StepContext::send(const Address& to, std::string_view queue, const Json& body, std::string dedupe_key) {
  if (auto st = validate(to); !st) return st;
  auto text = body.dump();
  if (text.size() > max_payload_bytes_)
    return Error{ErrorCode::too_large, fmt::format("message body has {} bytes; the limit is {}",
                                                   text.size(), max_payload_bytes_)};
  auto key_json = Json(to.key).dump();
  auto ins = statement(
      "INSERT INTO outbox(to_type, to_key_json, queue, body_json, dedupe_key, created_at) VALUES(?, ?, ?, ?, '', ?)");
  sql::bind_all(*ins, to.type, key_json, std::string(queue), text, storage::now_ms());
  ins->exec();
  auto id = db_.getLastInsertRowid();
  // The dedupe key names this actor and this outbox row: unique, and stable across
  // redeliveries after a crash.
  auto dedupe = dedupe_key.empty() ? fmt::format("outbox:{}:{}", address_.id(), id) : std::move(dedupe_key);
  auto upd = statement("UPDATE outbox SET dedupe_key = ? WHERE id = ?");
  sql::bind_all(*upd, dedupe, id);
  upd->exec();
  effects_.outbox.push_back({id, to, std::string(queue), std::move(text), std::move(dedupe)});
  return {};
}

Status StepContext::create(const Address& to, const Json& input, const Json& then) {
  return send(to, kCreateQueue, Json{{"input", input}, {"then", then}});
}

Result<std::int64_t> StepContext::spawn_io(std::string name, std::string_view result_queue,
                                           const Json& context, IoWork work) {
  if (!has_queue_(result_queue))
    return Error{ErrorCode::invalid, fmt::format("actor {} has no queue \"{}\" to receive the result of {}",
                                                 address_.display(), result_queue, name)};
  auto ins = statement(
      "INSERT INTO io_jobs(name, result_queue, context_json, message_id, started_at) VALUES(?, ?, ?, ?, ?)");
  sql::bind_all(*ins, name, std::string(result_queue), context.dump(), message_id_, storage::now_ms());
  ins->exec();
  auto id = db_.getLastInsertRowid();
  effects_.io_jobs.push_back({id, std::move(name), std::string(result_queue), context, std::move(work)});
  return id;
}

void StepContext::after_commit(std::function<void()> signal) { effects_.after_commit.push_back(std::move(signal)); }

StepContext* StepContext::current() { return tl_current; }

CurrentStep::CurrentStep(StepContext& ctx) : previous_(tl_current) { tl_current = &ctx; }
CurrentStep::~CurrentStep() { tl_current = previous_; }

}  // namespace hearth::actors
