// Sessions' agents and turns: see agent_runner.h.
//
// A turn is three steps: ensure the agent (keep the live one or start one), prompt it,
// and settle the outcome. Its transcript goes through the session's TranscriptPump and
// its permission requests wait at the session's PermissionDesk; Live holds them with the
// turn's flags and the agent's connection.
//
// Threads: a turn runs on an I/O thread; each live session has a flusher thread (its
// pump's) that moves transcript events to the session actor; the ACP client has its
// reader and a thread per agent request (a permission request waits on one); one
// watchdog thread cancels silent turns, ends idle agents and tears down ended ones.
// Handlers' signals only set flags and wake threads: they never block the actor's loop.
#include "actors/session/agent_runner.h"

#include <spdlog/spdlog.h>

#include "actors/host/host.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/secrets.h"
#include "actors/session/permission_desk.h"
#include "actors/session/session_actor.h"
#include "actors/session/transcript.h"
#include "actors/session/transcript_pump.h"
#include "sandbox/acp/client.h"
#include "sandbox/agents.h"
#include "sandbox/egress.h"
#include "storage/database.h"

namespace hearth::actors::session {

namespace sb = hearth::sandbox;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kBatchBytes = 512 * 1024;  // per append_events message

std::int64_t now() { return storage::now_ms(); }

// Sends a turn's events to the session actor as append_events messages of at most about
// kBatchBytes, retrying what may pass on a retry; what cannot is logged as lost.
void send_events(Host& host, const Address& session, std::vector<TranscriptEvent> events, std::int64_t for_turn) {
  std::size_t i = 0;
  while (i < events.size()) {
    Json batch = Json::array();
    std::size_t bytes = 0;
    for (; i < events.size() && (batch.empty() || bytes < kBatchBytes); ++i) {
      Json e{{"kind", std::move(events[i].kind)}, {"data", std::move(events[i].data)}, {"at", events[i].at}};
      // Agents' output is not always valid UTF-8 (a binary file's bytes in a tool's
      // result): invalid bytes become U+FFFD, so that the event is stored, not lost.
      auto text = e.dump(-1, ' ', false, Json::error_handler_t::replace);
      bytes += text.size();
      batch.push_back(Json::parse(text));
    }
    Json body{{"turn", for_turn}, {"events", std::move(batch)}};
    for (int attempt = 0;; ++attempt) {
      auto r = host.send(session, kAppendEvents, body);
      if (r) break;
      if (attempt >= 20 || r.error().code == ErrorCode::not_found || r.error().code == ErrorCode::invalid ||
          r.error().code == ErrorCode::too_large) {
        spdlog::error("session.events_lost session={} turn={} events={} error={}", session.display(), for_turn,
                      body["events"].size(), r.error().message);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
    }
  }
}

}  // namespace

struct AgentRunner::Live {
  Live(Host& h, const Address& session_, const Address& sandbox_)
      : session(session_), sandbox(sandbox_), host(&h),
        pump([this](std::vector<TranscriptEvent> events, std::int64_t for_turn) {
          send_events(*host, session, std::move(events), for_turn);
        }) {}

  Address session, sandbox;
  Host* host = nullptr;
  // The transcript on its way to the session actor, with this agent's redactor.
  TranscriptPump pump;

  // The agent's permission requests waiting for people.
  PermissionDesk desk;

  // The turn (flags guarded by mu; turn_mu held for the whole turn).
  std::mutex mu;
  std::timed_mutex turn_mu;
  bool turn_running = false;
  std::stop_source turn_stop;
  std::string stop_cause;  // cancel, silence, sandbox, server, close
  std::string cancelled_by;
  std::int64_t last_activity = 0;
  int waiting_on_people = 0;
  std::int64_t idle_since = 0;
  // While the agent starts, its updates wait here, so that they follow agent_started.
  bool starting = false;
  std::vector<std::pair<Json, std::int64_t>> early;
  bool ending = false;  // the agent is to be ended; torn down once no turn runs

  // The agent (conn_mu guards the pointer; only the turn thread or teardown replace it).
  std::mutex conn_mu;
  std::unique_ptr<sb::acp::AgentConnection> conn;
  bool restart = false;  // (conn_mu) the next turn starts a fresh agent, whatever this one's state
  // (conn_mu) The agent session this runner saw begin (session/new), and when (ms).
  std::string began_session;
  std::int64_t began_at = 0;
  sandbox::Runtime::Tracked tracked;
  // Connections the egress proxy refused the sandbox, into the transcript.
  sandbox::Runtime::Watch refusals;

