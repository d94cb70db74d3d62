// Benchmark "first_event": from a prompt accepted over HTTP (its 202) to the first
// transcript event of that turn reaching an SSE client, with the mock agent in a bwrap
// sandbox. Reported for the turn's first event (the prompt itself, recorded by the
// session actor) and for the agent's first message (the whole path: loop, I/O job,
// ACP over stdio into the sandbox and back, the flusher's commit, broadcast, SSE);
// warm (the agent already running) and cold (a new session: the agent starts first).
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "bench/edge_util.h"
#include "bench/sse_client.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

namespace {

constexpr int kWarmRounds = 60;
constexpr int kColdRounds = 8;

struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  // Per turn: when its first event, its first agent message and its end arrived.
  std::map<std::int64_t, Clock::time_point> first, first_agent, ended;
};

struct Session {
  std::string path;
  Seen seen;
  std::unique_ptr<SseClient> sse;
};

std::unique_ptr<Session> open_session(BenchEdge& e, httplib::Client& cli) {
  auto r = cli.Post("/v1/orgs/bench/tasks/t/sessions", e.auth(), json{{"agent", "mock"}}.dump(), "application/json");
  if (!r || r->status != 201) std::exit(1);
  auto s = std::make_unique<Session>();
  s->path = "/v1/orgs/bench/tasks/t/sessions/" + json::parse(r->body)["session_id"].get<std::string>();
  auto* seen = &s->seen;
  s->sse = std::make_unique<SseClient>(e.port, s->path + "/events", e.auth(),
                                       [seen](const std::string& name, const std::string&, json data, Clock::time_point at) {
                                         if (name != "transcript") return;
                                         auto turn = data.value("turn", std::int64_t{0});
                                         auto kind = data.value("kind", "");
                                         std::lock_guard lock(seen->mu);
                                         seen->first.emplace(turn, at);
                                         if (kind == "agent_message") seen->first_agent.emplace(turn, at);
                                         if (kind == "turn_ended" || kind == "turn_failed") seen->ended.emplace(turn, at);
                                         seen->cv.notify_all();
                                       });
  return s;
}

// One turn: {ms from accepted to its first event, ms to the agent's first message}.
std::pair<double, double> turn(BenchEdge& e, httplib::Client& cli, Session& s, std::int64_t n) {
  auto r = cli.Post(s.path + "/prompt", e.auth(), json{{"text", "/say hello from the agent"}}.dump(), "application/json");
  auto accepted = Clock::now();
  if (!r || r->status != 202) {
    std::cerr << "prompt failed: " << (r ? r->body : "") << "\n";
    std::exit(1);
  }
  std::unique_lock lock(s.seen.mu);
  if (!s.seen.cv.wait_for(lock, std::chrono::seconds(30), [&] { return s.seen.ended.count(n) > 0; })) {
    std::cerr << "turn " << n << " never ended\n";
    std::exit(1);
  }
  auto ms = [&](Clock::time_point at) { return std::max(0.0, std::chrono::duration<double, std::milli>(at - accepted).count()); };
  return {ms(s.seen.first[n]), ms(s.seen.first_agent[n])};
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  http::EdgeConfig edge;
  edge.sse_heartbeat = std::chrono::milliseconds(200);
  BenchEdge e("first_event", 16, {}, edge, true);
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(30, 0);
  e.ready_sandbox("t");

  auto warm = open_session(e, cli);
  turn(e, cli, *warm, 1);  // starts the agent
  std::vector<double> first, agent;
  for (int i = 0; i < kWarmRounds; ++i) {
    auto [f, a] = turn(e, cli, *warm, i + 2);
    first.push_back(f);
    agent.push_back(a);
  }
  std::vector<double> cold;
  for (int i = 0; i < kColdRounds; ++i) {
    auto s = open_session(e, cli);
    cold.push_back(turn(e, cli, *s, 1).second);
  }
  std::cout << "first_event: warm agent message p50 " << percentile(agent, 50) << " ms, cold p50 " << percentile(cold, 50)
            << " ms\n";
  print_figures({{"benchmark", "first_event"},
                 {"warm_rounds", kWarmRounds},
                 {"first_event_ms_p50", percentile(first, 50)},
                 {"first_event_ms_p90", percentile(first, 90)},
                 {"first_agent_event_ms_p50", percentile(agent, 50)},
                 {"first_agent_event_ms_p90", percentile(agent, 90)},
                 {"first_agent_event_ms_max", percentile(agent, 100)},
                 {"cold_rounds", kColdRounds},
                 {"cold_first_agent_event_ms_p50", percentile(cold, 50)},
                 {"goal_p50_ms", 20}});
  return 0;
}
