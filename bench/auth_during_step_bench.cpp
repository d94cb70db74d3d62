// Benchmark "auth_during_step": latency of token-authenticated requests for an org
// while that org's actor runs a 30-second queue step, against the same requests on the
// idle actor in the same run. Each request resolves the token in the directory's index,
// checks membership and reads the organization: none of it may wait behind the step.
#include <spdlog/spdlog.h>

#include <thread>

#include "actors/organization/organization_actor.h"
#include "bench/edge_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr auto kStep = std::chrono::seconds(30);

std::vector<double> requests_for(BenchEdge& edge, const std::string& path, std::chrono::milliseconds span,
                                 int& errors) {
  httplib::Client cli("127.0.0.1", edge.port);
  cli.set_keep_alive(true);
  cli.set_read_timeout(60, 0);
  std::vector<double> lat;
  auto until = Clock::now() + span;
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    auto r = cli.Get(path, edge.auth());
    lat.push_back(millis_since(t0));
    if (!r || r->status != 200) ++errors;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return lat;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  auto stepping = std::make_shared<std::atomic<bool>>(false);
  BenchEdge edge("auth_during_step", 8, [stepping](actors::ActorType& type) {
    if (type.name != "organization") return;
    type.on_queue("bench.long_step", [stepping](actors::StepContext&, const actors::Json&) -> Result<actors::Json> {
      stepping->store(true);
      std::this_thread::sleep_for(kStep);
      stepping->store(false);
      return actors::Json::object();
    });
  });
  int errors = 0;
  auto idle_org = requests_for(edge, "/v1/orgs/bench", std::chrono::seconds(2), errors);
  auto idle_list = requests_for(edge, "/v1/orgs", std::chrono::milliseconds(500), errors);

  std::cout << "auth_during_step: " << kStep.count() << " s step running on the org's actor\n";
  std::thread step([&] {
    actors::SendOptions o;
    o.wait = false;  // acknowledged when the step's batch commits, 30 s from now
    (void)edge.host->send(actors::organization::address(edge.org_id), "bench.long_step", actors::Json::object(), o);
  });
  while (!stepping->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<double> during_list;
  std::thread lister([&] { during_list = requests_for(edge, "/v1/orgs", kStep - std::chrono::seconds(2), errors); });
  auto during = requests_for(edge, "/v1/orgs/bench", kStep - std::chrono::seconds(2), errors);
  bool still_stepping = stepping->load();
  lister.join();
  step.join();

  auto r3 = [](double v) { return std::round(v * 1000) / 1000; };
  std::printf("  idle org:     %zu requests, p50 %.3f ms, p99 %.3f ms\n", idle_org.size(), percentile(idle_org, 50),
              percentile(idle_org, 99));
  std::printf("  during step:  GET /v1/orgs/bench %zu requests, p50 %.3f ms, p99 %.3f ms, max %.3f ms "
              "(step still running at the end: %s)\n",
              during.size(), percentile(during, 50), percentile(during, 99), percentile(during, 100),
              still_stepping ? "yes" : "no");
  std::printf("                GET /v1/orgs %zu requests, p50 %.3f ms, p99 %.3f ms\n", during_list.size(),
              percentile(during_list, 50), percentile(during_list, 99));
  print_figures({{"bench", "auth_during_step"},
                 {"step_s", kStep.count()},
                 {"requests", during.size() + during_list.size()},
                 {"errors", errors},
                 {"p50_ms", r3(percentile(during, 50))},
                 {"p99_ms", r3(percentile(during, 99))},
                 {"max_ms", r3(percentile(during, 100))},
                 {"list_p50_ms", r3(percentile(during_list, 50))},
                 {"list_p99_ms", r3(percentile(during_list, 99))},
                 {"idle_p50_ms", r3(percentile(idle_org, 50))},
                 {"idle_p99_ms", r3(percentile(idle_org, 99))},
                 {"step_still_running", still_stepping},
                 {"goal_p99_ms", 50}});
  return errors == 0 && still_stepping ? 0 : 1;
}
