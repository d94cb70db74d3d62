#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include "storage/database.h"
#include "storage/migrations.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using storage::MigrationSet;

namespace {

std::unique_ptr<SQLite::Database> open(const std::filesystem::path& p) {
  auto db = storage::open_database(p, {});
  REQUIRE(db.ok());
  return std::move(*db);
}

MigrationSet v1() { return {"widget", {{"0001_init.sql", "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT);"}}}; }

MigrationSet v2() {
  auto s = v1();
  s.migrations.push_back({"0002_add_color.sql", "ALTER TABLE widgets ADD COLUMN color TEXT;"});
  return s;
}

int applied_count(SQLite::Database& db) { return db.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(); }

}  // namespace

TEST_CASE("a fresh database gets every migration, recorded in schema_migrations") {
  test::TempDir dir;
  auto db = open(dir.path() / "a.db");
  std::vector<MigrationSet> sets{storage::embedded_migrations("host"), v2()};
  REQUIRE(storage::apply_migrations(*db, sets, "actor widget [\"a\"]").ok());
  CHECK(db->tableExists("queue_messages"));
  CHECK(db->tableExists("widgets"));
  CHECK(applied_count(*db) == static_cast<int>(sets[0].migrations.size() + sets[1].migrations.size()));
  db->exec("INSERT INTO widgets(name, color) VALUES('w', 'red')");
}

TEST_CASE("an actor database opens in WAL mode with foreign keys on") {
  test::TempDir dir;
  auto db = open(dir.path() / "deep" / "folder" / "a.db");
  CHECK(db->execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db->execAndGet("PRAGMA foreign_keys").getInt() == 1);
  CHECK(db->execAndGet("PRAGMA synchronous").getInt() == 2);  // FULL
}

TEST_CASE("migrations apply incrementally and keep existing data") {
  test::TempDir dir;
  auto db = open(dir.path() / "a.db");
  std::vector<MigrationSet> first{v1()};
  REQUIRE(storage::apply_migrations(*db, first, "t").ok());
  db->exec("INSERT INTO widgets(name) VALUES('kept')");
  std::vector<MigrationSet> second{v2()};
  REQUIRE(storage::apply_migrations(*db, second, "t").ok());
  CHECK(applied_count(*db) == 2);
  CHECK(db->execAndGet("SELECT name FROM widgets").getString() == "kept");
  REQUIRE(storage::apply_migrations(*db, second, "t").ok());  // idempotent
  CHECK(applied_count(*db) == 2);
}

TEST_CASE("a failing migration changes nothing and names the owner, the file and SQLite's message") {
  test::TempDir dir;
  auto db = open(dir.path() / "a.db");
  auto bad = v1();
  bad.migrations.push_back({"0002_broken.sql", "CRATE TABLE oops (id INTEGER);"});
  std::vector<MigrationSet> sets{bad};
  auto st = storage::apply_migrations(*db, sets, "actor widget [\"a\"]");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("actor widget [\"a\"]") != std::string::npos);
  CHECK(st.error().message.find("widget/0002_broken.sql") != std::string::npos);
  CHECK(st.error().message.find("syntax error") != std::string::npos);
  // The whole run rolled back, including 0001.
  CHECK_FALSE(db->tableExists("widgets"));
}

TEST_CASE("an applied migration whose text changed is refused: migrations are append-only") {
  test::TempDir dir;
  auto db = open(dir.path() / "a.db");
  std::vector<MigrationSet> sets{v1()};
  REQUIRE(storage::apply_migrations(*db, sets, "t").ok());
  sets[0].migrations[0].sql = "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, extra TEXT);";
  auto st = storage::apply_migrations(*db, sets, "t");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("append-only") != std::string::npos);
}

TEST_CASE("a database migrated by a newer build is refused") {
  test::TempDir dir;
  auto db = open(dir.path() / "a.db");
  std::vector<MigrationSet> newer{v2()};
  REQUIRE(storage::apply_migrations(*db, newer, "t").ok());
  std::vector<MigrationSet> older{v1()};
  auto st = storage::apply_migrations(*db, older, "t");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("0002_add_color.sql") != std::string::npos);
  CHECK(st.error().message.find("newer") != std::string::npos);
}

TEST_CASE("migration names must be numbered from 0001 without gaps") {
  CHECK(storage::validate(v2()).ok());
  MigrationSet gap{"w", {{"0001_a.sql", ""}, {"0003_c.sql", ""}}};
  CHECK_FALSE(storage::validate(gap).ok());
  MigrationSet bad_name{"w", {{"1_a.sql", ""}}};
  CHECK_FALSE(storage::validate(bad_name).ok());
  MigrationSet upper{"w", {{"0001_Init.sql", ""}}};
  CHECK_FALSE(storage::validate(upper).ok());
}

TEST_CASE("the host's migrations are compiled into the binary") {
  auto host = storage::embedded_migrations("host");
  REQUIRE_FALSE(host.migrations.empty());
  CHECK(host.migrations[0].name == "0001_workflow.sql");
  CHECK(host.migrations[0].sql.find("CREATE TABLE queue_messages") != std::string::npos);
  CHECK(storage::embedded_migrations("no-such-scope").migrations.empty());
}

