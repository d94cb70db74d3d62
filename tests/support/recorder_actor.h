// An actor type that only writes down what reaches it, to test one actor's handlers
// through a real host without the actors it talks to: registered under another type's
// name ("sandbox", "session", ...), it answers that type's queues by recording each
// message, and its creation too (queue "(created)", the input as body). Read it back
// with recorded().
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "actors/host/host.h"
#include "actors/host/step_context.h"

namespace hearth::test {

inline actors::ActorType make_recorder_type(const std::string& name, std::initializer_list<const char*> queues) {
  actors::ActorType t{name};
  t.migrations = {storage::MigrationSet{
      name, {{"0001_recorded.sql", "CREATE TABLE recorded (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, "
                                   "body_json TEXT NOT NULL);"}}}};
  auto record = [](actors::StepContext& ctx, const std::string& queue, const actors::Json& body) {
    auto ins = ctx.statement("INSERT INTO recorded(queue, body_json) VALUES(?, ?)");
    ins->bind(1, queue);
    ins->bind(2, body.dump());
    ins->exec();
  };
  t.on_create = [record](actors::StepContext& ctx, const actors::Json& input) -> Status {
    record(ctx, "(created)", input);
    return {};
  };
  for (const char* queue : queues)
    t.on_queue(queue, [record, queue](actors::StepContext& ctx, const actors::Json& body) -> Result<actors::Json> {
      record(ctx, queue, body);
      return actors::Json::object();
    });
  t.on_action("recorded", [](actors::ReadContext& ctx, const actors::Json&) -> Result<actors::Json> {
    actors::Json items = actors::Json::array();
    SQLite::Statement q(ctx.db, "SELECT queue, body_json FROM recorded ORDER BY id");
    while (q.executeStep())
      items.push_back({{"queue", q.getColumn(0).getString()}, {"body", actors::Json::parse(q.getColumn(1).getString())}});
    return items;
  });
  return t;
}

// What the recorder at `at` got so far, oldest first: [{queue, body}]; empty when it
// was never created.
inline actors::Json recorded(actors::Host& host, const actors::Address& at) {
  auto exists = host.exists(at);
  if (!exists.ok() || !*exists) return actors::Json::array();
  auto r = host.call(at, "recorded");
  REQUIRE(r.ok());
  return *r;
}

// The bodies `at` got on `queue`.
inline actors::Json recorded_on(actors::Host& host, const actors::Address& at, const std::string& queue) {
  actors::Json out = actors::Json::array();
  for (auto& m : recorded(host, at))
    if (m["queue"] == queue) out.push_back(m["body"]);
  return out;
}

}  // namespace hearth::test
