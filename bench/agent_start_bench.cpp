// Benchmark "agent_start": a task created over HTTP (repository cloned into a new bwrap
// sandbox, the agent started in it, one turn) and where its time goes, per agent:
// create → sandbox ready → agent_started → first text → turn end, and the agent's own
// start split into `initialize` (from its spawn to the answer) and its session
// (session/new), as the agent_started event reports them. The mock agent always; Claude
// Code against the tests' fake Anthropic API on 127.0.0.1 when it is installed or can be
// (`hearth agents install claude` into build/bench/agents-cache once, not timed; set
// HEARTH_BENCH_AGENTS=mock to skip it). Goal: Claude Code's agent_started < 1 s after the
// sandbox is ready.
#include <spdlog/spdlog.h>

#include <thread>

#include "bench/edge_util.h"
#include "sandbox/agents.h"
#include "tests/support/fake_anthropic.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Round {
  double sandbox_ready = 0, agent_started = 0, first_text = 0, turn_end = 0, initialize = 0, session = 0;
};

// One task: its milestones in ms after the create request was sent. Event times are the
// ones the server recorded (`at`); the sandbox's readiness is observed (every 5 ms).
std::optional<Round> one_task(BenchEdge& e, httplib::Client& cli, const std::string& agent, int n) {
  auto t0 = wall_ms();
  auto made = cli.Post("/v1/orgs/bench/tasks", e.auth(),
                       json{{"repo", "origin"}, {"prompt", "Say hello " + std::to_string(n)}, {"agent", agent}}.dump(),
                       "application/json");
  if (!made || made->status != 201) {
    std::cerr << agent << ": task create failed: " << (made ? made->body : "no answer") << "\n";
    return std::nullopt;
  }
  auto task = "/v1/orgs/bench/tasks/" + json::parse(made->body)["task_id"].get<std::string>();
  Round r;
  std::string session;
  bool ended = false;
  std::string last;  // what the server said last, for the message when the turn does not end
  for (int i = 0; i < 6000 && !ended; ++i) {  // at most half a minute
    if (r.sandbox_ready == 0) {
      auto box = cli.Get(task + "/sandbox", e.auth());
      if (box && box->status == 200 && json::parse(box->body)["state"] == "ready") r.sandbox_ready = double(wall_ms() - t0);
    }
    if (session.empty()) {
      auto t = cli.Get(task, e.auth());
      if (t) last = t->body;
      if (t && t->status == 200) {
        auto body = json::parse(t->body);
        if (!body["sessions"].empty()) session = task + "/sessions/" + body["sessions"][0]["session_id"].get<std::string>();
      }
    }
    if (!session.empty()) {
      auto page = cli.Get(session + "/transcript?limit=500", e.auth());
      if (page) last = page->body;
      if (page && page->status == 200) {
        auto items = json::parse(page->body)["items"];
        for (const auto& ev : items) {
          auto kind = ev["kind"].get<std::string>();
          auto at = double(ev["at"].get<std::int64_t>() - t0);
          if (kind == "agent_started" && r.agent_started == 0) {
            r.agent_started = at;
            r.initialize = ev["data"]["startup_ms"].value("initialize", 0.0);
            r.session = ev["data"]["startup_ms"].value("session", 0.0);
          }
          if (kind == "agent_message" && r.first_text == 0) r.first_text = at;
          if (kind == "turn_ended") r.turn_end = at, ended = true;
          if (kind == "turn_failed") {
            std::cerr << agent << ": the turn failed: " << ev["data"].dump() << "\n";
            return std::nullopt;
          }
        }
      }
    }
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!ended) {
    std::cerr << agent << ": the turn did not end within half a minute; the server said last: " << last << "\n";
    return std::nullopt;
  }
  return r;
}

json figures(const std::vector<Round>& rounds) {
  auto p50 = [&](double Round::*field) {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(r.*field);
    return percentile(v, 50);
  };
  return {{"rounds", rounds.size()},
          {"sandbox_ready_ms_p50", p50(&Round::sandbox_ready)},
          {"agent_started_ms_p50", p50(&Round::agent_started)},
          {"first_text_ms_p50", p50(&Round::first_text)},
          {"turn_end_ms_p50", p50(&Round::turn_end)},
          {"agent_initialize_ms_p50", p50(&Round::initialize)},
          {"agent_session_ms_p50", p50(&Round::session)}};
}

// Claude Code installed once into the cache (npm), then shared with every run.
bool install_claude(const std::filesystem::path& cache) {
  auto def = sandbox::find_agent("claude");
  if (!def.ok()) return false;
  if (sandbox::installed_version(cache, **def)) return true;
  std::cerr << "agent_start: installing Claude Code into " << cache.string() << " (once, not timed)\n";
  auto command = std::string(HEARTH_BINARY) + " agents install claude --data-dir '" + cache.string() + "' >&2";
  return std::system(command.c_str()) == 0;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  const char* only = std::getenv("HEARTH_BENCH_AGENTS");
  bool want_claude = !only || std::string(only).find("claude") != std::string::npos;
  std::filesystem::path cache = HEARTH_BENCH_CACHE;
  bool claude = want_claude && install_claude(cache);

  BenchEdge e("agent_start", 16, {}, {}, true);
  ScratchDir repos("agent_start_repo");
  e.connect_repo(repos.path());
  // The installed agents, shared read-only (the sandbox binds them read-only anyway).
  std::error_code ec;
  std::filesystem::remove(e.data_dir() / "agents", ec);  // empty if there
  if (claude) std::filesystem::create_directory_symlink(cache / "agents", e.data_dir() / "agents", ec);
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(30, 0);

  json out{{"benchmark", "agent_start"}};
  std::vector<Round> rounds;
  for (int i = 0; i < 5; ++i)
    if (auto r = one_task(e, cli, "mock", i)) rounds.push_back(*r);
  if (rounds.size() != 5) return 1;
  out["mock"] = figures(rounds);
  std::cout << "mock: agent_started p50 " << out["mock"]["agent_started_ms_p50"] << " ms after create\n";

  if (claude) {
    test::FakeAnthropic model;
    auto secret = [&](const std::string& name, const std::string& value) {
      auto r = cli.Put("/v1/orgs/bench/secrets/" + name, e.auth(), json{{"value", value}}.dump(), "application/json");
      return r && r->status == 200;
    };
    if (!secret("ANTHROPIC_API_KEY", "sk-ant-bench-" + std::string(32, 'k')) || !secret("ANTHROPIC_BASE_URL", model.url()))
      return 1;
    rounds.clear();
    for (int i = 0; i < 4; ++i)
      if (auto r = one_task(e, cli, "claude", i)) rounds.push_back(*r);
    if (rounds.empty()) return 1;
    out["claude"] = figures(rounds);
    auto start = out["claude"]["agent_started_ms_p50"].get<double>() - out["claude"]["sandbox_ready_ms_p50"].get<double>();
    out["claude"]["agent_start_after_ready_ms_p50"] = start;
    out["claude"]["goal_ms"] = 1000;
    out["claude"]["goal_met"] = start < 1000;
    std::cout << "claude: agent_started p50 " << out["claude"]["agent_started_ms_p50"] << " ms after create, "
              << start << " ms after the sandbox was ready\n";
  } else {
    out["claude"] = want_claude ? "not installed (npm failed)" : "skipped";
  }
  print_figures(out);
  return 0;
}
