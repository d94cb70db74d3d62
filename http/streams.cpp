// Event streams at the edge: see streams.h. Each event carries an id "<epoch>.<seq>";
// a client that reconnects with Last-Event-ID gets what it missed from the retained
// window, or an explicit `reset` event telling it to refetch when that is no longer
// possible. Heartbeat comments keep idle connections open. A slow client (its buffer
// overflowed) is disconnected; a stream ends when its credential is revoked or expires,
// when the caller leaves the org, and when the server stops. Streams are bounded
// (EdgeConfig::sse_max_streams, and sse_max_streams_per_user for each user) so that
// they can never take the worker threads ordinary requests need, nor one user all the
// stream slots.
#include "http/streams.h"

#include <charconv>

#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "http/errors.h"

namespace hearth::http {
namespace {

using Clock = std::chrono::steady_clock;

// One open stream: what it sends (its step) and the edge's bookkeeping around it.
struct Stream {
  Edge& edge;
  StreamStep step;
  std::string preamble;
  std::string secret;
  std::string org_id, user_id;
  bool started = false;
  bool ended = false;
  Clock::time_point last_write = Clock::now();
  Clock::time_point last_check = Clock::now();
};

// Whether the caller may still watch: credential valid and, on org routes, still a member.
bool still_allowed(Stream& s) {
  auto caller = s.edge.identity.authenticate(s.secret);
  if (!caller) return false;
  if (s.org_id.empty()) return true;
  auto role = s.edge.identity.role(s.org_id, s.user_id);
  return role && !role->empty();
}

bool pump(Stream& s, httplib::DataSink& sink) {
  auto write = [&](const std::string& text) {
    s.last_write = Clock::now();
    return sink.write(text.data(), text.size());
  };
  if (!s.started) {
    s.started = true;
    if (!write("retry: 2000\n\n" + s.preamble)) return false;
  }
  if (s.edge.stopping || s.ended) {
    sink.done();
    return true;
  }
  bool client_gone = false;
  bool more = s.step([&](const std::string& frame) {
    if (client_gone) return false;
    client_gone = !write(frame);
    return !client_gone;
  });
  if (client_gone) return false;
  if (!more) {
    s.ended = true;
    sink.done();
    return true;
  }
  auto now = Clock::now();
  if (now - s.last_check >= s.edge.config.sse_recheck) {
    s.last_check = now;
    if (!still_allowed(s)) {
      (void)write("event: signed_out\ndata: {}\n\n");
      sink.done();
      return true;
    }
  }
  if (now - s.last_write >= s.edge.config.sse_heartbeat && !write(": heartbeat\n\n")) return false;
  return true;
}

// Answers with `error` and closes the connection once the answer is written: a refused
// stream client must not keep a worker thread waiting on its idle keep-alive connection.
void refuse_and_close(httplib::Response& res, const Error& error) {
  auto body = std::make_shared<std::string>(error_body(error));
  res.status = http_status(error.code);
  res.set_header("Connection", "close");
  res.set_content_provider(body->size(), "application/json",
                           [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return false;  // httplib closes a connection whose provider stops
                           });
}

}  // namespace

std::optional<std::uint64_t> parse_last_event_id(const std::string& text, const std::string& epoch, bool& reset) {
  if (text.empty()) return std::nullopt;
  auto dot = text.find('.');
  if (dot == std::string::npos || text.substr(0, dot) != epoch) {
    reset = true;
    return std::nullopt;
  }
  // Digits only: stoull would also take "-1" (as 2^64-1) and leading spaces.
  std::uint64_t seq = 0;
  const char* first = text.data() + dot + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, seq);
  if (first == last || ec != std::errc{} || end != last) {
    reset = true;
    return std::nullopt;
  }
  return seq;
}

Result<Reply> serve_stream(Context& ctx, StreamStep step, std::string preamble) {
  auto& edge = ctx.edge;
  if (auto st = edge.begin_stream(ctx.caller->user_id); !st) {
    ctx.res.set_header("Retry-After", "10");
    refuse_and_close(ctx.res, st.error());
    ctx.streaming = true;
    return Reply{503, nullptr};
  }
  auto stream = std::make_shared<Stream>(Stream{edge, std::move(step), std::move(preamble), ctx.secret, ctx.org_id,
                                                ctx.caller->user_id});
  ctx.res.set_header("Cache-Control", "no-cache");
  ctx.res.set_header("X-Accel-Buffering", "no");
  ctx.res.set_chunked_content_provider(
      "text/event-stream", [stream](std::size_t, httplib::DataSink& sink) { return pump(*stream, sink); },
      [stream](bool) { stream->edge.end_stream(stream->user_id); });
  ctx.streaming = true;
  return Reply{200, nullptr};
}

std::string position(Context& ctx, const std::string& topic) {
  auto& pubsub = ctx.edge.host.pubsub();
  return fmt::format("{}.{}", pubsub.epoch(), pubsub.position(topic));
}

Reply positioned(Context& ctx, const std::string& position, Json body, int status) {
  ctx.res.set_header("Hearth-Position", position);
  if (body.is_object()) body["position"] = position;
  return Reply{status, std::move(body)};
}

std::shared_ptr<actors::Subscription> resume(Context& ctx, const std::string& topic, const std::string& position,
                                             bool& reset) {
  auto& pubsub = ctx.edge.host.pubsub();
  bool foreign = false;
  auto after = parse_last_event_id(position, pubsub.epoch(), foreign);
  auto sub = pubsub.subscribe_with_replay(topic, after, reset);
  reset = reset || foreign;
  return sub;
}

Result<Reply> event_stream(Context& ctx, const std::string& topic) {
  auto& edge = ctx.edge;
  auto last = ctx.req.get_header_value("Last-Event-ID");
  if (last.empty()) last = ctx.query("position");
  if (last.empty()) last = ctx.query("last_event_id");
  bool reset = false;
  auto sub = resume(ctx, topic, last, reset);
  std::string preamble;
  if (reset) preamble = "event: reset\ndata: {\"reason\":\"missed events are no longer retained\"}\n\n";
  auto user = ctx.caller->user_id;
  auto org = ctx.org_id;
  return serve_stream(
      ctx,
      [&edge, sub, user, org](const StreamWrite& write) {
        auto e = sub->next(std::chrono::milliseconds(500));
        if (!e) return !sub->closed();
        if (sub->take_lagged()) {
          spdlog::info("sse.slow_client_disconnected user_id={} org={}", user, org);
          (void)write("event: reset\ndata: {\"reason\":\"the client fell behind\"}\n\n");
          return false;
        }
        Json data{{"name", e->name}, {"at", e->at_ms}, {"payload", e->payload}};
        return write(fmt::format("id: {}.{}\nevent: {}\ndata: {}\n\n", edge.host.pubsub().epoch(), e->seq, e->name,
                                 data.dump(-1, ' ', false, Json::error_handler_t::replace)));
      },
      std::move(preamble));
}

}  // namespace hearth::http