  void stop_turn(const std::string& cause) {
    {
      std::lock_guard lock(mu);
      if (!turn_running || turn_stop.stop_requested()) return;
      stop_cause = cause;
      desk.cancel_all();
    }
    turn_stop.request_stop();
  }

  void kill_agent() {
    std::lock_guard lock(conn_mu);
    if (conn) conn->kill();
  }
  void end_agent_input() {
    std::lock_guard lock(conn_mu);
    if (conn) conn->end_input();
  }

  // The agent, taken out (to end it with the returned pointer), or used by the turn.
  std::unique_ptr<sb::acp::AgentConnection> take_agent() {
    std::lock_guard lock(conn_mu);
    return std::move(conn);
  }
  sb::acp::AgentConnection* agent() {
    std::lock_guard lock(conn_mu);
    return conn.get();
  }

  // Marks a turn running (false when the agent is ending); end_turn marks it over.
  bool begin_turn(std::int64_t turn) {
    std::lock_guard lock(mu);
    if (ending) return false;
    pump.set_turn(turn);
    turn_running = true;
    turn_stop = std::stop_source();
    desk.reopen();
    stop_cause.clear();
    cancelled_by.clear();
    last_activity = now();
    return true;
  }
  void end_turn() {
    std::lock_guard lock(mu);
    turn_running = false;
    idle_since = now();
  }

  // --- Transcript ------------------------------------------------------------------
  void record(const std::function<void(TranscriptBuilder&)>& add) {
    {
      std::lock_guard lock(mu);
      last_activity = now();
    }
    pump.record(add);
  }

  // --- Permissions -------------------------------------------------------------------
  Json ask_people(const Json& params, std::chrono::milliseconds timeout) {
    const Json options = params.value("options", Json::array());
    {
      std::lock_guard lock(mu);
      ++waiting_on_people;
      last_activity = now();
    }
    struct Done {
      Live& l;
      ~Done() {
        std::lock_guard lock(l.mu);
        --l.waiting_on_people;
        l.last_activity = now();
      }
    } done{*this};
    pump.flush();  // what the agent did before it asked is on disk first
    Json tool_call = params.value("toolCall", Json::object());
    pump.redact(tool_call);
    std::int64_t for_turn = pump.turn();
    SendOptions wait;
    wait.wait = true;
    PermissionDesk::Calls calls;
    calls.request = [&](const std::string& id) -> Result<std::optional<Json>> {
      auto r = host->send(session, kPermissionRequested,
                          {{"permission_id", id}, {"turn", for_turn}, {"tool_call", tool_call}, {"options", options}},
                          wait);
      if (!r) {
        spdlog::error("session.permission_not_recorded session={} error={}", session.display(), r.error().message);
        return r.error();
      }
      if (r->result.contains("outcome")) return std::optional<Json>(r->result["outcome"]);
      return std::optional<Json>();
    };
    calls.time_out = [&](const std::string& id) -> std::optional<Json> {
      auto t = host->send(session, kPermissionTimeout, {{"permission_id", id}}, wait);
      if (t && t->result.contains("outcome")) return t->result["outcome"];
      return std::nullopt;
    };
    return desk.ask(options, calls, timeout);
  }
};

AgentRunner::AgentRunner(sandbox::Runtime& runtime, RunnerConfig config)
    : runtime_(runtime), config_(config), started_at_(now()) {
  watchdog_ = std::jthread([this](std::stop_token stop) {
    std::mutex m;
    std::unique_lock lock(m);
    while (!stop.stop_requested()) {
      watch_cv_.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; });
      if (!stop.stop_requested()) watch();
    }
  });
}

AgentRunner::~AgentRunner() { shutdown(); }

void AgentRunner::shutdown(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  watchdog_.request_stop();
  if (watchdog_.joinable()) watchdog_.join();
  std::vector<std::shared_ptr<Live>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, l] : live_) all.push_back(l);
  }
  for (auto& l : all) end(l, "server");  // every agent at once: they end side by side
  auto deadline = Clock::now() + grace;
  for (auto& l : all) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!tear_down(l, std::max(left, std::chrono::milliseconds(100))))
      spdlog::error("session.turn_stuck_at_shutdown session={}", l->session.display());
  }
}

