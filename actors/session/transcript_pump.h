// The transcript on its way to the session actor. An agent's updates are recorded into
// a TranscriptBuilder (coalesced, redacted) and a flusher thread hands what is ready to
// `send` as fast as sends return, in order, one batch at a time: people see events
// within milliseconds of the agent sending them. The one idea: the buffer between the
// agent and the disk is bounded; an agent faster than the disk waits in record() (its
// pipe fills) rather than growing the buffer without bound. Nothing recorded is dropped,
// not even at stop(): the flusher sends what it holds before it ends.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/session/transcript.h"

namespace hearth::actors::session {

class TranscriptPump {
 public:
  // Delivers `events` of `turn`, in order; called on the flusher thread, one call at a
  // time, with the pump unlocked. It owns retries: what it returns from is done.
  using Send = std::function<void(std::vector<TranscriptEvent> events, std::int64_t turn)>;
  static constexpr std::size_t kBackPressureBytes = 8u << 20;  // record() waits past this much unsent

  explicit TranscriptPump(Send send, std::size_t back_pressure_bytes = kBackPressureBytes);
  ~TranscriptPump();  // stop()
  TranscriptPump(const TranscriptPump&) = delete;
  TranscriptPump& operator=(const TranscriptPump&) = delete;

  // The turn sent with the events taken from now on (flush first: what the last turn
  // recorded and has not sent yet would go with this one).
  void set_turn(std::int64_t turn);
  std::int64_t turn() const;

  // Adds to the transcript through `add`, then waits while more than the back-pressure
  // bound is unsent (not after stop()).
  void record(const std::function<void(TranscriptBuilder&)>& add);
  // How many record() calls wait on back-pressure now, and the bytes waiting to be sent.
  int held_back() const;
  std::size_t pending_bytes() const;
  // Returns once everything recorded before the call has been sent (at once after stop()).
  void flush();
  // Closes the open message (a turn's end) and flushes.
  void finish_and_flush();

  // Redacts with this agent's secrets, for text about the agent that is not an event.
  std::string redact(const std::string& text) const;
  void redact(Json& value) const;
  // A new agent, with these secrets, starts: what it says from now on is redacted with
  // them. Events still waiting under the old redactor are dropped and counted (returned).
  std::size_t replace_redactor(std::unique_ptr<hearth::sandbox::Redactor> redactor);

  // Sends what it holds, ends the flusher and waits for it. Idempotent.
  void stop();

 private:
  void flush_loop();

  Send send_;
  const std::size_t back_pressure_bytes_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the flusher: events to take, a flush asked for, or the end
  std::condition_variable settled_;  // flushes done, back-pressure eased
  std::unique_ptr<hearth::sandbox::Redactor> redactor_ = std::make_unique<hearth::sandbox::Redactor>();
  std::unique_ptr<TranscriptBuilder> builder_ = std::make_unique<TranscriptBuilder>(*redactor_);
  std::int64_t turn_ = 0;
  bool dirty_ = false;
  int held_back_ = 0;
  std::uint64_t flush_asked_ = 0, flush_done_ = 0;
  bool stopping_ = false;
  std::thread flusher_;  // last: started once the members it reads exist
};

}  // namespace hearth::actors::session
