// The audit log's hash chain: verify passes on an untouched log and names the first
// entry that was edited, and the place where entries were deleted (also the newest).
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "actors/audit/audit_actor.h"
#include "actors/host/workflow.h"
#include "tests/support/test_host.h"

namespace hearth::test {
namespace {

namespace audit = actors::audit;

struct AuditLog {
  explicit AuditLog(const TempDir& dir) : host(std::make_unique<actors::Host>(quick_config(dir.path()))) {
    REQUIRE(host->register_type(audit::make_type()).ok());
    REQUIRE(host->start().ok());
    REQUIRE(host->get_or_create(audit::address("org1")).ok());
  }
  void append(int n) {
    for (int i = 0; i < n; ++i)
      REQUIRE(host->send(audit::address("org1"), audit::kAppend,
                         {{"username", "ana"}, {"kind", "POST /tasks"}, {"target", "task"}, {"outcome", "ok"},
                          {"detail", {{"i", i}}}},
                         waiting())
                  .ok());
  }
  nlohmann::json verify() { return *host->call(audit::address("org1"), audit::kVerify); }
  std::unique_ptr<actors::Host> host;
};

// Changes the log's database with `sql` while no server runs, as someone with the file could.
void tamper(const TempDir& dir, const std::string& sql) {
  SQLite::Database db(actors::database_path(dir.path(), audit::address("org1")).string(), SQLite::OPEN_READWRITE);
  db.exec(sql);
}

}  // namespace

TEST_CASE("audit chain: intact, then an edited row, a deleted row and deleted newest rows are each found") {
  TempDir dir;
  {
    AuditLog log(dir);
    log.append(5);
    auto v = log.verify();
    CHECK(v["ok"] == true);
    CHECK(v["entries"] == 5);
    auto items = *log.host->call(audit::address("org1"), audit::kList, {{"limit", 2}});
    CHECK(items["items"].size() == 2);
    CHECK(items["items"][0]["seq"] == 5);
    CHECK(items["items"][0]["prev_hash"] == (*log.host->call(audit::address("org1"), audit::kList, {{"before", 5}, {"limit", 1}}))["items"][0]["hash"]);
  }
  tamper(dir, "UPDATE entries SET username = 'mallory' WHERE seq = 2");
  {
    AuditLog log(dir);
    auto v = log.verify();
    CHECK(v["ok"] == false);
    CHECK(v["first_bad"]["seq"] == 2);
    CHECK(v["first_bad"]["reason"].get<std::string>().find("edited") != std::string::npos);
  }
  tamper(dir, "UPDATE entries SET username = 'ana' WHERE seq = 2");
  {
    AuditLog log(dir);
    CHECK(log.verify()["ok"] == true);  // put back exactly as it was, the chain holds again
  }
  tamper(dir, "DELETE FROM entries WHERE seq = 3");
  {
    AuditLog log(dir);
    auto v = log.verify();
    CHECK(v["ok"] == false);
    CHECK(v["first_bad"]["seq"] == 3);
    CHECK(v["first_bad"]["reason"].get<std::string>().find("missing") != std::string::npos);
  }
  TempDir fresh;
  {
    AuditLog log(fresh);
    log.append(4);
  }
  tamper(fresh, "DELETE FROM entries WHERE seq = 4");
  {
    AuditLog log(fresh);
    auto v = log.verify();
    CHECK(v["ok"] == false);
    CHECK(v["first_bad"]["reason"].get<std::string>().find("newest") != std::string::npos);
    // Appending goes on after the gap rather than reusing the deleted number.
    log.append(1);
    CHECK((*log.host->call(audit::address("org1"), audit::kList, {{"limit", 1}}))["items"][0]["seq"] == 5);
  }
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("audit list: each filter alone and all together keep only the entries that match") {
  TempDir dir;
  AuditLog log(dir);
  auto add = [&](const char* user_id, const char* username, const char* kind, const char* task, std::int64_t at) {
    REQUIRE(log.host
                ->send(audit::address("org1"), audit::kAppend,
                       {{"user_id", user_id}, {"username", username}, {"kind", kind}, {"task_id", task},
                        {"repo_id", "r1"}, {"at", at}},
                       waiting())
                .ok());
  };
  add("u1", "ana", "POST /tasks", "t1", 100);
  add("u2", "bo", "POST /tasks/t1/push", "t1", 200);
  add("u1", "ana", "DELETE /tasks/t2", "t2", 300);
  auto seqs = [&](nlohmann::json args) {
    auto page = log.host->call(audit::address("org1"), audit::kList, args);
    REQUIRE(page.ok());
    std::vector<std::int64_t> out;
    for (const auto& e : (*page)["items"]) out.push_back(e["seq"].get<std::int64_t>());
    return out;
  };
  CHECK(seqs({{"user", "u1"}}) == std::vector<std::int64_t>{3, 1});
  CHECK(seqs({{"user", "bo"}}) == std::vector<std::int64_t>{2});
  CHECK(seqs({{"kind", "POST /tasks"}}) == std::vector<std::int64_t>{2, 1});
  CHECK(seqs({{"task", "t2"}}) == std::vector<std::int64_t>{3});
  CHECK(seqs({{"repo", "r2"}}).empty());
  CHECK(seqs({{"since", 200}}) == std::vector<std::int64_t>{3, 2});
  CHECK(seqs({{"until", 200}}) == std::vector<std::int64_t>{1});
  CHECK(seqs({{"before", 3}, {"limit", 1}}) == std::vector<std::int64_t>{2});
  CHECK(seqs({{"user", "ana"}, {"kind", "POST"}, {"task", "t1"}, {"repo", "r1"}, {"since", 50}, {"until", 150}}) ==
        std::vector<std::int64_t>{1});
}

}  // namespace hearth::test
