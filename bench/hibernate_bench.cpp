// Benchmark "hibernate": 10,000 actors activated (created, sent a command, read), then
// left to hibernate. Reports process RSS with all of them active and after they all
// hibernated, and the latency of waking a hibernated actor with a read (p50/p99 over
// 1,000 distinct actors), against the latency of the same read on an active actor.
#include <SQLiteCpp/SQLiteCpp.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "actors/host/host.h"
#include "actors/host/step_context.h"
#include "bench/bench_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kActors = 10'000;
constexpr int kWakes = 1'000;
constexpr double kCreateBudgetS = 42;

actors::ActorType counter_type() {
  actors::ActorType t{"counter"};
  t.migrations = {{"counter", {{"0001_init.sql", "CREATE TABLE counts (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);"}}}};
  t.on_create = [](actors::StepContext& ctx, const actors::Json&) -> Status {
    ctx.db().exec("INSERT INTO counts(id, n) VALUES(1, 0)");
    return {};
  };
  t.on_queue("counter.command.add", [](actors::StepContext& ctx, const actors::Json&) -> Result<actors::Json> {
    ctx.db().exec("UPDATE counts SET n = n + 1 WHERE id = 1");
    return actors::Json::object();
  });
  t.on_action("counter.get", [](actors::ReadContext& ctx, const actors::Json&) -> Result<actors::Json> {
    return actors::Json(ctx.db.execAndGet("SELECT n FROM counts WHERE id = 1").getInt64());
  });
  return t;
}

actors::Address counter(int i) { return {"counter", {"bench", std::to_string(i)}}; }

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  ScratchDir scratch("hibernate");
  actors::HostConfig config;
  config.data_dir = scratch.path();
  config.hibernate_after = std::chrono::milliseconds(1500);
  // Creating 10,000 databases is not what this measures; fewer fsyncs keep it well
  // under a minute. Waking reads only, so the setting does not change wake latency.
  config.synchronous = storage::Synchronous::normal;
  actors::Host host(config);
  if (!host.register_type(counter_type()).ok() || !host.start().ok()) return 1;
  auto rss_start = rss_mib();

  std::cout << "hibernate: activating " << kActors << " actors\n";
  auto started = Clock::now();
  std::atomic<int> failures{0};
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  const int creators = std::getenv("HEARTH_BENCH_THREADS") ? std::atoi(std::getenv("HEARTH_BENCH_THREADS")) : 8;
  for (int t = 0; t < creators; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < kActors; i += creators) {
        // Creating files is slow on some disks; stay inside the one-minute budget.
        if (seconds_since(started) > kCreateBudgetS) break;
        ++created;
        auto a = counter(i);
        if (!host.get_or_create(a).ok() || !host.send(a, "counter.command.add", actors::Json::object()).ok() ||
            !host.call(a, "counter.get").ok())
          ++failures;
      }
    });
  for (auto& t : threads) t.join();
  auto activate_s = seconds_since(started);
  auto peak_active = host.stats().active_actors;
  auto rss_active = rss_mib();
  std::printf("  activated %d actors in %.1f s (%zu still active, %d failures), RSS %.0f MiB\n", created.load(),
              activate_s, peak_active, failures.load(), rss_active);


  auto wait_started = Clock::now();
  while (host.stats().active_actors > 0 && seconds_since(wait_started) < 30)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the last databases close
  auto rss_hibernated_raw = rss_mib();
  malloc_trim(0);  // give freed heap back to the OS, as a long-running server's allocator eventually does
  auto rss_hibernated = rss_mib();
  auto still_active = host.stats().active_actors;
  std::printf("  all hibernated after %.1f s (active now %zu), RSS %.0f MiB (%.0f MiB before malloc_trim)\n",
              seconds_since(wait_started), still_active, rss_hibernated, rss_hibernated_raw);

  std::vector<double> wake, hot;
  for (int i = 0; i < kWakes; ++i) {
    auto a = counter((i * 7919) % created.load());
    auto t0 = Clock::now();
    auto r = host.call(a, "counter.get");
    wake.push_back(millis_since(t0));
    if (!r || *r != 1) ++failures;
    t0 = Clock::now();  // the same read again, now on an active actor
    if (!host.call(a, "counter.get")) ++failures;
    hot.push_back(millis_since(t0));
  }
  std::printf("  wake a hibernated actor with a read: p50 %.3f ms, p99 %.3f ms (active actor: p50 %.3f ms)\n",
              percentile(wake, 50), percentile(wake, 99), percentile(hot, 50));
  host.shutdown();
  print_figures({{"bench", "hibernate"},
                 {"actors", created.load()},
                 {"failures", failures.load()},
                 {"activate_s", std::round(activate_s * 10) / 10},
                 {"rss_start_mib", std::round(rss_start)},
                 {"rss_active_mib", std::round(rss_active)},
                 {"rss_hibernated_mib", std::round(rss_hibernated)},
                 {"rss_hibernated_before_trim_mib", std::round(rss_hibernated_raw)},
                 {"still_active", still_active},
                 {"wake_p50_ms", std::round(percentile(wake, 50) * 1000) / 1000},
                 {"wake_p99_ms", std::round(percentile(wake, 99) * 1000) / 1000},
                 {"active_read_p50_ms", std::round(percentile(hot, 50) * 1000) / 1000}});
  return failures == 0 ? 0 : 1;
}
