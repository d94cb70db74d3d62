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
