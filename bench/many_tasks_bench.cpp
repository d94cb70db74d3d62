// many_tasks: 200 tasks created at once over HTTP (8 clients) with the mock agent, each
// cloning a repository into its own bwrap sandbox and running one turn; the time until
// the organization's index shows all 200 idle, the create latency, and the peak RSS of
// the server (this process: sandboxes and agents are child processes, not counted).
// Goal: peak RSS < 300 MB.
#include <httplib.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "bench/edge_util.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

int main() {
  spdlog::set_level(spdlog::level::err);
  constexpr int kTasks = 200, kClients = 8;
  BenchEdge e("many_tasks", 16, {}, {}, true);
  ScratchDir repos("many_tasks_repo");
  e.connect_repo(repos.path());
  auto rss_start = rss_mib();
  std::atomic<bool> done{false};
  std::atomic<double> peak{rss_start};
  std::thread sampler([&] {
    while (!done) {
      auto now = rss_mib();
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  auto started = Clock::now();
  std::vector<double> create_ms(kTasks, 0);
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", e.port);
      cli.set_read_timeout(60, 0);
      for (int i = c; i < kTasks; i += kClients) {
        auto t = Clock::now();
        auto r = cli.Post("/v1/orgs/bench/tasks", e.auth(),
                          json{{"repo", "origin"}, {"prompt", "/write n.txt " + std::to_string(i)}, {"agent", "mock"}}.dump(),
                          "application/json");
        create_ms[i] = millis_since(t);
        if (!r || r->status != 201) ++failed;
      }
    });
  for (auto& t : clients) t.join();
  auto created_s = seconds_since(started);

  httplib::Client cli("127.0.0.1", e.port);
  std::size_t idle = 0;
  auto until = started + std::chrono::seconds(55);  // the benchmark stays under a minute
  while (Clock::now() < until) {
    auto r = cli.Get("/v1/orgs/bench/tasks?status=idle&limit=500", e.auth());
    if (r && r->status == 200) idle = json::parse(r->body)["items"].size();
    if (idle == kTasks) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto all_idle_s = seconds_since(started);
  done = true;
  sampler.join();
  json out{{"bench", "many_tasks"},
           {"tasks", kTasks},
           {"create_failed", failed.load()},
           {"all_created_s", created_s},
           {"create_p50_ms", percentile(create_ms, 50)},
           {"create_p99_ms", percentile(create_ms, 99)},
           {"idle", idle},
           {"waited_s_at_most", 55},
           {"all_idle_s", idle == kTasks ? all_idle_s : -1},
           {"rss_start_mib", rss_start},
           {"rss_peak_mib", peak.load()},
           {"goal_rss_mb", 300},
           {"goal_met", idle == kTasks && peak.load() * 1.048576 < 300}};
  print_figures(out);
  return idle == kTasks ? 0 : 1;
}
