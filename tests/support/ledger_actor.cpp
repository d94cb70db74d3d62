// The "ledger" test actor: see ledger_actor.h.
#include "tests/support/ledger_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "actors/host/step_context.h"

namespace hearth::test {

using actors::Json;
using actors::ReadContext;
using actors::StepContext;

namespace {

Result<Json> append(StepContext& ctx, std::int64_t seq) {
  SQLite::Statement ins(ctx.db(), "INSERT INTO entries(seq, message_id) VALUES(?, ?)");
  ins.bind(1, static_cast<int64_t>(seq));
  ins.bind(2, static_cast<int64_t>(ctx.message_id()));
  ins.exec();
  ctx.db().exec("UPDATE totals SET count = count + 1 WHERE id = 1");
  auto count = ctx.db().execAndGet("SELECT count FROM totals WHERE id = 1").getInt64();
  ctx.broadcast("ledger.entry.appended", {{"seq", seq}, {"count", count}});
  return Json{{"seq", seq}, {"count", count}};
}

}  // namespace

actors::ActorType make_ledger_type(actors::Host& host) {
  actors::ActorType t{"ledger"};
  t.migrations = {storage::MigrationSet{
      "ledger",
      {{"0001_init.sql",
        "CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, message_id INTEGER);"
        "CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL, label TEXT);"
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, outcome_json TEXT);"}}}};
  t.on_create = [](StepContext& ctx, const Json& input) -> Status {
    SQLite::Statement ins(ctx.db(), "INSERT INTO totals(id, count, label) VALUES(1, 0, ?)");
    ins.bind(1, input.value("label", ""));
    ins.exec();
    ctx.broadcast("ledger.created", input);
    return {};
  };
  t.on_queue("ledger.command.append", [](StepContext& ctx, const Json& body) {
    return append(ctx, body.at("seq").get<std::int64_t>());
  });
  t.on_queue("ledger.command.fail", [](StepContext& ctx, const Json& body) -> Result<Json> {
    (void)append(ctx, body.at("seq").get<std::int64_t>());  // written, then rolled back
    return Error{ErrorCode::conflict, "ledger refuses seq " + body.at("seq").dump()};
  });
  t.on_queue("ledger.command.signal", [](StepContext& ctx, const Json& body) -> Result<Json> {
    ctx.after_commit([] { ++ledger_signals(); });
    if (body.value("fail", false)) return Error{ErrorCode::conflict, "no signal"};
    return append(ctx, body.value("seq", -1));
  });
  t.on_queue("ledger.command.flaky", [](StepContext& ctx, const Json& body) -> Result<Json> {
    if (ledger_flaky_broken()) return Error{ErrorCode::unavailable, "ledger is broken for now"};
    return append(ctx, body.at("seq").get<std::int64_t>());
  });
  t.on_queue("ledger.command.throw", [](StepContext&, const Json&) -> Result<Json> {
    throw std::runtime_error("boom");
  });
  t.on_queue("ledger.command.sleep", [](StepContext& ctx, const Json& body) -> Result<Json> {
    std::this_thread::sleep_for(std::chrono::milliseconds(body.value("ms", 100)));
    return append(ctx, body.value("seq", -1));
  });
  t.on_queue("ledger.command.self_wait", [&host](StepContext& ctx, const Json&) -> Result<Json> {
    actors::SendOptions wait;
    wait.wait = true;
    auto r = host.send(ctx.address(), "ledger.command.append", {{"seq", 1}}, wait);
    if (r) return Json{{"refused", false}};
    return Json{{"refused", true}, {"code", to_string(r.error().code)}, {"message", r.error().message}};
  });
  // A poison message: its handler kills the process (only the crash child sends it).
  t.on_queue("ledger.command.abort", [](StepContext&, const Json&) -> Result<Json> { std::abort(); });
  t.on_queue("ledger.command.self_send", [&host](StepContext& ctx, const Json& body) -> Result<Json> {
    auto r = host.send(ctx.address(), "ledger.command.append", {{"seq", body.at("seq")}});
    if (!r) return r.error();
    return Json{{"queued", r->message_id}};
  });
  t.on_queue("ledger.command.start_job", [](StepContext& ctx, const Json& body) -> Result<Json> {
    auto ms = body.value("ms", 10);
    bool fail = body.value("fail", false);
    // {until_file}: runs until that file exists (at most a minute); {pad}: a result that long.
    std::filesystem::path until_file = body.value("until_file", std::string());
    auto pad = body.value("pad", std::size_t{0});
    auto id = ctx.spawn_io("sleep", "ledger.job.done", body,
                           [ms, fail, until_file, pad](std::stop_token stop) -> Result<Json> {
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(until_file.empty() ? ms : 60'000);
      while (std::chrono::steady_clock::now() < until) {
        if (stop.stop_requested()) return Error{ErrorCode::unavailable, "stopped"};
        if (!until_file.empty() && std::filesystem::exists(until_file)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (fail) return Error{ErrorCode::conflict, "job failed on purpose"};
      Json result{{"slept_ms", ms}};
      if (pad > 0) result["pad"] = std::string(pad, 'p');
      return result;
    });
    if (!id) return id.error();
    SQLite::Statement ins(ctx.db(), "INSERT INTO jobs(id, status) VALUES(?, 'running')");
    ins.bind(1, static_cast<int64_t>(*id));
    ins.exec();
    return Json{{"job_id", *id}};
  });
  t.on_queue("ledger.job.done", [](StepContext& ctx, const Json& body) -> Result<Json> {
    SQLite::Statement upd(ctx.db(), "UPDATE jobs SET status = ?, outcome_json = ? WHERE id = ?");
    upd.bind(1, body.value("ok", false) ? "done" : "failed");
    upd.bind(2, body.dump());
    upd.bind(3, body.at("job_id").get<int64_t>());
    upd.exec();
    ctx.broadcast("ledger.job.settled", body);
    return Json{{"settled", body.at("job_id")}};
  });
  // {to, seq} or {to, seqs: [...]}: one send per seq, all committed by this one step.
  t.on_queue("ledger.command.forward", [](StepContext& ctx, const Json& body) -> Result<Json> {
    auto to = ledger(body.at("to").get<std::string>());
    auto seqs = body.contains("seqs") ? body["seqs"] : Json::array({body.at("seq")});
    for (const auto& seq : seqs)
      if (auto st = ctx.send(to, "ledger.command.append", {{"seq", seq}}); !st) return st.error();
    return Json{{"forwarded", seqs.size()}};
  });
  t.on_action("ledger.entries", [](ReadContext& ctx, const Json&) -> Result<Json> {
    Json seqs = Json::array();
    SQLite::Statement q(ctx.db, "SELECT seq FROM entries ORDER BY id");
    while (q.executeStep()) seqs.push_back(q.getColumn(0).getInt64());
    auto count = ctx.db.execAndGet("SELECT count FROM totals WHERE id = 1").getInt64();
    auto label = ctx.db.execAndGet("SELECT label FROM totals WHERE id = 1").getString();
    return Json{{"seqs", seqs}, {"count", count}, {"label", label}};
  });
  t.on_action("ledger.jobs", [](ReadContext& ctx, const Json&) -> Result<Json> {
    Json jobs = Json::array();
    SQLite::Statement q(ctx.db, "SELECT id, status, outcome_json FROM jobs ORDER BY id");
    while (q.executeStep())
      jobs.push_back({{"id", q.getColumn(0).getInt64()},
                      {"status", q.getColumn(1).getString()},
                      {"outcome", q.getColumn(2).isNull() ? Json() : Json::parse(q.getColumn(2).getString())}});
    return jobs;
  });
  return t;
}

std::atomic<bool>& ledger_flaky_broken() {
  static std::atomic<bool> broken{false};
  return broken;
}

std::atomic<int>& ledger_signals() {
  static std::atomic<int> count{0};
  return count;
}

}  // namespace hearth::test
