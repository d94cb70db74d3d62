// A full disk under a running host: the data dir on a small tmpfs, filled to the last
// byte while an I/O job runs. Sends fail with a clear error and are not accepted; the
// job's result, which no sender waits for, is kept and saved once there is room; nothing
// is applied twice and the database is intact; no restart is needed.
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "actors/host/metrics.h"
#include "tests/support/test_host.h"

using namespace hearth;
using namespace std::chrono_literals;
using actors::Json;
using test::ledger;
using test::waiting;

namespace {

// A tmpfs of `bytes` mounted on a fresh dir for the scope; unmounted (lazily) at its end.
class SmallDisk {
 public:
  explicit SmallDisk(std::size_t bytes) {
    auto options = "size=" + std::to_string(bytes) + ",mode=0700";
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::filesystem::path path() const { return dir_.path(); }

  // Writes a file until the disk refuses another byte; returns how much it took.
  std::size_t fill() {
    std::FILE* f = std::fopen((path() / "filler").c_str(), "ab");
    REQUIRE(f);
    std::setvbuf(f, nullptr, _IONBF, 0);
    std::string block(4096, 'f');
    std::size_t written = 0;
    for (;;) {
      auto n = std::fwrite(block.data(), 1, block.size(), f);
      written += n;
      if (n < block.size()) break;
    }
    for (;;) {  // what fits of a last partial block
      if (std::fwrite("f", 1, 1, f) != 1) break;
      ++written;
    }
    std::fclose(f);
    return written;
  }
  void free_space() { std::filesystem::remove(path() / "filler"); }

 private:
  test::TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

// The ledger actors' commit failures so far, from the metrics this process renders.
double commit_failures() {
  auto text = actors::Metrics::global().render();
  const std::string series = "hearth_queue_commit_failures_total{type=\"ledger\"} ";
  auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size()));
}

}  // namespace

TEST_CASE("a full disk: sends fail clearly and are not accepted, an I/O job's result waits for room, nothing lost or "
          "applied twice, no restart needed") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: mounting a small tmpfs needs root");
    return;
  }
  SmallDisk disk(24u << 20);
  REQUIRE_MESSAGE(disk.mounted(), disk.error());
  test::TempDir outside;  // the job's go-ahead lives off the small disk
  auto go = outside.path() / "go";
  std::filesystem::path data = disk.path() / "data";
  {
    test::TestHost host(data, test::quick_config(data));
    auto a = ledger("full");
    REQUIRE(host->get_or_create(a).ok());
    for (int seq = 1; seq <= 3; ++seq) REQUIRE(host->send(a, "ledger.command.append", {{"seq", seq}}, waiting()).ok());
    // A job whose result (2 MiB) needs pages the full disk cannot give.
    auto job = host->send(a, "ledger.command.start_job", {{"until_file", go.string()}, {"pad", 2u << 20}}, waiting());
    REQUIRE(job.ok());

    REQUIRE(disk.fill() > 0);
    // A send too big to fit in what the database files already hold: refused, saying why.
    const std::string pad(900u << 10, 'x');
    auto refused = host->send(a, "ledger.command.append", {{"seq", 100}, {"pad", pad}});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::unavailable);
    CHECK_MESSAGE(refused.error().message.find("disk") != std::string::npos, refused.error().message);
    CHECK_MESSAGE(refused.error().message.find("full") != std::string::npos, refused.error().message);

    // The job ends while the disk is full: its result cannot be saved yet, and is not lost.
    auto failures_before = commit_failures();
    std::ofstream(go).put('\n');
    REQUIRE(test::eventually([&] { return commit_failures() >= failures_before + 2; }, 30s));  // tried, and again
    auto job_status = [&] { return (*host->call(a, "ledger.jobs"))[0]["status"].get<std::string>(); };
    CHECK(job_status() == "running");  // reads still answer
    auto again = host->send(a, "ledger.command.append", {{"seq", 101}, {"pad", pad}});
    CHECK_FALSE(again.ok());

    // Room again: the result lands, and sends are accepted, with no restart.
    disk.free_space();
    CHECK(test::eventually([&] { return job_status() == "done"; }, 30s));
    auto jobs = *host->call(a, "ledger.jobs");
    CHECK(jobs[0]["outcome"]["result"]["pad"].get<std::string>().size() == (2u << 20));
    REQUIRE(host->send(a, "ledger.command.append", {{"seq", 4}, {"pad", pad}}, waiting()).ok());
    auto entries = *host->call(a, "ledger.entries");
    // The refused ones never applied, none twice.
    CHECK(entries["seqs"] == Json::array({1, 2, 3, 4}));
    CHECK(entries["count"] == 4);
    host->shutdown(5s);
  }
  // The database is intact.
  bool checked = false;
  for (const auto& f : std::filesystem::recursive_directory_iterator(data))
    if (f.path().extension() == ".db") {
      SQLite::Database db(f.path().string(), SQLite::OPEN_READONLY);
      CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
      checked = true;
    }
  CHECK(checked);
}
