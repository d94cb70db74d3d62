// Server-Sent Events: actor broadcasts streamed to clients. Each event carries an id
// "<epoch>.<seq>"; a client that reconnects with Last-Event-ID gets what it missed
// from the retained window, or an explicit `reset` event telling it to refetch when
// that is no longer possible. Heartbeat comments keep idle connections open. A slow
// client (its buffer overflowed) is disconnected; a stream ends when its credential
// is revoked or expires, when the caller leaves the org, and when the server stops.
// Streams are bounded (EdgeConfig::sse_max_streams, and sse_max_streams_per_user for
// each user) so that they can never take the worker threads ordinary requests need, nor
// one user all the stream slots.
#include <httplib.h>

#include <set>

#include <fmt/format.h>

#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "actors/user/user_actor.h"
#include "http/errors.h"
#include "storage/text.h"
#include "http/router.h"

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

// Last-Event-ID "<epoch>.<seq>": the seq when it is from this process; nullopt plus
// `reset` when it is from another one (or malformed).
std::optional<std::uint64_t> parse_last_event_id(const std::string& text, const std::string& epoch, bool& reset) {
  if (text.empty()) return std::nullopt;
  auto dot = text.find('.');
  if (dot == std::string::npos || text.substr(0, dot) != epoch) {
    reset = true;
    return std::nullopt;
  }
  try {
    std::size_t used = 0;
    auto seq = std::stoull(text.substr(dot + 1), &used);
    if (used != text.size() - dot - 1) throw std::invalid_argument(text);
    return seq;
  } catch (const std::exception&) {
    reset = true;
    return std::nullopt;
  }
}

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