namespace hearth {

TEST_CASE("host migration 0002 allows `rejected` and keeps message ids unique across the rebuild") {
  test::TempDir dir;
  SQLite::Database db((dir.path() / "a.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  auto all = storage::embedded_migrations("host");
  REQUIRE(all.migrations.size() >= 2);
  storage::MigrationSet first{"host", {all.migrations[0]}};
  REQUIRE(storage::apply_migrations(db, std::span(&first, 1), "test").ok());
  for (int i = 0; i < 10; ++i)
    db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', 'completed', 0)");
  db.exec("INSERT INTO workflow_history(message_id, queue, started_at, ended_at, duration_us, outcome) "
          "VALUES(10, 'q', 0, 0, 1, 'completed')");
  db.exec("DELETE FROM queue_messages WHERE id > 3");  // pruned: the newest ids are gone
  CHECK_THROWS(db.exec("UPDATE queue_messages SET status = 'rejected' WHERE id = 1"));

  storage::MigrationSet through_0002{"host", {all.migrations[0], all.migrations[1]}};
  REQUIRE(storage::apply_migrations(db, std::span(&through_0002, 1), "test").ok());
  CHECK(db.execAndGet("SELECT COUNT(*) FROM queue_messages").getInt() == 3);
  db.exec("UPDATE queue_messages SET status = 'rejected' WHERE id = 1");
  db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', 'pending', 0)");
  CHECK(db.execAndGet("SELECT MAX(id) FROM queue_messages").getInt() == 11);  // not 4: id 4..10 were used
  db.exec("INSERT INTO workflow_history(message_id, queue, started_at, ended_at, duration_us, outcome) "
          "VALUES(11, 'q', 0, 0, 1, 'rejected')");
  CHECK(db.execAndGet("SELECT MAX(id) FROM workflow_history").getInt() == 2);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name = 'queue_messages_pending'").getInt() == 1);
}

TEST_CASE("host migration 0003 drops AUTOINCREMENT from messages and history, indexes only set dedupe keys, and uses no message id twice") {
  test::TempDir dir;
  SQLite::Database db((dir.path() / "a.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  auto all = storage::embedded_migrations("host");
  REQUIRE(all.migrations.size() >= 3);
  storage::MigrationSet through_0002{"host", {all.migrations[0], all.migrations[1]}};
  REQUIRE(storage::apply_migrations(db, std::span(&through_0002, 1), "test").ok());
  for (int i = 0; i < 10; ++i)
    db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', 'completed', 0)");
  db.exec("UPDATE queue_messages SET dedupe_key = 'k' WHERE id = 2");
  db.exec("DELETE FROM queue_messages WHERE id > 3");  // the newest ids gone (never done by prune)

  storage::MigrationSet through_0003{"host", {all.migrations[0], all.migrations[1], all.migrations[2]}};
  REQUIRE(storage::apply_migrations(db, std::span(&through_0003, 1), "test").ok());
  CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_sequence WHERE name IN ('queue_messages', 'workflow_history')")
            .getInt() == 0);
  // The highest id ever used stays taken, by a discarded placeholder.
  CHECK(db.execAndGet("SELECT status FROM queue_messages WHERE id = 10").getString() == "discarded");
  db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', 'pending', 0)");
  CHECK(db.execAndGet("SELECT MAX(id) FROM queue_messages").getInt() == 11);
  // Keys stay unique; messages without one share the NULL freely.
  CHECK(db.execAndGet("SELECT dedupe_key FROM queue_messages WHERE id = 2").getString() == "k");
  CHECK_THROWS(db.exec("INSERT INTO queue_messages(queue, body_json, dedupe_key, status, enqueued_at) "
                       "VALUES('q', '{}', 'k', 'pending', 0)"));
  db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', 'pending', 0)");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('queue_messages_pending', "
                      "'queue_messages_dedupe')").getInt() == 2);
}

TEST_CASE("host migration 0004 replaces the pending index with a cursor at the first pending message") {
  auto all = storage::embedded_migrations("host");
  REQUIRE(all.migrations.size() >= 4);
  storage::MigrationSet through_0003{"host", {all.migrations[0], all.migrations[1], all.migrations[2]}};
  auto migrate = [&](std::vector<std::string> statuses) {
    auto dir = std::make_shared<test::TempDir>();
    SQLite::Database db((dir->path() / "a.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    REQUIRE(storage::apply_migrations(db, std::span(&through_0003, 1), "test").ok());
    for (const auto& status : statuses)
      db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES('q', '{}', '" + status +
              "', 0)");
    REQUIRE(storage::apply_migrations(db, std::span(&all, 1), "test").ok());
    CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name = 'queue_messages_pending'").getInt() == 0);
    return db.execAndGet("SELECT next_id FROM queue_cursor").getInt64();
  };
  CHECK(migrate({"completed", "failed", "pending", "completed", "pending"}) == 3);
  CHECK(migrate({"completed", "rejected"}) == 3);  // none pending: past the newest
  CHECK(migrate({}) == 1);
}

}  // namespace hearth
