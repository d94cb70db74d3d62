// The agents of sessions, alive in this process. A session's agent process is started
// in its sandbox on the session's first turn and kept for the turns that follow (it
// holds the conversation); it ends when the session closes, the sandbox stops, it sits
// idle too long, or the server stops.
//
// A turn runs on an I/O thread (the job of session.command.prompt). While it runs, the
// agent's updates become transcript events (transcript.h) that a flusher thread sends
// to the session actor as session.command.append_events as fast as they commit; a
// permission request is first made durable and announced (permission_requested), then
// waits for a person's answer, the session's policy timeout, or the turn's end. Signals
// from the session's handlers (cancel, answer, close) arrive after their step commits.
#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "actors/host/address.h"

namespace hearth::actors::sandbox {
class Runtime;
}
namespace hearth::sandbox {
class Provider;
struct SandboxDir;
namespace acp {
struct AgentSpec;
}
}  // namespace hearth::sandbox

namespace hearth::actors::session {

struct TurnPlan {
  Address session;
  Address sandbox;
  std::string agent;
  std::int64_t turn = 0;
  std::string prompt;
  std::string agent_session_id;  // the agent's session to resume when the agent restarts
  std::chrono::milliseconds permission_timeout{std::chrono::minutes(30)};
};

struct RunnerConfig {
  // A turn whose agent sends nothing for this long (and waits on no person) is cancelled
  // and fails with an error saying so.
  std::chrono::milliseconds turn_silence_timeout{std::chrono::minutes(10)};
};

class AgentRunner {
 public:
  AgentRunner(sandbox::Runtime& runtime, RunnerConfig config = {});
  ~AgentRunner();  // shutdown(), if not done
  // Stops every running turn (each ends `interrupted`, recorded by its session), ends
  // every agent, and ends the threads that serve them, waiting up to `grace` for turns to
  // finish. Call it before Host::shutdown: the host's runtime (CAF) does not stop while
  // a thread that sent to actors is still alive. Turns started afterwards fail at once.
  void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));
  AgentRunner(const AgentRunner&) = delete;
  AgentRunner& operator=(const AgentRunner&) = delete;

  sandbox::Runtime& runtime() { return runtime_; }
  // When this process started (unix ms): a turn recorded as running that started
  // earlier, and is not running here, was interrupted by the last process's end.
  std::int64_t started_at() const { return started_at_; }

  // Runs one turn to its end: {stop_reason, resumed, cancelled_by?}, or
  // the reason it failed (ErrorCode::interrupted when the server is stopping).
  Result<Json> run_turn(const TurnPlan& plan, std::stop_token server_stop);

  // Signals from the session actor, sent once its step committed.
  void cancel(const Address& session, const std::string& by);
  void answer(const Address& session, const std::string& permission_id, const Json& outcome);
  void close(const Address& session);
  // Ends the session's agent between turns: the next turn starts a fresh one (with the
  // org's secrets as they are then) that resumes the agent's session where it can.
  void restart(const Address& session);

  bool turn_running(const Address& session) const;

  struct Live;  // one session's agent and turn

 private:
  std::shared_ptr<Live> live(const Address& session, const Address& sandbox);  // made when missing
  std::shared_ptr<Live> find(const Address& session) const;                    // nullptr when missing
  void end(const std::shared_ptr<Live>& live, const std::string& why);
  // Once no turn runs in it: ends its agent and its flusher, and forgets it.
  bool tear_down(const std::shared_ptr<Live>& live, std::chrono::milliseconds wait_for_turn);
  void watch();  // the watchdog: silent turns, idle agents
  // A turn's parts. ensure_agent keeps a live agent or starts one (returning whether it
  // resumed the agent's session; false when kept); settle turns how the prompt ended and
  // why the turn was stopped into its outcome; explain redacts an error and names the
  // stop that caused it (the server, the sandbox, silence).
  Result<bool> ensure_agent(const std::shared_ptr<Live>& live, const TurnPlan& plan, const Json& sandbox);
  Result<bool> start_agent(const std::shared_ptr<Live>& live, const TurnPlan& plan, const hearth::sandbox::Provider& provider,
                           const hearth::sandbox::SandboxDir& dir, hearth::sandbox::acp::AgentSpec spec);
  Result<Json> settle(Live& live, Result<std::string> stop_reason, bool resumed) const;
  Error explain(Live& live, Error e) const;

  sandbox::Runtime& runtime_;
  RunnerConfig config_;
  std::int64_t started_at_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Live>> live_;  // by session actor id
  std::condition_variable_any watch_cv_;
  std::jthread watchdog_;
};

}  // namespace hearth::actors::session
