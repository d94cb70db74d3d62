// Gap-free live state: every read that a stream continues carries its topic's position
// (the Hearth-Position header and a "position" field), and a stream opened from that
// position replays what came after it. Each case makes the race certain: the read, then
// a change (waited for), then the stream; the change must arrive. One stream opened
// without the position shows what the contract prevents: the change is not replayed.
#include <doctest/doctest.h>

#include "tests/support/event_stream.h"
#include "tests/support/task_world.h"

namespace hearth::test {
namespace {

using namespace std::chrono_literals;

// The read's position: the header and the field agree, and look like "<epoch>.<seq>".
std::string position_of(const ApiResponse& r) {
  REQUIRE_MESSAGE(r.status == 200, r.text);
  auto header = r.header("Hearth-Position");
  CHECK(header.find('.') != std::string::npos);
  if (r.body.is_object()) CHECK(r.body.value("position", "") == header);
  return header;
}

// `path` with ?position= (or &position=).
std::string from(const std::string& path, const std::string& position) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "position=" + position;
}

}  // namespace

TEST_CASE("positions: the task's, the org's and the feed's streams replay what changed after the read") {
  TaskWorld w;
  auto id = w.create("/say hello");
  w.settled(id);
  auto task_at = position_of(w.s.call("GET", TaskWorld::task_path(id), w.owner));
  auto org_at = position_of(w.s.call("GET", "/v1/orgs/acme/tasks", w.owner));
  auto feed_at = position_of(w.s.call("GET", "/v1/me/feed", w.owner));
  CHECK(position_of(w.s.call("GET", "/v1/orgs/acme", w.owner)) == org_at);

  // The change lands between the reads and the streams.
  REQUIRE(w.s.call("PATCH", TaskWorld::task_path(id), w.owner, json{{"title", "renamed"}}).status == 200);
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/read", w.owner, "{}").status / 100 == 2);

  EventStream task(w.s.port, from(TaskWorld::task_path(id) + "/events", task_at), w.owner);
  EventStream org(w.s.port, from("/v1/orgs/acme/events", org_at), w.owner);
  EventStream feed(w.s.port, from("/v1/me/feed/events", feed_at), w.owner);
  EventStream late(w.s.port, TaskWorld::task_path(id) + "/events", w.owner);  // no position: from now

  auto renamed = task.wait_for([](const SseFrame& f) {
    return f.name == "task.changed" && f.data["payload"].value("title", "") == "renamed";
  });
  REQUIRE(renamed);
  CHECK(renamed->data["payload"]["version"].is_number());
  CHECK(org.wait_for([&](const SseFrame& f) {
    return f.name == "organization.task.changed" && f.data["payload"].value("title", "") == "renamed";
  }));
  CHECK(feed.wait_for("user.feed.read"));
  CHECK(late.status() == 200);
  CHECK_FALSE(late.wait_for("task.changed", 300ms));  // what the contract is for
}

TEST_CASE("positions: the sandbox's and the session's streams replay what changed after the read") {
  TaskWorld w;
  auto id = w.create("/say hello");
  auto t = w.settled(id);
  std::string session = t["sessions"][0]["session_id"];
  auto session_path = TaskWorld::task_path(id) + "/sessions/" + session;
  auto sandbox_at = position_of(w.s.call("GET", AgentWorld::sandbox_path(id), w.owner));
  auto read = w.s.call("GET", session_path, w.owner);
  auto session_at = position_of(read);
  auto listed = w.s.call("GET", TaskWorld::task_path(id) + "/sessions", w.owner);
  REQUIRE(listed.status == 200);
  CHECK(listed.body["items"][0].value("position", "") == session_at);
  auto transcript = w.s.call("GET", session_path + "/transcript", w.owner);
  CHECK(position_of(transcript) == session_at);
  auto last_seq = transcript.body["items"].back()["seq"].get<std::int64_t>();

  // A process in the sandbox, and a second turn, both over before the streams open.
  auto p = w.s.call("POST", AgentWorld::sandbox_path(id) + "/processes", w.owner, json{{"argv", {"true"}}});
  REQUIRE_MESSAGE(p.status / 100 == 2, p.text);
  REQUIRE(w.s.call("POST", session_path + "/prompt", w.owner, json{{"text", "/say again"}}).status == 202);
  w.settled(id);
  w.poll(AgentWorld::sandbox_path(id) + "/processes", [](const json& b) {
    return !b["items"].empty() && b["items"][0].value("status", "") != "running";
  });

  EventStream sandbox(w.s.port, from(AgentWorld::sandbox_path(id) + "/events", sandbox_at), w.owner);
  EventStream live(w.s.port,
                   from(session_path + "/events?after_seq=" + std::to_string(last_seq), session_at), w.owner);
  CHECK(sandbox.wait_for("sandbox.processes.changed"));
  // The status changes of the second turn (events without transcript seqs) and its transcript.
  CHECK(live.wait_for([](const SseFrame& f) {
    return f.name == "session.status.changed" && f.data.value("status", "") == "idle";
  }));
  CHECK(live.wait_for([](const SseFrame& f) {
    return f.name == "transcript" && f.data.value("turn", 0) == 2;
  }));
  for (const auto& f : live.frames()) CHECK(f.name != "reset");
}

