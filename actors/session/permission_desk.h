// Where an agent's permission requests wait for a person. The one idea: a request is
// made durable (and announced) before anything waits on it, and every wait ends: with a
// person's answer, the session policy's refusal at its timeout, or cancelled when the
// turn stops or the agent ends. The desk holds no I/O of its own: recording a request
// and its timeout are the caller's calls, made with the desk unlocked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "actors/host/address.h"

namespace hearth::actors::session {

// The answer that refuses: the agent's reject_once option, else reject_always, else cancelled.
Json refusal(const Json& options);

class PermissionDesk {
 public:
  // How long an ask waits, after its timeout was recorded, for the policy's answer to arrive.
  static constexpr std::chrono::seconds kAnswerGrace{5};

  struct Calls {
    // Records request `id` durably and announces it. Returns the outcome when the
    // session's policy answers at once, nullopt when a person is to answer, or an error
    // when it could not be recorded (the agent is then refused).
    std::function<Result<std::optional<Json>>(const std::string& id)> request;
    // Records that nobody answered `id` in time; returns the policy's outcome, if any.
    std::function<std::optional<Json>(const std::string& id)> time_out;
  };

  // Asks for an answer to a request offering `options` and returns the outcome to give
  // the agent: a person's answer, the policy's, a refusal when the request could not be
  // recorded, or {"outcome": "cancelled"} when the turn stopped or the agent ended.
  // Blocks the calling thread (an agent request's) for up to `timeout` plus kAnswerGrace.
  Json ask(const Json& options, const Calls& calls, std::chrono::milliseconds timeout);

  // A person's answer to `id`; wakes its ask. False when `id` waits on no ask here or
  // was answered already.
  bool answer(const std::string& id, const Json& outcome);

  // The turn stopped: every ask waiting ends cancelled now, and so does every ask made
  // before reopen() (at the next turn's start).
  void cancel_all();
  void reopen();
  // The agent ends: as cancel_all(), for good, and an ask past its timeout stops waiting
  // for the policy's answer too.
  void close();

 private:
  std::mutex mu_;
  std::condition_variable changed_;  // an answer, cancel_all, close
  std::map<std::string, std::optional<Json>> answers_;  // permission id -> outcome once given
  bool stopped_ = false;  // until reopen()
  bool closed_ = false;   // for good
};

}  // namespace hearth::actors::session
