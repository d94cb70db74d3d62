// Benchmark "pr_index": 10,000 open pull requests (100 repositories with 100 each) on a
// fake GitHub on 127.0.0.1 (tests/support/fake_github.h: the real wire format), synced
// into an organization through the real path (link over HTTP → the github-data actor's
// sync → the organization's rows). Then the org's task list is read over HTTP: the
// first page (50 rows), one repository's first page, and every page through the cursor
// (500 rows a page); the same first-page read with the pull requests excluded is the
// baseline, measured in the same run. Task actors are counted through the inspector
// before and after: listing 10,000 pull requests must wake none (there are none to
// wake: rows with no actor behind them). Goal (issue 19): list p99 < 50 ms, 0 task actors.
#include <httplib.h>

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

constexpr int kRepositories = 100;
constexpr int kPullsPerRepository = 100;
constexpr int kReads = 200;

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  test::FakeGitHub github;
  std::vector<std::string> names;
  for (int i = 0; i < kRepositories; ++i) names.push_back(fmt::format("repo-{:03}", i));
  github.add_installation({.id = 42, .account = "acme-corp", .repositories = names});
  for (const auto& n : names) github.add_pull_requests("acme-corp/" + n, kPullsPerRepository);

  http::EdgeConfig edge;
  edge.github = github.app("bench-webhook-secret");
  BenchEdge server("pr_index", 8, {}, std::move(edge));
  httplib::Client cli("127.0.0.1", server.port);
  cli.set_read_timeout(30, 0);
  auto auth = server.auth();
  auto get = [&](const std::string& path) -> json {
    auto r = cli.Get(path, auth);
    if (!r || r->status != 200) {
      std::cerr << "GET " << path << " failed: " << (r ? r->body : "no answer") << "\n";
      std::exit(1);
    }
    return json::parse(r->body);
  };
  auto task_actors = [&] { return get("/v1/inspector/actors?type=task&limit=500")["items"].size(); };

  auto started = Clock::now();
  auto linked = cli.Post("/v1/orgs/bench/github/installation", auth, R"({"installation_id":42})", "application/json");
  if (!linked || linked->status != 200) {
    std::cerr << "link failed: " << (linked ? linked->body : "no answer") << "\n";
    return 1;
  }
  // Synced, and every pull request a row of the list (the organization takes the pages
  // in order; the sweep after the last).
  json summary;
  auto deadline = Clock::now() + std::chrono::seconds(45);
  while (Clock::now() < deadline) {
    summary = get("/v1/orgs/bench/github");
    if (summary["sync"]["phase"] == "failed") break;
    if (summary["sync"]["phase"] == "done") {
      auto last = get(fmt::format("/v1/orgs/bench/tasks?pulls=only&repo=repo-{:03}&limit=500", kRepositories - 1));
      if (last["items"].size() == kPullsPerRepository) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the state we wait for
  }
  auto sync_s = seconds_since(started);
  auto actors_before = task_actors();

  auto timed = [&](const std::string& path, bool rows_expected = true) {
    std::vector<double> ms;
    for (int i = 0; i < kReads; ++i) {
      auto t = Clock::now();
      auto body = get(path);
      ms.push_back(millis_since(t));
      if (rows_expected && body["items"].empty()) {
        std::cerr << "GET " << path << " listed nothing\n";
        std::exit(1);
      }
    }
    return ms;
  };
  auto first_page = timed("/v1/orgs/bench/tasks");
  auto one_repo = timed("/v1/orgs/bench/tasks?repo=repo-042");
  auto search = timed("/v1/orgs/bench/tasks?q=Change%2099");
  // Every row, page after page of 500.
  std::vector<double> pages;
  std::size_t listed = 0;
  std::string after;
  for (int i = 0; i < 100; ++i) {
    auto t = Clock::now();
    auto page = get("/v1/orgs/bench/tasks?limit=500" + (after.empty() ? "" : "&after=" + after));
    pages.push_back(millis_since(t));
    listed += page["items"].size();
    if (!page["next_cursor"].is_string()) break;
    after = page["next_cursor"].get<std::string>();
  }
  // The baseline: the same read, the pull requests left out (an empty task list).
  auto baseline = timed("/v1/orgs/bench/tasks?pulls=exclude", false);
  auto actors_after = task_actors();

  bool ok = summary["sync"]["phase"] == "done" && listed == std::size_t(kRepositories * kPullsPerRepository) &&
            actors_after == 0;
  std::printf("pr_index: %d open pull requests synced and listed in %.1f s; %zu rows listed through the cursor "
              "(%zu pages: p50 %.1f ms, p99 %.1f ms); first page of 50: p50 %.1f ms, p99 %.1f ms (goal < 50; "
              "baseline without them p50 %.1f, p99 %.1f); one repository: p99 %.1f ms; a search: p99 %.1f ms; "
              "task actors: %zu before the reads, %zu after (goal 0)\n",
              kRepositories * kPullsPerRepository, sync_s, listed, pages.size(), percentile(pages, 50),
              percentile(pages, 99), percentile(first_page, 50), percentile(first_page, 99), percentile(baseline, 50),
              percentile(baseline, 99), percentile(one_repo, 99), percentile(search, 99), actors_before, actors_after);
  auto r1 = [](double v) { return std::round(v * 10) / 10; };
  print_figures({{"bench", "pr_index"},
                 {"open_pull_requests", kRepositories * kPullsPerRepository},
                 {"rows_listed", listed},
                 {"synced_and_listed_s", r1(sync_s)},
                 {"first_page_p50_ms", r1(percentile(first_page, 50))},
                 {"first_page_p99_ms", r1(percentile(first_page, 99))},
                 {"baseline_no_pulls_p99_ms", r1(percentile(baseline, 99))},
                 {"one_repo_p99_ms", r1(percentile(one_repo, 99))},
                 {"search_p99_ms", r1(percentile(search, 99))},
                 {"page_of_500_p99_ms", r1(percentile(pages, 99))},
                 {"task_actors", actors_after},
                 {"ok", ok}});
  return ok ? 0 : 1;
}
