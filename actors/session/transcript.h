// The transcript of an agent session is a list of events: what the agent said and did
// (its ACP session/update notifications) and what Hearth recorded around it (prompts,
// permission requests and answers, turn ends). This file turns the agent's stream of
// updates into events to store: consecutive chunks of one message are coalesced (never
// reordered, never dropped), known secret values are redacted, also when a value is
// split across chunks, and no event grows past a size bound. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/redactor.h"

namespace hearth::actors::session {

using Json = nlohmann::json;

struct TranscriptEvent {
  std::string kind;  // agent_message, agent_thought, tool_call, plan, …, or a Hearth event
  Json data;
  std::int64_t at = 0;
};

// Replaces secret values in every string of `value`, at any depth.
void redact_json(const hearth::sandbox::Redactor& redactor, Json& value);
// Cuts strings longer than `max_string` (marking the cut) so that an event stays small.
void cap_json(Json& value, std::size_t max_string);
// Joins, in a page of stored events ({seq, turn, kind, at, data}), the consecutive
// events of one message: the same kind of message, turn and message_id (or none), text
// only, at most TranscriptBuilder::kMaxText together (a message streamed over several
// flushes is stored as several events). The joined item keeps the first's `at` and
// takes the last's `seq`, so that reading on after it skips none; `from_seq` is the
// first's.
void coalesce_messages(Json& items);

class TranscriptBuilder {
 public:
  static constexpr std::size_t kMaxText = 64 * 1024;     // text per message event
  static constexpr std::size_t kMaxString = 64 * 1024;   // any string in other events

  explicit TranscriptBuilder(const hearth::sandbox::Redactor& redactor) : redactor_(redactor) {}

  // One session/update notification's `update` object.
  void update(const Json& update, std::int64_t at);
  // An event Hearth records itself (it closes the open message first).
  void note(std::string kind, Json data, std::int64_t at);
  // Every event ready so far, in order. An open message is included with the text that
  // is final so far; text that follows becomes the next event.
  std::vector<TranscriptEvent> take();
  // Closes the open message, so that take() returns all of it (at a turn's end).
  void finish();
  // Bytes of text and events waiting to be taken.
  std::size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct Open {
    Open() {}
    std::string kind, message_id;
    std::int64_t at = 0;
    std::string text;
    std::optional<hearth::sandbox::Redactor::Stream> stream;
  };
  void close_open();
  void emit_text(Open& open);

  const hearth::sandbox::Redactor& redactor_;
  std::vector<TranscriptEvent> ready_;
  std::optional<Open> open_;
  std::size_t pending_bytes_ = 0;
};

}  // namespace hearth::actors::session
