// The client side of the Agent Client Protocol (v1): runs an agent in a sandbox and
// speaks NDJSON JSON-RPC with it over stdio. It serves the agent's requests itself:
// fs/* strictly inside the work dir (WorkdirFs), terminal/* through the exec channel in
// the same sandbox (Terminals, terminals.h), session/request_permission through a
// callback (people answer those).
// Everything blocks: run it on long-work threads, never on an actor's loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox/provider.h"

namespace hearth::sandbox::acp {

using Json = nlohmann::json;

struct AgentCallbacks {
  // Each session/update's `update` object, in order.
  std::function<void(const Json& update)> on_update;
  // session/request_permission params -> the `outcome` object to answer with
  // ({"outcome":"selected","optionId":…} or {"outcome":"cancelled"}). May block.
  std::function<Json(const Json& params)> on_permission;
  // What the agent writes on stderr (free-form logging), in chunks.
  std::function<void(std::string_view text)> on_stderr;
};

// Bounds on what an agent may hold at once: requests being served (each on a thread)
// and terminals not yet released. Past them, the request is answered with an error.
inline constexpr std::size_t kMaxRequestsAtOnce = 32;
inline constexpr std::size_t kMaxTerminals = 16;
// The longest line (one JSON-RPC message) an agent may send; past it the connection
// fails with the reason, and no more of it is held.
inline constexpr std::size_t kMaxLineBytes = 32u << 20;

struct AgentSpec {
  ExecRequest exec;  // the agent's program, env, binds, network, limits (no wall clock: turns are long)
  std::chrono::milliseconds start_timeout{std::chrono::seconds(30)};  // initialize + session/new
  std::chrono::milliseconds cancel_grace{std::chrono::seconds(10)};   // after session/cancel
  // Once its input is closed, how long an agent has to end by itself (saving what it
  // keeps: Gemini CLI writes its session record after it answers) before it is killed.
  std::chrono::milliseconds exit_grace{std::chrono::seconds(3)};
  // An agent session to resume (session/load) when the agent supports it; the history
  // it replays is not passed to on_update (the caller has it). Else a new session.
  std::string load_session_id;
  // Whether to offer it fs/* (AgentDef::client_fs); without, it does its own file I/O.
  bool serve_fs = true;
};

class AgentConnection {
 public:
  // Starts the agent in `dir`, initializes (protocol 1) and opens a session in the work
  // dir. An agent that asks for authentication first (-32000) is authenticated with the
  // first method it offers whose environment variables the spec sets. Fails with the
  // reason (not startable, exited, no answer in time, wrong protocol), with the end of
  // what the agent wrote on stderr when it has exited.
  static Result<std::unique_ptr<AgentConnection>> start(const Provider& provider, const SandboxDir& dir,
                                                        AgentSpec spec, AgentCallbacks callbacks);
  // Ends the agent and every terminal it started: closes its input, waits `exit_grace`
  // for it to end by itself, then kills what is left.
  ~AgentConnection();

  const std::string& session_id() const;
  const Json& agent_info() const;  // initialize's result
  bool loaded() const;             // the session was resumed with session/load
  // How long the start took, in ms: {"initialize": from spawn to its answer, "session":
  // then to session/new's (or session/load's) answer, authentication included}.
  Json startup_ms() const;
  bool alive() const;              // the agent process still runs and speaks ACP
  // Kills the agent's whole process group now, from any thread; a turn in progress then
  // fails with "the agent exited".
  void kill();
  // Closes the agent's input, from any thread: an agent ends by itself once it has read
  // everything, after it saved what it keeps (the way to end one between turns).
  void end_input();

  // One turn: sends the prompt and returns the stop reason once the agent answers. A stop
  // request sends session/cancel and waits `cancel_grace` for the answer. Fails when the
  // agent answers an error, exits, or writes what is not ACP.
  Result<std::string> prompt(const std::string& text, std::stop_token stop = {});

  struct Impl;

 private:
  explicit AgentConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::sandbox::acp
