// Benchmark "github_sync": an installation with 1,000 repositories and 10,000 open pull
// requests on a fake GitHub on 127.0.0.1 (tests/support/fake_github.h, the real wire
// format: JWT, a token minted per repository, Link pagination). Links the installation
// over HTTP (which starts a full sync) and times the sync to `done`; meanwhile signed
// webhook deliveries arrive every 20 ms and their acknowledgement (POST to answer) is
// timed (they open pull requests on one more repository, which the sync keeps). Peak RSS is the whole bench process's, the fake's data included: an upper
// bound on the server's. Goals (issue 18): sync < 30 s, RSS < 150 MB, ack p99 < 50 ms.
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench/bench_util.h"
#include "bench/edge_util.h"
#include "github/app.h"
#include "tests/support/fake_github.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

namespace {

constexpr int kRepositories = 1000;
constexpr int kPullsPerRepository = 10;
constexpr const char* kSecret = "bench-webhook-secret";

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  test::FakeGitHub github;
  std::vector<std::string> names;
  for (int i = 0; i < kRepositories; ++i) names.push_back(fmt::format("repo-{:04}", i));
  github.add_installation({.id = 42, .account = "acme-corp", .repositories = names});
  for (const auto& n : names) github.add_pull_requests("acme-corp/" + n, kPullsPerRepository);

  http::EdgeConfig edge;
  edge.github = github.app(kSecret);
  BenchEdge server("github_sync", 8, {}, std::move(edge));
  httplib::Client cli("127.0.0.1", server.port);
  cli.set_read_timeout(30, 0);
  httplib::Headers auth{{"Authorization", "Bearer " + server.token}};
  auto rss_before = rss_mib();

  auto started = Clock::now();
  auto linked = cli.Post("/v1/orgs/bench/github/installation", auth, R"({"installation_id":42})", "application/json");
  if (!linked || linked->status != 200) {
    std::cerr << "link failed: " << (linked ? linked->body : "no answer") << "\n";
    return 1;
  }

  // Deliveries while the sync runs: one every 20 ms, each acknowledgement timed.
  std::atomic<bool> done{false};
  std::vector<double> acks;
  std::thread deliveries([&] {
    httplib::Client hook("127.0.0.1", server.port);
    for (int n = 0; !done; ++n) {
      json body{{"action", "opened"},
                {"installation", {{"id", 42}}},
                {"repository", {{"id", 900000}, {"full_name", "acme-corp/hooked"},
                                {"private", true}, {"clone_url", "https://github.com/acme-corp/hooked.git"},
                                {"default_branch", "main"}}},
                {"pull_request", {{"number", n + 1}, {"title", "From a webhook"}, {"state", "open"}, {"draft", false},
                                  {"merged", false}, {"html_url", "https://github.com/acme-corp/hooked/pull/1"},
                                  {"updated_at", "2026-12-01T08:00:00Z"}, {"head", {{"ref", "f"}, {"sha", "a"}}},
                                  {"base", {{"ref", "main"}}}, {"user", {{"login", "ana"}}}}}};
      auto text = body.dump();
      httplib::Headers headers{{"X-GitHub-Event", "pull_request"}, {"X-GitHub-Delivery", fmt::format("bench-{}", n)},
                               {"X-Hub-Signature-256", test::FakeGitHub::webhook_signature(kSecret, text)}};
      auto t = Clock::now();
      auto r = hook.Post("/v1/webhooks/github", headers, text, "application/json");
      if (r && (r->status == 202 || r->status == 200)) acks.push_back(millis_since(t));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the pace of deliveries, not a race
    }
  });

  json shown;
  auto deadline = Clock::now() + std::chrono::seconds(50);
  while (Clock::now() < deadline) {
    auto r = cli.Get("/v1/orgs/bench/github", auth);
    if (r && r->status == 200) {
      shown = json::parse(r->body);
      auto phase = shown["sync"]["phase"];
      if (phase == "done" || phase == "failed") break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto sync_s = seconds_since(started);
  done = true;
  deliveries.join();
  bool ok = shown["sync"]["phase"] == "done";
  std::printf("github_sync: %d repositories, %d open pull requests: %s in %.1f s (goal < 30 s); peak RSS %.0f MiB "
              "(before %.0f; goal < 150); %zu webhook acks during the sync: p50 %.1f ms, p99 %.1f ms (goal < 50)\n",
              kRepositories, kRepositories * kPullsPerRepository, ok ? "synced" : "NOT synced", sync_s, peak_rss_mib(),
              rss_before, acks.size(), percentile(acks, 50), percentile(acks, 99));
  print_figures({{"bench", "github_sync"},
                 {"repositories", shown.value("repositories", 0)},
                 {"open_pull_requests", shown.value("open_pull_requests", 0)},
                 {"synced", ok},
                 {"sync_s", std::round(sync_s * 10) / 10},
                 {"peak_rss_mib", std::round(peak_rss_mib())},
                 {"webhook_acks", acks.size()},
                 {"webhook_ack_p50_ms", std::round(percentile(acks, 50) * 10) / 10},
                 {"webhook_ack_p99_ms", std::round(percentile(acks, 99) * 10) / 10},
                 {"tokens_minted", github.minted().size()}});
  return ok ? 0 : 1;
}
