// Benchmark "agent_start": a task created over HTTP (repository cloned into a new bwrap
// sandbox, the agent started in it, one turn) and where its time goes, per agent:
// create → sandbox ready → agent_started → first text → turn end, and the agent's own
// start split into `initialize` (from its spawn to the answer) and its session
// (session/new), as the agent_started event reports them. The mock agent always; Claude
// Code, Codex, Gemini CLI and OpenCode against the tests' fakes of their model APIs on
// 127.0.0.1, each installed once (`hearth agents install` into build/bench/agents-cache,
// not timed; HEARTH_BENCH_AGENTS=claude,codex picks some, =mock none). Goal: Claude
// Code's agent_started < 1 s after the task's creation.
#include <spdlog/spdlog.h>

#include <thread>

#include "bench/edge_util.h"
#include "sandbox/agents.h"
#include "tests/support/fake_anthropic.h"
#include "tests/support/fake_gemini.h"
#include "tests/support/fake_openai.h"

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

// A real agent installed once into the cache (npm), then shared with every run.
bool install(const std::filesystem::path& cache, const std::string& agent) {
  auto def = sandbox::find_agent(agent);
  if (!def.ok()) return false;
  if (sandbox::installed_version(cache, **def)) return true;
  std::cerr << "agent_start: installing " << agent << " into " << cache.string() << " (once, not timed)\n";
  auto command = std::string(HEARTH_BINARY) + " agents install " + agent + " --data-dir '" + cache.string() + "' >&2";
  return std::system(command.c_str()) == 0;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  const char* only = std::getenv("HEARTH_BENCH_AGENTS");
  std::vector<std::string> real;
  for (const char* agent : {"claude", "codex", "gemini", "opencode"})
    if (!only || std::string(only).find(agent) != std::string::npos) real.push_back(agent);
  std::filesystem::path cache = HEARTH_BENCH_CACHE;
  std::map<std::string, bool> installed;
  for (const auto& agent : real) installed[agent] = install(cache, agent);

  BenchEdge e("agent_start", 16, {}, {}, true);
  ScratchDir repos("agent_start_repo");
  e.connect_repo(repos.path());
  // The installed agents, shared read-only (the sandbox binds them read-only anyway).
  std::error_code ec;
  std::filesystem::remove(e.data_dir() / "agents", ec);  // empty if there
  if (!real.empty()) std::filesystem::create_directory_symlink(cache / "agents", e.data_dir() / "agents", ec);
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(30, 0);

  json out{{"benchmark", "agent_start"}};
  std::vector<Round> rounds;
  for (int i = 0; i < 5; ++i)
    if (auto r = one_task(e, cli, "mock", i)) rounds.push_back(*r);
  if (rounds.size() != 5) return 1;
  out["mock"] = figures(rounds);
  std::cout << "mock: agent_started p50 " << out["mock"]["agent_started_ms_p50"] << " ms after create\n";

  // The model APIs, faked on 127.0.0.1; every agent's secrets set at once.
  test::FakeAnthropic anthropic;
  test::FakeOpenAI openai;
  test::FakeGemini gemini;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"ANTHROPIC_API_KEY", "sk-ant-bench-" + std::string(32, 'k')},
           {"ANTHROPIC_BASE_URL", anthropic.url()},
           {"OPENAI_API_KEY", "sk-bench-" + std::string(32, 'k')},
           {"OPENAI_BASE_URL", openai.url()},
           {"CODEX_MODEL", "gpt-5.4-mini"},
           {"GEMINI_API_KEY", "AIza-bench-" + std::string(32, 'k')},
           {"GOOGLE_GEMINI_BASE_URL", gemini.url()},
           {"GEMINI_MODEL", "gemini-fake-1"},
           {"OPENCODE_MODEL", "anthropic/claude-fake-1"}}) {
    auto r = cli.Put("/v1/orgs/bench/secrets/" + name, e.auth(), json{{"value", value}}.dump(), "application/json");
    if (!r || r->status != 200) return 1;
  }
  for (const auto& agent : real) {
    if (!installed[agent]) {
      out[agent] = "not installed (npm failed)";
      continue;
    }
    rounds.clear();
    for (int i = 0; i < 3; ++i)
      if (auto r = one_task(e, cli, agent, i)) rounds.push_back(*r);
    if (rounds.empty()) {
      out[agent] = "no turn ended";
      continue;
    }
    out[agent] = figures(rounds);
    auto start = out[agent]["agent_started_ms_p50"].get<double>() - out[agent]["sandbox_ready_ms_p50"].get<double>();
    out[agent]["agent_start_after_ready_ms_p50"] = start;
    std::cout << agent << ": agent_started p50 " << out[agent]["agent_started_ms_p50"] << " ms after create, " << start
              << " ms after the sandbox was ready\n";
  }
  if (out["claude"].is_object()) {
    out["claude"]["goal_ms"] = 1000;
    out["claude"]["goal_met"] = out["claude"]["agent_started_ms_p50"].get<double>() < 1000;
  }
  print_figures(out);
  return 0;
}
