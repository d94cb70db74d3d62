// The commands an ACP agent starts with terminal/create: each runs through the exec
// channel in the agent's sandbox, as the agent does (its environment, network, cgroup
// and user), on a thread of its own, keeping the last of its output up to a bound. The
// agent reads the output, waits for the exit, kills and releases them; at most
// kMaxTerminals are held at once. Used by the ACP client (client.cpp), which answers
// the agent's terminal/* requests from these.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox/provider.h"

namespace hearth::sandbox::acp {

using Json = nlohmann::json;

// One command the agent started.
class Terminal {
 public:
  // terminal/output's result: the output kept, whether older output was cut, the exit
  // status (null while it runs).
  Json output() const;
  // Blocks until the command ended; terminal/wait_for_exit's result.
  Json wait_for_exit() const;
  void kill() { stop_.request_stop(); }

 private:
  friend class Terminals;
  void append(std::string_view data);
  Json exit_status() const;  // (mu_ held)

  mutable std::mutex mu_;
  mutable std::condition_variable done_cv_;
  std::string output_;
  std::size_t limit_ = 1 << 20;
  bool truncated_ = false;
  bool done_ = false;
  std::optional<int> exit_code_;
  std::stop_source stop_;
  std::jthread runner_;  // last: joined first when the terminal goes
};

class Terminals {
 public:
  // Commands run through `provider` in `dir` as `agent` runs; both outlive this.
  Terminals(const Provider& provider, const SandboxDir& dir, const ExecRequest& agent)
      : provider_(provider), dir_(dir), agent_(agent) {}

  // Starts terminal/create's command and returns its result ({terminalId}). Throws
  // std::invalid_argument for params it cannot take or past kMaxTerminals.
  Json create(const Json& params);
  // The terminal `id`, or nullptr when there is none.
  std::shared_ptr<Terminal> find(const std::string& id) const;
  // Stops terminal `id` and forgets it; its thread is joined when the last reference goes.
  void release(const std::string& id);
  // Stops every command (the agent is going); clear() then forgets them (and joins).
  void stop_all();
  void clear();

 private:
  const Provider& provider_;
  const SandboxDir& dir_;
  const ExecRequest& agent_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Terminal>> terminals_;
  int count_ = 0;
};

}  // namespace hearth::sandbox::acp
