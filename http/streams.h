// Event streams at the edge: Server-Sent Events served under the edge's rules (the
// bound on open streams, heartbeats, the re-check of the caller's credential and org
// membership, the server's stop), and positions, which tie a read to the stream that
// follows it so that a client misses nothing between the two.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/router.h"

namespace hearth::http {

// Writes one Server-Sent Events frame; false once the client is gone.
using StreamWrite = std::function<bool(const std::string& frame)>;
// One round of a stream: waits up to about half a second for something to send,
// writes it, and returns false to end the stream.
using StreamStep = std::function<bool(const StreamWrite& write)>;
// Serves `step` as an event stream under the edge's rules: the bound on open streams
// (503 past it), heartbeats, the re-check of the caller's credential and (org routes)
// membership, the server's stop. `preamble` is sent first.
Result<Reply> serve_stream(Context& ctx, StreamStep step, std::string preamble = {});

// Positions: where a read stands in its topic's stream ("<epoch>.<seq>"), so that a
// stream opened from it misses nothing. position() is taken *before* the read (the
// state then reflects at least every event up to it); positioned() puts it on the
// answer: the Hearth-Position header, and a "position" field in an object body.
std::string position(Context& ctx, const std::string& topic);
Reply positioned(Context& ctx, const std::string& position, Json body, int status = 200);
// A subscription to `topic` (an actor id) that first replays what came after
// `position` (empty: nothing); `reset` when that is no longer retained, or the position
// is malformed or from another server process: the client must read the state again.
std::shared_ptr<actors::Subscription> resume(Context& ctx, const std::string& topic, const std::string& position,
                                             bool& reset);

// A position or Last-Event-ID "<epoch>.<seq>": the seq when it is from this process
// (`epoch`); nullopt and `reset` set when it is from another one or malformed; nullopt
// alone when `text` is empty.
std::optional<std::uint64_t> parse_last_event_id(const std::string& text, const std::string& epoch, bool& reset);

// Streams the broadcasts on `topic` (an actor id) to the caller as Server-Sent Events,
// resuming after ?position= (or Last-Event-ID, or ?last_event_id=) with a replay, heartbeats and the stream bound. For org routes: the
// stream ends when the caller's credential or membership of {org} ends. Routes for
// later topics (a task's events) answer with this.
Result<Reply> event_stream(Context& ctx, const std::string& topic);

}  // namespace hearth::http
