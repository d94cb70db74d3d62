// Benchmark "sandbox_ready": create-to-ready of a bwrap sandbox with a clone of a
// 1,000-file local repository, through the HTTP API and the sandbox actor, as a ratio
// to the same work done bare in the same run: `git clone` of the repository plus
// `bwrap … true`. Rounds alternate so that both see the same machine.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "bench/edge_util.h"
#include "sandbox/exec.h"
#include "sandbox/process.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kFiles = 1000;
constexpr int kRounds = 12;

int sh(const std::string& script) {
  auto p = sandbox::Process::spawn({{"sh", "-c", script}, {}, {}, true});
  if (!p) return -1;
  while (p->read_line(std::chrono::seconds(60))) {
  }
  auto code = p->wait(std::chrono::seconds(60));
  return code ? *code : -1;
}

// A repository of kFiles small files in 20 directories, one commit.
void make_repo(const std::filesystem::path& at) {
  std::filesystem::create_directories(at);
  for (int i = 0; i < kFiles; ++i) {
    auto dir = at / ("dir" + std::to_string(i % 20));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / ("file" + std::to_string(i) + ".txt")) << "line " << i << "\n" << std::string(200, 'x') << "\n";
  }
  if (sh("cd '" + at.string() + "' && git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm files") != 0)
    std::exit(1);
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  http::EdgeConfig edge;
  edge.sse_heartbeat = std::chrono::milliseconds(200);
  BenchEdge e("sandbox_ready", 8, {}, edge, true);
  ScratchDir repos("sandboxes_ready_repo");  // outside the data dir
  auto repo = repos.path() / "origin";
  make_repo(repo);
  {
    httplib::Client admin("127.0.0.1", e.port);
    admin.set_read_timeout(30, 0);
    auto r = admin.Post("/v1/orgs/bench/repos", e.auth(), nlohmann::json{{"url", "file://" + repo.string()}}.dump(),
                        "application/json");
    if (!r || r->status != 201) {
      std::cerr << "cannot connect the repository: " << (r ? r->body : "no answer") << "\n";
      return 1;
    }
  }
  auto bwrap = sandbox::make_provider("bwrap");
  if (!bwrap) return 1;
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(60, 0);

  std::vector<double> hearth, bare, clone_ms, true_ms;
  for (int round = 0; round < kRounds; ++round) {
    // Bare: git clone on the host, then one bwrap process.
    auto dir = e.data_dir() / ("bare-" + std::to_string(round));
    auto t0 = Clock::now();
    if (sh("git clone --quiet 'file://" + repo.string() + "' '" + dir.string() + "'") != 0) return 1;
    auto cloned = millis_since(t0);
    auto t1 = Clock::now();
    sandbox::SandboxDir box{dir};
    constexpr sandbox::SandboxUser user{1'900'999'001, 1'900'999'001};
    if (!sandbox::make_sandbox_dirs(box, user)) return 1;
    sandbox::ExecRequest just_true{{"true"}};
    just_true.user = user;
    auto ran = sandbox::run(**bwrap, box, just_true, "", [](int, std::string_view) {});
    if (!ran || ran->exit_code != 0) return 1;
    true_ms.push_back(millis_since(t1));
    clone_ms.push_back(cloned);
    bare.push_back(millis_since(t0));

    // Hearth: POST the sandbox, wait for its ready broadcast.
    auto task = "t" + std::to_string(round);
    auto address = actors::Address{"sandbox", {e.org_id, task}};
    auto sub = e.host->subscribe(address);
    auto t2 = Clock::now();
    auto r = cli.Post("/v1/orgs/bench/tasks/" + task + "/sandbox", e.auth(),
                      nlohmann::json{{"repo", "origin"}}.dump(), "application/json");
    if (!r || r->status != 201) {
      std::cerr << "create failed: " << (r ? r->body : httplib::to_string(r.error())) << "\n";
      return 1;
    }
    for (;;) {
      auto ev = sub->next(std::chrono::seconds(30));
      if (!ev) {
        std::cerr << "no ready event\n";
        return 1;
      }
      if (ev->name == "sandbox.state.changed" && ev->payload.value("state", "") != "provisioning") {
        if (ev->payload["state"] != "ready") {
          std::cerr << "sandbox " << ev->payload.dump() << "\n";
          return 1;
        }
        break;
      }
    }
    hearth.push_back(millis_since(t2));
  }
  auto h = percentile(hearth, 50), b = percentile(bare, 50);
  std::cout << "sandbox_ready: hearth p50 " << h << " ms, bare clone+bwrap p50 " << b << " ms\n";
  print_figures({{"benchmark", "sandbox_ready"},
                 {"files", kFiles},
                 {"rounds", kRounds},
                 {"hearth_ms_p50", h},
                 {"hearth_ms_p90", percentile(hearth, 90)},
                 {"bare_ms_p50", b},
                 {"bare_clone_ms_p50", percentile(clone_ms, 50)},
                 {"bare_bwrap_true_ms_p50", percentile(true_ms, 50)},
                 {"ratio", h / b},
                 {"goal_ratio", 1.2}});
  return 0;
}