bool AgentRunner::tear_down(const std::shared_ptr<Live>& l, std::chrono::milliseconds wait_for_turn) {
  std::unique_lock turn(l->turn_mu, std::defer_lock);
  if (!turn.try_lock_for(wait_for_turn)) return false;  // its turn is still ending
  {
    std::lock_guard lock(mu_);
    auto it = live_.find(l->session.id());
    if (it != live_.end() && it->second == l) live_.erase(it);
  }
  l->take_agent().reset();  // ends the agent, its reader and the threads serving its requests
  l->tracked = {};
  l->pump.stop();  // after it sent what it holds
  return true;
}

std::shared_ptr<AgentRunner::Live> AgentRunner::live(const Address& session, const Address& sandbox) {
  std::lock_guard lock(mu_);
  auto& l = live_[session.id()];
  if (!l) {
    l = std::make_shared<Live>(runtime_.host(), session, sandbox);
    l->idle_since = now();
  }
  return l;
}

std::shared_ptr<AgentRunner::Live> AgentRunner::find(const Address& session) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(session.id());
  return it == live_.end() ? nullptr : it->second;
}

bool AgentRunner::turn_running(const Address& session) const {
  auto l = find(session);
  if (!l) return false;
  std::lock_guard lock(l->mu);
  return l->turn_running;
}

void AgentRunner::cancel(const Address& session, const std::string& by) {
  auto l = find(session);
  if (!l) return;
  {
    std::lock_guard lock(l->mu);
    l->cancelled_by = by;
  }
  l->stop_turn("cancel");
}

void AgentRunner::answer(const Address& session, const std::string& permission_id, const Json& outcome) {
  if (auto l = find(session)) l->desk.answer(permission_id, outcome);
}

void AgentRunner::close(const Address& session) {
  auto l = find(session);
  if (!l) return;
  end(l, "close");
}

// Quick, on the session's thread (between turns): the agent's input is closed now, so it
// ends by itself after saving its session, and the next turn (which the flag makes start
// a fresh one even if this one has not ended yet) reaps it, killing it if it lingers.
void AgentRunner::restart(const Address& session) {
  auto l = find(session);
  if (!l) return;  // no live agent: the next turn starts one anyway
  std::lock_guard c(l->conn_mu);
  l->restart = true;
  if (l->conn) l->conn->end_input();
  spdlog::info("session.agent_restart session={}", session.display());
}

// Marks the agent to be ended: a turn it runs stops and its process dies now; between
// turns its input closes, so that it ends by itself after saving its session. The
// watchdog tears the rest down once no turn runs (killing an agent that lingers).
void AgentRunner::end(const std::shared_ptr<Live>& l, const std::string& why) {
  bool turn;
  {
    std::lock_guard lock(l->mu);
    l->ending = true;
    l->desk.close();
    turn = l->turn_running;
  }
  l->stop_turn(why);
  if (turn) l->kill_agent();
  else l->end_agent_input();
  watch_cv_.notify_all();
}

void AgentRunner::watch() {
  std::vector<std::shared_ptr<Live>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, l] : live_) all.push_back(l);
  }
  auto t = now();
  auto silence = config_.turn_silence_timeout.count();
  auto idle = runtime_.config().agent_idle_timeout.count();
  for (auto& l : all) {
    bool silent = false, idle_agent = false, ending = false;
    {
      std::lock_guard lock(l->mu);
      silent = l->turn_running && l->waiting_on_people == 0 && t - l->last_activity > silence;
      idle_agent = !l->turn_running && t - l->idle_since > idle;
      ending = l->ending;
    }
    if (silent) {
      spdlog::warn("session.turn_silent session={} ms={}", l->session.display(), silence);
      l->stop_turn("silence");
    }
    if (idle_agent && !ending) {
      spdlog::info("session.agent_idle_ended session={}", l->session.display());
      end(l, "idle");
      ending = true;
    }
    if (ending) tear_down(l, std::chrono::milliseconds(0));
  }
}

