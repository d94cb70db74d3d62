// Benchmark "edge_read": requests per second of an authenticated read of an org through
// the whole edge (route match, token lookup in the directory index, membership check,
// the organization actor's read action, JSON, access log, metrics), as a ratio to a bare
// cpp-httplib handler that returns the same bytes. Same run, same client, same thread
// counts; rounds alternate between the two so that machine noise hits both alike.
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "bench/edge_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kClients = 4;
constexpr auto kRound = std::chrono::milliseconds(2500);
constexpr int kRounds = 3;

// kClients keep-alive clients GET `path` for kRound; returns requests per second.
double hammer(int port, const std::string& path, const httplib::Headers& headers, int& errors) {
  std::atomic<long> done{0}, failed{0};
  std::vector<std::thread> clients;
  auto until = Clock::now() + kRound;
  auto started = Clock::now();
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      while (Clock::now() < until) {
        auto r = cli.Get(path, headers);
        if (r && r->status == 200) ++done;
        else ++failed;
      }
    });
  for (auto& t : clients) t.join();
  errors += static_cast<int>(failed.load());
  return static_cast<double>(done.load()) / seconds_since(started);
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);  // the access log would measure the terminal
  BenchEdge edge("edge_read", 8);
  std::string path = "/v1/orgs/bench";

  // The bare server answers with exactly the bytes the edge answers with.
  httplib::Client probe("127.0.0.1", edge.port);
  auto sample = probe.Get(path, edge.auth());
  if (!sample || sample->status != 200) return 1;
  std::string body = sample->body;
  httplib::Server bare;
  bare.new_task_queue = [] { return new httplib::ThreadPool(8); };
  bare.set_tcp_nodelay(true);  // as the edge does
  bare.Get(path, [&](const httplib::Request&, httplib::Response& res) { res.set_content(body, "application/json"); });
  int bare_port = bare.bind_to_any_port("127.0.0.1");
  std::thread bare_thread([&] { bare.listen_after_bind(); });
  while (!bare.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::cout << "edge_read: " << kClients << " keep-alive clients, " << kRounds << " alternating rounds of "
            << kRound.count() << " ms, " << body.size() << "-byte body\n";
  int errors = 0;
  std::vector<double> edge_rates, bare_rates;
  for (int round = 0; round < kRounds; ++round) {
    bare_rates.push_back(hammer(bare_port, path, {}, errors));
    edge_rates.push_back(hammer(edge.port, path, edge.auth(), errors));
    std::printf("  round %d: bare %.0f req/s, edge %.0f req/s\n", round + 1, bare_rates.back(), edge_rates.back());
  }
  bare.stop();
  bare_thread.join();

  double edge_rate = percentile(edge_rates, 50), bare_rate = percentile(bare_rates, 50);
  double ratio = edge_rate / bare_rate;
  std::printf("  median: bare %.0f req/s, edge %.0f req/s, ratio %.2f (goal >= 0.5)\n", bare_rate, edge_rate, ratio);
  print_figures({{"bench", "edge_read"},
                 {"clients", kClients},
                 {"bare_req_per_s", std::round(bare_rate)},
                 {"edge_req_per_s", std::round(edge_rate)},
                 {"ratio", std::round(ratio * 100) / 100},
                 {"goal_ratio", 0.5},
                 {"errors", errors}});
  return errors == 0 ? 0 : 1;
}
