// storage/sql.h on a real SQLite database in memory: what each bound type is stored as,
// NULL in and out through std::optional, and JSON columns.
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "storage/sql.h"

using namespace hearth;
using Json = nlohmann::json;

namespace {
SQLite::Database scratch() {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("CREATE TABLE t (a, b, c, d, e, f)");
  return db;
}
}  // namespace

TEST_CASE("bind_all stores each value by its type, in parameter order") {
  auto db = scratch();
  SQLite::Statement ins(db, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)");
  std::string text = "owned";
  sql::bind_all(ins, "literal", text, std::int64_t{1} << 40, true, 2.5, std::string_view("view"));
  ins.exec();
  SQLite::Statement q(db, "SELECT typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), typeof(f), a, b, c, d, e, f FROM t");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "text");
  CHECK(q.getColumn(1).getString() == "text");
  CHECK(q.getColumn(2).getString() == "integer");
  CHECK(q.getColumn(3).getString() == "integer");
  CHECK(q.getColumn(4).getString() == "real");
  CHECK(q.getColumn(5).getString() == "text");
  CHECK(sql::column<std::string>(q.getColumn(6)) == "literal");
  CHECK(sql::column<std::string>(q.getColumn(7)) == "owned");
  CHECK(sql::column<std::int64_t>(q.getColumn(8)) == (std::int64_t{1} << 40));
  CHECK(sql::column<bool>(q.getColumn(9)));
  CHECK(sql::column<int>(q.getColumn(9)) == 1);
  CHECK(sql::column<double>(q.getColumn(10)) == 2.5);
  CHECK(sql::column<std::string>(q.getColumn(11)) == "view");
}

TEST_CASE("an empty optional binds NULL, a full one its value, and both read back as they went in") {
  auto db = scratch();
  SQLite::Statement ins(db, "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)");
  sql::bind_all(ins, std::optional<std::string>(), std::optional<std::string>("x"), std::optional<std::int64_t>(),
                std::optional<std::int64_t>(7));
  ins.exec();
  SQLite::Statement q(db, "SELECT a, b, c, d FROM t");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).isNull());
  CHECK(sql::column<std::optional<std::string>>(q.getColumn(0)) == std::nullopt);
  CHECK(sql::column<std::optional<std::string>>(q.getColumn(1)) == "x");
  CHECK(sql::column<std::optional<std::int64_t>>(q.getColumn(2)) == std::nullopt);
  CHECK(sql::column<std::optional<std::int64_t>>(q.getColumn(3)) == 7);
}

TEST_CASE("a nullable column reads as JSON null when NULL and as its typed value otherwise") {
  auto db = scratch();
  db.exec("INSERT INTO t (a, b, c, d) VALUES (NULL, 'text', NULL, 42)");
  SQLite::Statement q(db, "SELECT a, b, c, d FROM t");
  REQUIRE(q.executeStep());
  CHECK(sql::text_or_null(q.getColumn(0)) == Json(nullptr));
  CHECK(sql::text_or_null(q.getColumn(1)) == Json("text"));
  CHECK(sql::int_or_null(q.getColumn(2)) == Json(nullptr));
  CHECK(sql::int_or_null(q.getColumn(3)) == Json(42));
  CHECK(sql::int_or_null(q.getColumn(3)).is_number_integer());
}

TEST_CASE("a JSON column parses its text, reads NULL as null, and throws on text that is not JSON") {
  auto db = scratch();
  db.exec(R"(INSERT INTO t (a, b, c) VALUES ('{"files":["a.cpp"]}', NULL, 'not json'))");
  SQLite::Statement q(db, "SELECT a, b, c FROM t");
  REQUIRE(q.executeStep());
  CHECK(sql::column<Json>(q.getColumn(0)) == Json{{"files", {"a.cpp"}}});
  CHECK(sql::column<Json>(q.getColumn(1)).is_null());
  CHECK_THROWS(sql::column<Json>(q.getColumn(2)));
}

TEST_CASE("a nullable column takes a JSON string or integer as it is, and anything else as NULL") {
  auto db = scratch();
  Json body{{"credential", "GIT_TOKEN"}, {"attention", nullptr}, {"count", 3}, {"label", 3}};
  SQLite::Statement ins(db, "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)");
  sql::bind_all(ins, sql::optional_text(body, "credential"), sql::optional_text(body, "attention"),
                sql::optional_text(body, "missing"), sql::optional_int(body["count"]));
  ins.exec();
  SQLite::Statement q(db, "SELECT a, b, c, d FROM t");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "GIT_TOKEN");
  CHECK(q.getColumn(1).isNull());
  CHECK(q.getColumn(2).isNull());
  CHECK(q.getColumn(3).getInt64() == 3);
  CHECK_FALSE(sql::optional_text(body["label"]));  // a number is no text
  CHECK_FALSE(sql::optional_int(Json("3")));       // nor a string a number
}