// The turn, from its plan to its outcome: the agent (started or kept), the prompt, and
// the outcome settled from how the prompt ended and why the turn was stopped.
Result<Json> AgentRunner::run_turn(const TurnPlan& plan, std::stop_token server_stop) {
  if (stopping_) return Error{ErrorCode::interrupted, "interrupted: the server is stopping"};
  auto l = live(plan.session, plan.sandbox);
  std::unique_lock turn_lock(l->turn_mu);
  if (!l->begin_turn(plan.turn)) return Error{ErrorCode::conflict, "the session is closing"};
  struct TurnOver {
    Live& l;
    ~TurnOver() { l.end_turn(); }
  } turn_over{*l};
  std::stop_callback on_server_stop(server_stop, [&] { l->stop_turn("server"); });
  // A cancel recorded before this thread began the turn reached no turn (cancel() found
  // none running): the session says so now; any later one finds this turn running.
  if (auto s = runtime_.host().call(plan.session, kGet);
      s && (*s)["status"] == "cancelling" && (*s)["turn"] == plan.turn)
    l->stop_turn("cancel");

  auto sandbox = runtime_.host().call(plan.sandbox, sandbox::kGet);
  if (!sandbox) return explain(*l, sandbox.error());
  auto state = (*sandbox)["state"].get<std::string>();
  if (state != "ready")
    return Error{ErrorCode::conflict, fmt::format("the sandbox is {}; the agent can work only in a ready sandbox", state)};
  auto resumed = ensure_agent(l, plan, *sandbox);
  if (!resumed) return settle(*l, resumed.error(), false);  // a turn cancelled as its agent started is cancelled

  auto* conn = l->agent();
  auto stop_reason = conn->prompt(plan.prompt, l->turn_stop.get_token());
  l->pump.finish_and_flush();
  if (!conn->alive()) {
    l->take_agent().reset();  // reaps the dead agent: the next turn starts a fresh one
    l->tracked = {};
  }
  return settle(*l, std::move(stop_reason), *resumed);
}

Result<Json> AgentRunner::settle(Live& l, Result<std::string> stop_reason, bool resumed) const {
  std::string cause, cancelled_by;
  {
    std::lock_guard lock(l.mu);
    cause = l.stop_cause;
    cancelled_by = l.cancelled_by;
  }
  if (cause == "cancel" || cause == "close") {
    // Cancelled by a person: whatever the agent answered, the turn was cancelled.
    return Json{{"stop_reason", "cancelled"}, {"cancelled_by", cancelled_by}, {"resumed", resumed}};
  }
  if (!stop_reason) return explain(l, stop_reason.error());
  if (!cause.empty()) return explain(l, Error{ErrorCode::unavailable, "the turn was stopped"});
  return Json{{"stop_reason", *stop_reason}, {"resumed", resumed}};
}

Error AgentRunner::explain(Live& l, Error e) const {
  e.message = l.pump.redact(e.message);
  std::lock_guard lock(l.mu);
  if (l.stop_cause == "server") return Error{ErrorCode::interrupted, "interrupted: the server stopped during the turn"};
  if (l.stop_cause == "sandbox") return Error{ErrorCode::unavailable, "the sandbox was stopped during the turn"};
  if (l.stop_cause == "silence")
    return Error{ErrorCode::timeout, fmt::format("the agent sent nothing for {} s, so the turn was cancelled",
                                                 config_.turn_silence_timeout.count() / 1000)};
  return e;
}

