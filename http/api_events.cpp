// The event routes: an organization's stream (GET /v1/orgs/{org}/events) and one
// stream for many topics (GET /v1/events?topics=...). How a stream is served, bounded
// and resumed is in streams.h.
#include <httplib.h>

#include <set>

#include <fmt/format.h>

#include "actors/github_data/github_data_actor.h"
#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "actors/user/user_actor.h"
#include "http/routes.h"
#include "http/streams.h"
#include "storage/text.h"

namespace hearth::http {
namespace {

using Clock = std::chrono::steady_clock;

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
  std::size_t want = kind == "feed" ? 0 : kind == "org" || kind == "github" ? 1 : kind == "task" || kind == "sandbox" ? 2 : kind == "session" ? 3 : 99;
  bool ok = want != 99 && t.parts.size() == want && (want == 0) == (colon == std::string::npos);
  for (const auto& part : t.parts) ok = ok && plain_part(part);
  if (!ok)
    return Error{ErrorCode::invalid,
                 fmt::format("topic \"{}\" is not one of org:ORG, github:ORG, task:ORG/TASK, sandbox:ORG/TASK, "
                             "session:ORG/TASK/SESSION or feed", printable(t.name))};
  if (!t.parts.empty()) t.org_slug = t.parts[0];
  return t;
}

std::string topic_actor(const Topic& t, const std::string& org_id, const std::string& user_id) {
  auto kind = t.name.substr(0, t.name.find(':'));
  if (kind == "feed") return actors::user::address(user_id).id();
  if (kind == "org") return actors::organization::address(org_id).id();
  if (kind == "github") return actors::github_data::address(org_id).id();
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