namespace {

Result<Reply> org_events(Context& ctx) {
  return event_stream(ctx, actors::organization::address(ctx.org_id).id());
}

// --- One stream for many topics: GET /v1/events?topics=... ----------------------------

constexpr std::size_t kMaxTopics = 64;

struct Topic {
  std::string name;      // as the client says it: "task:acme/t_1"
  std::string org_slug;  // "" for the caller's feed
  std::vector<std::string> parts;
  std::string position;  // "" when the client has none
  std::string actor_id;
};

bool plain_part(const std::string& part) {
  if (part.empty() || part.size() > 64) return false;
  for (unsigned char c : part)
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

// "kind:a/b/c@position" → a Topic (its actor id filled in later, once the org is known).
Result<Topic> parse_topic(const std::string& text) {
  Topic t;
  auto at = text.find('@');
  t.name = text.substr(0, at);
  if (at != std::string::npos) t.position = text.substr(at + 1);
  auto colon = t.name.find(':');
  auto kind = t.name.substr(0, colon);
  if (colon != std::string::npos) {
    std::string rest = t.name.substr(colon + 1);
    for (std::size_t from = 0;;) {
      auto slash = rest.find('/', from);
      t.parts.push_back(rest.substr(from, slash - from));
      if (slash == std::string::npos) break;
      from = slash + 1;
    }
  }
  std::size_t want = kind == "feed" ? 0 : kind == "org" ? 1 : kind == "task" || kind == "sandbox" ? 2 : kind == "session" ? 3 : 99;
  bool ok = want != 99 && t.parts.size() == want && (want == 0) == (colon == std::string::npos);
  for (const auto& part : t.parts) ok = ok && plain_part(part);
  if (!ok)
    return Error{ErrorCode::invalid,
                 fmt::format("topic \"{}\" is not one of org:ORG, task:ORG/TASK, sandbox:ORG/TASK, "
                             "session:ORG/TASK/SESSION or feed", printable(t.name))};
  if (!t.parts.empty()) t.org_slug = t.parts[0];
  return t;
}

std::string topic_actor(const Topic& t, const std::string& org_id, const std::string& user_id) {
  auto kind = t.name.substr(0, t.name.find(':'));
  if (kind == "feed") return actors::user::address(user_id).id();
  if (kind == "org") return actors::organization::address(org_id).id();
  if (kind == "task") return actors::task::address(org_id, t.parts[1]).id();
  if (kind == "sandbox") return actors::sandbox::address(org_id, t.parts[1]).id();
  return actors::session::address(org_id, t.parts[1], t.parts[2]).id();
}

std::string frame(const std::string& name, const Json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", name, json_text(data));
}

// The stream: one subscription to every topic, events labelled with the client's topic
// names and positions; the caller's membership of each org re-checked as the edge
// re-checks credentials, and the topics of an org it left closed.
Result<Reply> multiplexed(Context& ctx) {
  auto list = ctx.query("topics");
  if (list.empty()) return Error{ErrorCode::invalid, "give ?topics=TOPIC[@POSITION],... (see docs/http-api.md)"};
  std::vector<Topic> topics;
  for (std::size_t from = 0; from <= list.size();) {
    auto comma = list.find(',', from);
    auto one = list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    from = comma == std::string::npos ? list.size() + 1 : comma + 1;
    if (one.empty()) continue;
    auto t = parse_topic(one);
    if (!t) return t.error();
    if (std::any_of(topics.begin(), topics.end(), [&](const Topic& x) { return x.name == t->name; }))
      return Error{ErrorCode::invalid, fmt::format("topic \"{}\" is given twice", t->name)};
    topics.push_back(std::move(*t));
    if (topics.size() > kMaxTopics) return Error{ErrorCode::invalid, fmt::format("at most {} topics", kMaxTopics)};
  }
  if (topics.empty()) return Error{ErrorCode::invalid, "give ?topics=TOPIC[@POSITION],... (see docs/http-api.md)"};

  // Each org asked about: the caller must be a member (nobody else learns it exists).
  std::map<std::string, std::string> org_ids;  // slug → org id
  for (auto& t : topics) {
    if (!t.org_slug.empty() && !org_ids.contains(t.org_slug)) {
      auto caller = ctx.edge.identity.authenticate(ctx.secret, t.org_slug);
      if (!caller) return caller.error();
      if (caller->org_role.empty()) return Error{ErrorCode::not_found, fmt::format("no organization \"{}\"", t.org_slug)};
      org_ids[t.org_slug] = caller->org["org_id"].get<std::string>();
    }
    t.actor_id = topic_actor(t, t.org_slug.empty() ? std::string() : org_ids[t.org_slug], ctx.caller->user_id);
  }

  auto& pubsub = ctx.edge.host.pubsub();
  std::vector<actors::PubSub::Resume> resumes;
  std::vector<std::string> foreign;  // positions from another process, or malformed
  for (const auto& t : topics) {
    bool reset = false;
    auto after = parse_last_event_id(t.position, pubsub.epoch(), reset);
    if (reset) foreign.push_back(t.actor_id);
    resumes.push_back({t.actor_id, after});
  }
  std::vector<std::string> too_old;
  auto sub = pubsub.subscribe_many(resumes, too_old);

  struct State {
    std::shared_ptr<actors::Subscription> sub;
    std::map<std::string, std::string> names;     // actor id → topic name
    std::map<std::string, std::string> org_of;    // actor id → org slug ("" for the feed)
    std::map<std::string, std::string> org_ids;   // slug → org id
    std::set<std::string> closed;                 // actor ids of topics the caller lost
    std::string secret;
    Clock::time_point last_check = Clock::now();
  };
  auto state = std::make_shared<State>();
  state->sub = std::move(sub);
  state->org_ids = std::move(org_ids);
  state->secret = ctx.secret;
  Json names = Json::array();
  for (const auto& t : topics) {
    state->names[t.actor_id] = t.name;
    state->org_of[t.actor_id] = t.org_slug;
    names.push_back(t.name);
  }
  std::string preamble = frame("ready", {{"topics", names}});
  for (const auto& t : topics) {
    bool stale = std::find(foreign.begin(), foreign.end(), t.actor_id) != foreign.end() ||
                 std::find(too_old.begin(), too_old.end(), t.actor_id) != too_old.end();
    if (stale) preamble += frame("reset", {{"topic", t.name}, {"reason", "missed events are no longer retained"}});
  }

  auto& edge = ctx.edge;
  return serve_stream(
      ctx,
      [&edge, state](const StreamWrite& write) {
        auto& s = *state;
        auto now = Clock::now();
        if (now - s.last_check >= edge.config.sse_recheck) {  // orgs the caller left: their topics close
          s.last_check = now;
          for (const auto& [slug, org_id] : s.org_ids) {
            auto caller = edge.identity.authenticate(s.secret, slug);
            if (caller && !caller->org_role.empty()) continue;
            for (const auto& [actor, org] : s.org_of)
              if (org == slug && s.closed.insert(actor).second &&
                  !write(frame("closed", {{"topic", s.names[actor]}, {"reason", "you are no longer a member"}})))
                return false;
          }
        }
        auto e = s.sub->next(std::chrono::milliseconds(500));
        if (s.sub->take_lagged()) {
          for (const auto& [actor, name] : s.names)
            if (!s.closed.contains(actor) &&
                !write(frame("reset", {{"topic", name}, {"reason", "the client fell behind"}})))
              return false;
        }
        if (!e) return !s.sub->closed();
        auto name = s.names.find(e->topic);
        if (name == s.names.end() || s.closed.contains(e->topic)) return true;
        return write(frame(e->name, {{"topic", name->second},
                                     {"position", fmt::format("{}.{}", edge.host.pubsub().epoch(), e->seq)},
                                     {"name", e->name},
                                     {"at", e->at_ms},
                                     {"payload", e->payload}}));
      },
      std::move(preamble));
}

}  // namespace

void add_event_routes(Router& r) {
  r.add({"GET", "/v1/orgs/{org}/events", Policy::org_member, "organization", org_events});
  r.add({"GET", "/v1/events", Policy::signed_in, "any", multiplexed});
}

}  // namespace hearth::http
