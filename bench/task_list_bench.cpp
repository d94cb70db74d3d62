// task_list: listing an organization's tasks with 10,000 of them in its index, through
// the full HTTP edge: p50/p99 of the first page, of filtered listings (repo, status,
// owner, search) and of deep pages reached by cursor; and how many task actors the
// listings woke (goal: none; goal p99 < 50 ms). 20 tasks are real (created over HTTP,
// worked by the mock agent, then hibernated); the other 9,980 summaries reach the index
// the way task actors send theirs (organization.command.task_changed). Baseline, same
// run: GET /v1/orgs/{org} (one small read through the same edge).
#include <httplib.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "actors/organization/organization_actor.h"
#include "bench/edge_util.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

namespace {

std::int64_t active_tasks(actors::Host& host) {
  for (const auto& c : host.actor_counts())
    if (c.type == "task") return c.active;
  return 0;
}

std::vector<double> time_gets(httplib::Client& cli, const httplib::Headers& auth, const std::vector<std::string>& paths,
                              int rounds) {
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r)
    for (const auto& p : paths) {
      auto t = Clock::now();
      auto res = cli.Get(p, auth);
      ms.push_back(millis_since(t));
      if (!res || res->status != 200) {
        std::cerr << "GET " << p << " failed: " << (res ? res->body : "no answer") << "\n";
        std::exit(1);
      }
    }
  return ms;
}

json figures(const std::vector<double>& ms) {
  return {{"p50_ms", percentile(ms, 50)}, {"p99_ms", percentile(ms, 99)}, {"max_ms", percentile(ms, 100)},
          {"requests", ms.size()}};
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);  // the access log would measure the terminal
  constexpr int kReal = 20, kTotal = 10000;
  BenchEdge e("task_list", 8, {}, {}, true, std::chrono::seconds(2));
  ScratchDir repos("task_list_repo");
  e.connect_repo(repos.path());
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(30, 0);
  cli.set_keep_alive(true);

  for (int i = 0; i < kReal; ++i) {
    auto r = cli.Post("/v1/orgs/bench/tasks", e.auth(),
                      json{{"repo", "origin"}, {"prompt", "/write f.txt " + std::to_string(i)}, {"agent", "mock"}}.dump(),
                      "application/json");
    if (!r || r->status != 201) std::exit(1);
  }
  // The real ones settle, then hibernate.
  for (int i = 0; i < 600; ++i) {
    auto r = cli.Get("/v1/orgs/bench/tasks?status=idle&limit=500", e.auth());
    if (r && json::parse(r->body)["items"].size() == kReal) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 300 && active_tasks(*e.host) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // The rest of the index, as task actors would have filled it.
  auto org = actors::organization::address(e.org_id);
  auto now = static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  const char* statuses[] = {"idle", "idle", "idle", "running", "archived", "killed", "error", "conflict"};
  auto filled_at = Clock::now();
  for (int i = kReal; i < kTotal; ++i) {
    json s{{"task_id", "t_bench" + std::to_string(i)}, {"repo_id", i % 10 == 0 ? "other" : "origin"},
           {"title", "feat: synthetic task number " + std::to_string(i)}, {"branch", "hearth/synthetic-" + std::to_string(i)},
           {"base_branch", "main"}, {"status", statuses[i % 8]}, {"owner_id", i % 3 == 0 ? "u_someone" : "u_other"},
           {"owner_name", "someone"}, {"agent", "mock"}, {"attention", nullptr}, {"sessions", 1},
           {"running_sessions", 0}, {"pending_permissions", 0}, {"created_at", now - i}, {"updated_at", now - i},
           {"version", 1}};
    if (!e.host->send(org, actors::organization::kTaskChanged, s)) std::exit(1);
  }
  // Until the last of them is in the index.
  for (int i = 0; i < 600; ++i) {
    auto r = cli.Get("/v1/orgs/bench/tasks?q=number%20" + std::to_string(kTotal - 1) + "&archived=include", e.auth());
    if (r && !json::parse(r->body)["items"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto fill_s = seconds_since(filled_at);

  // Deep pages: walk 20 pages of 500 by cursor, keep each page's cursor.
  std::vector<std::string> deep;
  std::string after;
  for (int page = 0; page < 20; ++page) {
    auto path = "/v1/orgs/bench/tasks?archived=include&limit=500" + (after.empty() ? "" : "&after=" + after);
    auto r = cli.Get(path, e.auth());
    auto body = json::parse(r->body);
    if (body["next_cursor"].is_null()) break;
    after = body["next_cursor"].get<std::string>();
    deep.push_back("/v1/orgs/bench/tasks?archived=include&limit=50&after=" + after);
  }

  auto before = active_tasks(*e.host);
  auto first = time_gets(cli, e.auth(), {"/v1/orgs/bench/tasks"}, 300);
  auto filtered = time_gets(cli, e.auth(),
                            {"/v1/orgs/bench/tasks?repo=origin", "/v1/orgs/bench/tasks?status=idle",
                             "/v1/orgs/bench/tasks?owner=me", "/v1/orgs/bench/tasks?q=number%2042",
                             "/v1/orgs/bench/tasks?archived=only"},
                            60);
  auto paged = time_gets(cli, e.auth(), deep, 15);
  auto baseline = time_gets(cli, e.auth(), {"/v1/orgs/bench"}, 300);
  auto woken = active_tasks(*e.host) - before;
  std::vector<double> all = first;
  all.insert(all.end(), filtered.begin(), filtered.end());
  all.insert(all.end(), paged.begin(), paged.end());

  json out{{"bench", "task_list"},
           {"tasks", kTotal},
           {"real_task_actors", kReal},
           {"index_fill_s", fill_s},
           {"first_page", figures(first)},
           {"filtered", figures(filtered)},
           {"deep_pages", figures(paged)},
           {"all", figures(all)},
           {"baseline_org_get", figures(baseline)},
           {"task_actors_active_before", before},
           {"task_actors_woken", woken},
           {"goal_p99_ms", 50},
           {"goal_met", percentile(all, 99) < 50 && woken == 0}};
  print_figures(out);
  return 0;
}
