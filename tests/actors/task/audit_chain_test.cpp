// The audit log's hash chain: verify passes on an untouched log and names the first
// entry that was edited, and the place where entries were deleted (also the newest).
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "actors/audit/audit_actor.h"
#include "actors/task/task_actor.h"
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

TEST_CASE("task titles and branch names derived from a prompt") {
  using actors::task::derive_title;
  // In the prompt's words by default.
  CHECK(derive_title("fix the flaky test in parser.cpp\nmore words") == "fix the flaky test in parser.cpp");
  CHECK(derive_title("\n\n  docs: explain the queue") == "docs: explain the queue");
  CHECK(derive_title("Add a <b>dark</b> mode!") == "Add a <b>dark</b> mode!");
  CHECK(derive_title("/write hello.txt   Hello\tthere") == "write hello.txt Hello there");
  CHECK(derive_title("   ") == "untitled task");
  CHECK(derive_title(std::string(300, 'x')).size() == 72);
  auto words = derive_title("make the parser accept trailing commas in every list and every map it reads from files");
  CHECK(words == "make the parser accept trailing commas in every list and every map it");  // cut between words
  CHECK(derive_title(std::string(69, 'a') + " é") == std::string(69, 'a') + " é");  // 72 bytes: kept
  CHECK(derive_title(std::string(71, 'a') + "é") == std::string(71, 'a'));  // never half a character
  // With the org's conventional_titles, a Conventional Commits type first, as the reference does.
  CHECK(derive_title("fix the flaky test in parser.cpp", true) == "fix: fix the flaky test in parser.cpp");
  CHECK(derive_title("docs: explain the queue", true) == "docs: explain the queue");
  CHECK(derive_title("Add a dark mode", true) == "feat: Add a dark mode");
  CHECK(actors::task::derive_branch("fix: the flaky parser test", "k3x9") == "hearth/the-flaky-parser-test-k3x9");
  CHECK(actors::task::derive_branch("feat: ÜBER große Änderung", "a1b2") == "hearth/uber-grosse-anderung-a1b2");
  CHECK(actors::task::derive_branch("Équipe café", "a1b2") == "hearth/equipe-cafe-a1b2");
  CHECK(actors::task::derive_branch("日本語", "zz01") == "hearth/task-zz01");
  CHECK(actors::task::derive_branch("feat: !!!", "zz00") == "hearth/task-zz00");
}

}  // namespace hearth::test
