// An actor database overwritten on disk (a bad disk, a careless hand): only that actor
// fails, with an error naming it and its cause; the inspector lists it as broken; every
// other actor serves on; once the file is restored from a copy, it works again.
#include <doctest/doctest.h>

#include <fstream>

#include "actors/host/workflow.h"
#include "tests/support/test_host.h"

using namespace hearth;
using namespace std::chrono_literals;
using test::ledger;
using test::waiting;

namespace {

void overwrite(const std::filesystem::path& file, std::size_t at, std::size_t count) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekp(static_cast<std::streamoff>(at));
  for (std::size_t i = 0; i < count; ++i) f.put(static_cast<char>(0xA5 ^ i));
}

}  // namespace

TEST_CASE("a corrupt actor database fails only that actor, named with its cause, listed broken by the inspector") {
  test::TempDir dir;
  auto bad = ledger("bad"), good = ledger("good");
  std::filesystem::path bad_db;
  {
    test::TestHost host(dir);
    for (const auto& a : {bad, good}) {
      REQUIRE(host->get_or_create(a).ok());
      REQUIRE(host->send(a, "ledger.command.append", {{"seq", 1}}, waiting()).ok());
    }
    bad_db = actors::database_path(dir.path(), bad);
    host->shutdown(5s);
  }
  std::filesystem::copy_file(bad_db, dir.path() / "bad.copy");
  overwrite(bad_db, 0, 100);  // the header: SQLite no longer knows the file
  std::filesystem::remove(bad_db.string() + "-wal");
  std::filesystem::remove(bad_db.string() + "-shm");

  test::TestHost host(dir);
  auto sent = host->send(bad, "ledger.command.append", {{"seq", 2}}, waiting());
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().code == ErrorCode::unavailable);
  CHECK_MESSAGE(sent.error().message.find(bad.display()) != std::string::npos, sent.error().message);
  CHECK_MESSAGE(sent.error().message.find("not a database") != std::string::npos, sent.error().message);
  auto read = host->call(bad, "ledger.entries");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().message.find(bad.display()) != std::string::npos);

  // The others serve on, reads and writes.
  REQUIRE(host->send(good, "ledger.command.append", {{"seq", 2}}, waiting()).ok());
  CHECK((*host->call(good, "ledger.entries"))["seqs"] == actors::Json::array({1, 2}));

  // The inspector lists it as broken, saying why; the good one is not.
  auto listed = host->list_actors("ledger", "", 100, std::nullopt);
  REQUIRE(listed.ok());
  int broken = 0;
  for (const auto& a : *listed) {
    if (a.address == bad) {
      CHECK(!a.active);
      CHECK_MESSAGE(a.broken.find("not a database") != std::string::npos, a.broken);
      ++broken;
    } else {
      CHECK(a.broken.empty());
    }
  }
  CHECK(broken == 1);

  // Restored from the copy: it works again and says so.
  std::filesystem::copy_file(dir.path() / "bad.copy", bad_db, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(host->send(bad, "ledger.command.append", {{"seq", 2}}, waiting()).ok());
  CHECK((*host->call(bad, "ledger.entries"))["seqs"] == actors::Json::array({1, 2}));
  auto found = host->find_actor(bad.id());
  REQUIRE(found.ok());
  CHECK(found->broken.empty());
}

TEST_CASE("a corrupt page inside an actor database fails that actor's steps and reads with SQLite's reason, others "
          "serve on") {
  test::TempDir dir;
  auto bad = ledger("bad-page"), good = ledger("good-page");
  std::filesystem::path bad_db;
  {
    test::TestHost host(dir);
    for (const auto& a : {bad, good}) {
      REQUIRE(host->get_or_create(a).ok());
      for (int seq = 1; seq <= 200; ++seq)
        REQUIRE(host->send(a, "ledger.command.append", {{"seq", seq}}).ok());
      REQUIRE(host->send(a, "ledger.command.append", {{"seq", 201}}, waiting()).ok());
    }
    bad_db = actors::database_path(dir.path(), bad);
    host->shutdown(5s);
  }
  // Every page after the first few (the schema) scrambled: the tables' data is gone.
  auto size = std::filesystem::file_size(bad_db);
  REQUIRE(size > 4 * 4096);
  overwrite(bad_db, 4 * 4096, size - 4 * 4096);
  std::filesystem::remove(bad_db.string() + "-wal");
  std::filesystem::remove(bad_db.string() + "-shm");

  test::TestHost host(dir);
  auto sent = host->send(bad, "ledger.command.append", {{"seq", 202}}, waiting());
  if (sent.ok()) FAIL("a step on a scrambled database succeeded");
  CHECK_MESSAGE((sent.error().message.find("malformed") != std::string::npos ||
                 sent.error().message.find("not a database") != std::string::npos),
                sent.error().message);
  REQUIRE(host->send(good, "ledger.command.append", {{"seq", 202}}, waiting()).ok());
  CHECK((*host->call(good, "ledger.entries"))["count"] == 202);
}