TEST_CASE("positions: a position from another server process, or malformed, starts the stream with reset") {
  TaskWorld w;
  auto id = w.create("/say hello");
  w.settled(id);
  for (std::string position : {"deadbeef.3", "garbage"}) {
    EventStream task(w.s.port, from(TaskWorld::task_path(id) + "/events", position), w.owner);
    auto first = task.wait_for([](const SseFrame& f) { return !f.name.empty(); });
    REQUIRE(first);
    CHECK(first->name == "reset");
  }
}

TEST_CASE("one stream for many topics: labelled events, positions per topic, replay, reset, authorization") {
  TaskWorld w;
  auto id = w.create("/say hello");
  w.settled(id);
  auto task_at = position_of(w.s.call("GET", TaskWorld::task_path(id), w.owner));
  auto org_at = position_of(w.s.call("GET", "/v1/orgs/acme/tasks", w.owner));
  REQUIRE(w.s.call("PATCH", TaskWorld::task_path(id), w.owner, json{{"title", "renamed"}}).status == 200);

  auto task_topic = "task:acme/" + id;
  EventStream all(w.s.port,
                  "/v1/events?topics=org:acme@" + org_at + "," + task_topic + "@" + task_at +
                      ",feed,sandbox:acme/" + id + ",session:acme/" + id + "/s_nope",
                  w.owner);
  REQUIRE(all.status() == 200);
  auto ready = all.wait_for("ready");
  REQUIRE(ready);
  CHECK(ready->data["topics"].size() == 5);
  // Replayed, each labelled with its topic and position.
  auto task_event = all.wait_for([&](const SseFrame& f) {
    return f.name == "task.changed" && f.data.value("topic", "") == task_topic;
  });
  REQUIRE(task_event);
  CHECK(task_event->data["payload"]["title"] == "renamed");
  auto at = task_event->data["position"].get<std::string>();
  CHECK(at.substr(0, at.find('.')) == task_at.substr(0, task_at.find('.')));
  CHECK(std::stoull(at.substr(at.find('.') + 1)) > std::stoull(task_at.substr(task_at.find('.') + 1)));
  CHECK(all.wait_for([](const SseFrame& f) {
    return f.name == "organization.task.changed" && f.data.value("topic", "") == "org:acme";
  }));
  // Live, after the replay: a read-mark on the feed.
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/read", w.owner, "{}").status / 100 == 2);
  CHECK(all.wait_for([](const SseFrame& f) { return f.name == "user.feed.read" && f.data["topic"] == "feed"; }));

  // Resuming from the last position seen sends nothing twice.
  EventStream again(w.s.port, "/v1/events?topics=" + task_topic + "@" + at, w.owner);
  REQUIRE(again.wait_for("ready"));
  CHECK_FALSE(again.wait_for("task.changed", 300ms));
  // A foreign position: reset for that topic.
  EventStream stale(w.s.port, "/v1/events?topics=" + task_topic + "@cafe.1", w.owner);
  auto reset = stale.wait_for("reset");
  REQUIRE(reset);
  CHECK(reset->data["topic"] == task_topic);

  // Refused: another org's topics (for a member of acme, as for someone who is in no org
  // of that name), malformed topics, too many.
  for (const auto& refused :
       std::vector<std::tuple<std::string, std::string, int>>{
           {w.outsider, "org:acme", 404},
           {w.outsider, task_topic, 404},
           {w.member, "org:other", 404},
           {w.member, "org:nope", 404},
           {w.owner, "task:acme", 400},
           {w.owner, "task:acme/../x", 400},
           {w.owner, "kitchen:sink", 400},
           {w.owner, "feed:x", 400},
           {w.owner, "org:acme,org:acme", 400},
           {w.owner, "", 400}}) {
    const auto& [token, query, status] = refused;
    auto r = w.s.call("GET", "/v1/events?topics=" + query, token);
    CHECK_MESSAGE(r.status == status, std::get<1>(refused) << " → " << r.status << " " << r.text);
    CHECK(r.body["error"]["message"].is_string());
  }
  std::string many;
  for (int i = 0; i < 65; ++i) many += "task:acme/t" + std::to_string(i) + ",";
  CHECK(w.s.call("GET", "/v1/events?topics=" + many, w.owner).status == 400);
  CHECK(w.s.call("GET", "/v1/events?topics=feed").status == 401);
}

TEST_CASE("one stream for many topics: a member removed from an org gets its topics closed, the rest goes on") {
  http::EdgeConfig edge;
  edge.sse_recheck = std::chrono::milliseconds(20);
  TestServer s(edge);
  auto owner = s.user_with_token("owner");
  auto member = s.user_with_token("member");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/acme/members", owner, json{{"username", "member"}}).status == 201);
  EventStream all(s.port, "/v1/events?topics=org:acme,feed", member);
  REQUIRE(all.wait_for("ready"));
  REQUIRE(s.call("DELETE", "/v1/orgs/acme/members/member", owner).status / 100 == 2);
  auto closed = all.wait_for("closed");
  REQUIRE(closed);
  CHECK(closed->data["topic"] == "org:acme");
  // The org's later events do not reach the member; the stream stays open.
  REQUIRE(s.call("PUT", "/v1/orgs/acme/secrets/K", owner, json{{"value", "v"}}).status / 100 == 2);
  CHECK_FALSE(all.wait_for("organization.secret.set", 300ms));
  CHECK_FALSE(all.wait_for("signed_out", 10ms));
}

}  // namespace hearth::test
