// What an actor type declares to the host: its migrations, the handlers of its named
// queues (mutations, run one at a time in the workflow loop) and its read actions.
//
//   ActorType counter{"counter"};
//   counter.on_queue("counter.command.add", on_add)       // Result<Json>(StepContext&, const Json&)
//          .on_action("counter.get", read_value);          // Result<Json>(ReadContext&, const Json&)
//   host.register_type(std::move(counter));
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "actors/host/address.h"
#include "storage/migrations.h"
#include "storage/statement_cache.h"

namespace SQLite {
class Database;
}

namespace hearth::actors {

class StepContext;

// What a read action sees: the actor's address and a read-only connection to its
// database (a consistent snapshot; it never waits for the workflow loop).
struct ReadContext {
  const Address& address;
  SQLite::Database& db;
  storage::StatementCache* statements = nullptr;

  // A statement prepared once per read connection and reused (reset when the lease
  // ends): use it for the actions that run per request.
  storage::StatementCache::Lease statement(const std::string& sql) { return statements->get(sql); }
};

// A queue handler: decides, persists (through ctx.db(), inside the step's transaction)
// and announces (ctx.broadcast). It must not block on long external work: hand that
// to ctx.spawn_io, whose result comes back as a new message.
using QueueHandler = std::function<Result<Json>(StepContext& ctx, const Json& body)>;
using ActionHandler = std::function<Result<Json>(ReadContext& ctx, const Json& args)>;
// Runs once, in the transaction that creates the actor, with get_or_create's input.
using CreateHandler = std::function<Status(StepContext& ctx, const Json& input)>;

struct ActorType {
  explicit ActorType(std::string type_name)
      : name(std::move(type_name)), migrations{storage::embedded_migrations(name)} {}

  std::string name;
  // Applied after the host's own tables; defaults to migrations/<name>/*.sql.
  std::vector<storage::MigrationSet> migrations;
  std::map<std::string, QueueHandler, std::less<>> queues;
  std::map<std::string, ActionHandler, std::less<>> actions;
  CreateHandler on_create;

  ActorType& on_queue(std::string queue, QueueHandler handler) {
    queues.insert_or_assign(std::move(queue), std::move(handler));
    return *this;
  }
  ActorType& on_action(std::string action, ActionHandler handler) {
    actions.insert_or_assign(std::move(action), std::move(handler));
    return *this;
  }
};

}  // namespace hearth::actors