Result<bool> AgentRunner::ensure_agent(const std::shared_ptr<Live>& l, const TurnPlan& plan, const Json& sandbox) {
  bool alive;
  {
    std::lock_guard c(l->conn_mu);
    alive = l->conn && l->conn->alive() && !l->restart;
    l->restart = false;
  }
  if (alive) return false;
  l->take_agent().reset();
  auto def = sb::find_agent(plan.agent);
  if (!def) return def.error();
  auto network = sb::network_from(sandbox["network"].get<std::string>());
  if (!network) return network.error();
  if ((*def)->needs_network && *network == sb::Network::none)
    return Error{ErrorCode::conflict, fmt::format("agent {} calls its model API over the network, but this sandbox's "
                                                  "network is none; create the sandbox with network proxy",
                                                  plan.agent)};
  auto provider = runtime_.provider(sandbox["provider"].get<std::string>());
  if (!provider) return provider.error();
  auto names = actors::sandbox::agent_secret_names(plan.agent, sandbox["agent_env"].get<std::vector<std::string>>());
  auto secrets = runtime_.open_secrets(sandbox["org_id"].get<std::string>(), names);
  if (!secrets) return explain(*l, secrets.error());
  // A new redactor, with this agent's secrets, for everything it says from now on.
  auto redactor = std::make_unique<sb::Redactor>(std::vector<std::pair<std::string, std::string>>(secrets->begin(), secrets->end()));
  if (auto dropped = l->pump.replace_redactor(std::move(redactor)); dropped > 0)
    spdlog::warn("session.events_dropped_between_agents session={} count={}", plan.session.display(), dropped);
  auto dir = runtime_.dir(plan.sandbox);
  // Under proxy its keys stay outside: it gets placeholders and the proxy's model API
  // endpoints, which put the real keys in (sandbox/egress.h).
  sb::AgentLaunch launch{runtime_.config().data_dir, runtime_.config().hearth_binary,
                         *network == sb::Network::proxy ? sb::egress::proxied_secrets(*secrets) : *secrets,
                         (*provider)->home_inside(dir)};
  auto exec = sb::agent_exec(**def, launch);
  if (!exec) return exec.error();
  exec->network = *network;
  if (auto st = runtime_.prepare(plan.sandbox, *exec); !st) return st.error();
  if ((*def)->loads_after_first_minute && !plan.agent_session_id.empty()) {
    std::int64_t began = 0;
    {
      std::lock_guard c(l->conn_mu);
      if (l->began_session == plan.agent_session_id) began = l->began_at;
    }
    // Its session began this very minute: loading it now would lose it.
    constexpr std::int64_t kMinute = 60'000;
    if (began > 0 && began / kMinute == now() / kMinute) {
      auto wait = std::chrono::milliseconds((began / kMinute + 1) * kMinute - now() + 50);
      spdlog::info("session.agent_load_waits session={} ms={}: its session began this minute", plan.session.display(),
                   wait.count());
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait_for(lock, l->turn_stop.get_token(), wait, [] { return false; });
      if (l->turn_stop.stop_requested()) return Error{ErrorCode::unavailable, "the turn was stopped before its agent started"};
    }
  }
  sb::acp::AgentSpec spec;
  spec.exec = std::move(*exec);
  spec.start_timeout = runtime_.config().agent_start_timeout;
  spec.load_session_id = plan.agent_session_id;
  spec.serve_fs = (*def)->client_fs;
  return start_agent(l, plan, **provider, dir, std::move(spec));
}

Result<bool> AgentRunner::start_agent(const std::shared_ptr<Live>& l, const TurnPlan& plan, const sb::Provider& provider,
                                      const sb::SandboxDir& dir, sb::acp::AgentSpec spec) {
  sb::acp::AgentCallbacks callbacks;
  auto* raw = l.get();
  callbacks.on_update = [raw](const Json& update) {
    {
      std::lock_guard lock(raw->mu);
      if (raw->starting) {
        raw->early.emplace_back(update, now());
        return;
      }
    }
    raw->record([&](TranscriptBuilder& b) { b.update(update, now()); });
  };
  auto timeout = plan.permission_timeout;
  callbacks.on_permission = [raw, timeout](const Json& params) { return raw->ask_people(params, timeout); };
  {
    std::lock_guard lock(l->mu);
    l->starting = true;
  }
  auto conn = sb::acp::AgentConnection::start(provider, dir, std::move(spec), std::move(callbacks));
  std::vector<std::pair<Json, std::int64_t>> early;
  {
    std::lock_guard lock(l->mu);
    l->starting = false;
    early.swap(l->early);
  }
  if (!conn) return explain(*l, conn.error());
  bool resumed = (*conn)->loaded();
  auto startup = (*conn)->startup_ms();
  Json info = (*conn)->agent_info().value("agentInfo", Json::object());
  auto agent_session = (*conn)->session_id();
  {
    std::lock_guard c(l->conn_mu);
    l->conn = std::move(*conn);
    if (!resumed) {
      l->began_session = agent_session;
      l->began_at = now();
    }
  }
  std::weak_ptr<Live> weak = l;
  l->refusals = runtime_.watch_refusals(plan.sandbox, [weak](const Json& e) {
    auto live = weak.lock();
    if (!live) return;
    live->record([&](TranscriptBuilder& b) {
      b.note("network_refused",
             {{"host", e["host"]}, {"reason", e["reason"]},
              {"message", sb::egress::refusal_text(e["host"].get<std::string>(), e["reason"].get<std::string>())}},
             e["at"].get<std::int64_t>());
    });
  });
  l->tracked = runtime_.track(plan.sandbox, "agent " + plan.session.key.back(), [weak] {
    if (auto s = weak.lock()) {
      s->stop_turn("sandbox");
      s->kill_agent();
    }
  });
  l->record([&](TranscriptBuilder& b) {
    b.note("agent_started", {{"agent", plan.agent}, {"agent_info", info}, {"agent_session_id", agent_session},
                             {"resumed", resumed}, {"startup_ms", startup}}, now());
    for (const auto& [update, at] : early) b.update(update, at);
  });
  return resumed;
}

}  // namespace hearth::actors::session
