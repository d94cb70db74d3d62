#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "actors/host/address.h"
#include "actors/host/workflow.h"
#include "sandbox/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_host.h"

using namespace hearth;
using namespace std::chrono_literals;

namespace {

// Reads "ack N" lines into `acked` until `until`, or (with `enough`) until that many
// more were read.
void collect_acks(sandbox::Process& child, std::set<long>& acked, std::chrono::steady_clock::time_point until,
                  std::size_t enough = SIZE_MAX) {
  std::size_t read = 0;
  while (std::chrono::steady_clock::now() < until && read < enough) {
    auto line = child.read_line(5ms);
    if (!line) continue;
    if (line->rfind("ack ", 0) == 0 && acked.insert(std::stol(line->substr(4))).second) ++read;
  }
}

sandbox::Process start_child(const std::filesystem::path& dir) {
  // The child runs with the synchronous mode this run of the tests uses.
  auto mode = std::string(storage::to_string(test::test_synchronous()));
  auto child = sandbox::Process::spawn({{HEARTH_CRASH_CHILD, dir.string(), mode}, {}, {}});
  REQUIRE(child.ok());
  auto ready = child->read_line(20s);
  REQUIRE(ready);
  REQUIRE(*ready == "ready");
  return std::move(*child);
}

}  // namespace

TEST_CASE("a message acknowledged before kill -9 is applied exactly once after restart") {
  test::TempDir dir;
  auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::set<long> acked;
  long next = 0;
  constexpr int kRounds = 8;
  // The kill comes once a random number of acks (at most half the round's messages) has
  // been read, whatever the machine's speed: the rest cannot all be accepted between that
  // read and the signal, so every kill cuts work off.
  const long kPerRound = test::test_synchronous() == storage::Synchronous::normal ? 5000 : 500;

  for (int round = 0; round < kRounds; ++round) {
    auto child = start_child(dir.path());
    std::string commands;
    for (long i = 0; i < kPerRound; ++i) commands += "send " + std::to_string(next + i) + "\n";
    next += kPerRound;
    REQUIRE(child.write(commands).ok());
    // Kill at a random point while messages are being accepted and applied.
    auto kill_at = std::uniform_int_distribution<long>(1, kPerRound / 2)(rng);
    collect_acks(child, acked, std::chrono::steady_clock::now() + 20s, static_cast<std::size_t>(kill_at));
    child.kill(SIGKILL);
    REQUIRE(child.wait(5s).ok());
    collect_acks(child, acked, std::chrono::steady_clock::now() + 50ms);  // lines printed before death
  }

  auto child = start_child(dir.path());
  REQUIRE(child.write("verify\n").ok());
  auto entries_line = child.read_line(30s);
  auto count_line = child.read_line(5s);
  REQUIRE(entries_line);
  REQUIRE(count_line);
  REQUIRE(entries_line->rfind("entries ", 0) == 0);
  auto seqs = nlohmann::json::parse(entries_line->substr(8)).get<std::vector<long>>();
  auto count = std::stol(count_line->substr(6));

  std::map<long, int> applied;
  for (auto s : seqs) ++applied[s];
  INFO("acknowledged " << acked.size() << " of " << next << ", applied " << seqs.size());
  CHECK(acked.size() > 0);
  CHECK(acked.size() < static_cast<std::size_t>(next));  // the kills did cut work off
  for (auto s : acked) CHECK_MESSAGE(applied[s] == 1, "acknowledged seq " << s << " applied " << applied[s] << " times");
  for (const auto& entry : applied) {
    long s = entry.first;
    int n = entry.second;
    CHECK_MESSAGE(n == 1, "seq " << s << " applied " << n << " times");
    CHECK((s >= 0 && s < next));
  }
  CHECK(count == static_cast<long>(seqs.size()));  // the counter moved with every entry, in the same transaction
  child.close_stdin();
  CHECK(child.wait(20s).ok());
}

TEST_CASE("a crash between two outbox deliveries: after restart the rest arrive, in commit order, once") {
  test::TempDir dir;
  {
    auto child = start_child(dir.path());
    REQUIRE(child.write("crash-before-delivery 1\nforward 0 1 2\n").ok());
    REQUIRE(child.read_line(10s) == std::optional<std::string>("armed"));
    REQUIRE(child.wait(20s).ok());  // died delivering seq 1, after seq 0 was delivered
  }
  auto child = start_child(dir.path());
  REQUIRE(child.write("verify-forwarded\n").ok());
  auto line = child.read_line(30s);
  REQUIRE(line);
  REQUIRE(line->rfind("entries ", 0) == 0);
  CHECK(nlohmann::json::parse(line->substr(8)) == nlohmann::json::array({0, 1, 2}));
  child.close_stdin();
  CHECK(child.wait(20s).ok());
}

TEST_CASE("a poison message that kills the process is run at most 1 + kMaxCrashedRuns times across restarts, then "
          "parked as failed with the reason, and the actor goes on") {
  test::TempDir dir;
  {
    auto child = start_child(dir.path());
    child.close_stdin();
    REQUIRE(child.wait(30s).ok());  // a clean stop
  }
  // Accepted while no process ran (as if committed by one that then stopped): a message
  // whose handler aborts the process, and one behind it.
  {
    SQLite::Database db(actors::database_path(dir.path(), test::ledger("crash")).string(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO queue_messages(queue, body_json, status, enqueued_at) VALUES "
            "('ledger.command.abort', '{}', 'pending', 0), ('ledger.command.append', '{\"seq\":1000}', 'pending', 0)");
  }
  // The first start runs it (uncounted: the last stop was clean) and dies; each start after
  // runs it again, counted, and dies too, until the count is past the limit: the start
  // that finds it so parks it.
  int deaths = 0;
  for (;;) {
    auto mode = std::string(storage::to_string(test::test_synchronous()));
    auto child = sandbox::Process::spawn({{HEARTH_CRASH_CHILD, dir.path().string(), mode}, {}, {}});
    REQUIRE(child.ok());
    // Its answers, past the log lines (stderr comes on the same pipe, in any order).
    auto answer = [&](std::chrono::seconds limit) {
      auto line = child->read_line(limit);
      while (line && line->starts_with("[")) line = child->read_line(limit);
      return line;
    };
    auto ready = answer(20s);
    if (ready) (void)child->write("verify\n");  // fails when it is dead already
    auto entries = ready ? answer(30s) : std::nullopt;
    if (!entries) {  // it died running the message again
      REQUIRE(child->wait(30s).ok());
      ++deaths;
      REQUIRE_MESSAGE(deaths <= 1 + actors::kMaxCrashedRuns, "the poison message ran " << deaths << " times");
      continue;
    }
    // Alive: the message was parked, and seq 1000 behind it applied.
    CHECK(deaths == 1 + actors::kMaxCrashedRuns);
    CHECK(*entries == "entries [1000]");
    REQUIRE(answer(5s));  // count
    REQUIRE(child->write("failed\n").ok());
    auto failed = answer(10s);
    REQUIRE(failed);
    REQUIRE(failed->rfind("failed ", 0) == 0);
    auto items = nlohmann::json::parse(failed->substr(7))["items"];
    REQUIRE(items.size() == 1);
    CHECK(items[0]["queue"] == "ledger.command.abort");
    auto reason = items[0]["error"]["message"].get<std::string>();
    CHECK_MESSAGE(reason.find("the server stopped 4 times while this message's step ran") != std::string::npos, reason);
    CHECK(reason.find("parked") != std::string::npos);
    child->close_stdin();
    CHECK(child->wait(20s).ok());
    break;
  }
}
