// Agent updates become transcript events: chunks coalesced in order, secrets redacted
// even across chunks, sizes bounded, nothing dropped.
#include <doctest/doctest.h>

#include "actors/session/transcript.h"

using namespace hearth;
using namespace hearth::actors::session;
using nlohmann::json;

namespace {

json chunk(const std::string& kind, const std::string& text, const std::string& message_id = "") {
  json u{{"sessionUpdate", kind}, {"content", {{"type", "text"}, {"text", text}}}};
  if (!message_id.empty()) u["messageId"] = message_id;
  return u;
}

}  // namespace

TEST_CASE("consecutive chunks of one message become one event, a new kind or message starts another") {
  sandbox::Redactor none;
  TranscriptBuilder b(none);
  b.update(chunk("agent_message_chunk", "Hello "), 1);
  b.update(chunk("agent_message_chunk", "world"), 2);
  b.update(chunk("agent_thought_chunk", "thinking"), 3);
  b.update(chunk("agent_message_chunk", "again", "m1"), 4);
  b.update(chunk("agent_message_chunk", " and more", "m1"), 5);
  b.update(chunk("agent_message_chunk", "other", "m2"), 6);
  b.update({{"sessionUpdate", "plan"}, {"entries", json::array({{{"content", "a"}}})}}, 7);
  b.finish();
  auto events = b.take();
  REQUIRE(events.size() == 5);
  CHECK(events[0].kind == "agent_message");
  CHECK(events[0].data == json{{"text", "Hello world"}});
  CHECK(events[0].at == 1);
  CHECK(events[1].kind == "agent_thought");
  CHECK(events[2].data == json{{"text", "again and more"}, {"message_id", "m1"}});
  CHECK(events[3].data == json{{"text", "other"}, {"message_id", "m2"}});
  CHECK(events[4].kind == "plan");
  CHECK(events[4].data == json{{"entries", json::array({{{"content", "a"}}})}});
}

TEST_CASE("taking events mid-message keeps order: the rest of the message becomes the next event") {
  sandbox::Redactor none;
  TranscriptBuilder b(none);
  b.update(chunk("agent_message_chunk", "one "), 1);
  auto first = b.take();
  REQUIRE(first.size() == 1);
  CHECK(first[0].data["text"] == "one ");
  b.update(chunk("agent_message_chunk", "two"), 2);
  b.note("permission_requested", {{"permission_id", "p"}}, 3);
  auto second = b.take();
  REQUIRE(second.size() == 2);
  CHECK(second[0].data["text"] == "two");
  CHECK(second[1].kind == "permission_requested");
  CHECK(b.take().empty());
}

TEST_CASE("a secret split across chunks is redacted, and other events are redacted at any depth") {
  sandbox::Redactor r({{"ANTHROPIC_API_KEY", "sk-ant-0123456789"}});
  TranscriptBuilder b(r);
  b.update(chunk("agent_message_chunk", "my key is sk-an"), 1);
  auto live = b.take();  // the possible start of the key is held back
  REQUIRE(live.size() == 1);
  CHECK(live[0].data["text"] == "my key is ");
  b.update(chunk("agent_message_chunk", "t-0123456789, keep it"), 2);
  b.update({{"sessionUpdate", "tool_call"}, {"toolCallId", "c"}, {"rawInput", {{"env", {"X=sk-ant-0123456789"}}}}}, 3);
  b.finish();
  auto rest = b.take();
  REQUIRE(rest.size() == 2);
  CHECK(rest[0].data["text"] == "[secret ANTHROPIC_API_KEY], keep it");
  CHECK(rest[1].data["rawInput"]["env"][0] == "X=[secret ANTHROPIC_API_KEY]");
}

TEST_CASE("long messages are split, long strings cut with a mark, unknown updates kept") {
  sandbox::Redactor none;
  TranscriptBuilder b(none);
  std::string big(TranscriptBuilder::kMaxText + 10, 'x');
  b.update(chunk("agent_message_chunk", big), 1);
  b.update({{"sessionUpdate", "tool_call_update"}, {"toolCallId", "c"}, {"rawOutput", std::string(200000, 'y')}}, 2);
  b.update({{"something", "odd"}}, 3);
  b.update({{"sessionUpdate", "future_kind"}, {"x", 1}}, 4);
  b.finish();
  auto events = b.take();
  REQUIRE(events.size() == 5);
  CHECK(events[0].data["text"].get<std::string>().size() == TranscriptBuilder::kMaxText);
  CHECK(events[1].data["text"].get<std::string>().size() == 10);
  auto out = events[2].data["rawOutput"].get<std::string>();
  CHECK(out.size() < 70000);
  CHECK(out.find("more bytes not kept") != std::string::npos);
  CHECK(events[3].kind == "agent_update");
  CHECK(events[4].kind == "future_kind");
  CHECK(events[4].data == json{{"x", 1}});
}

TEST_CASE("a message stored over several flushes reads as one event, and other kinds, turns, messages and big ones stay apart") {
  auto ev = [](std::int64_t seq, std::int64_t turn, const std::string& kind, json data) {
    return json{{"seq", seq}, {"turn", turn}, {"kind", kind}, {"at", 100 + seq}, {"data", data}};
  };
  json items = json::array({ev(1, 1, "agent_message", {{"text", "Hel"}}),
                            ev(2, 1, "agent_message", {{"text", "lo"}}),
                            ev(3, 1, "agent_message", {{"text", "!"}}),
                            ev(4, 1, "agent_thought", {{"text", "hmm"}}),
                            ev(5, 1, "agent_message", {{"text", "a"}, {"message_id", "m1"}}),
                            ev(6, 1, "agent_message", {{"text", "b"}, {"message_id", "m2"}}),
                            ev(7, 2, "agent_message", {{"text", "c"}, {"message_id", "m2"}}),
                            ev(8, 2, "tool_call", {{"toolCallId", "x"}}),
                            ev(9, 2, "agent_message", {{"text", std::string(TranscriptBuilder::kMaxText - 1, 'x')}}),
                            ev(10, 2, "agent_message", {{"text", "yy"}})});
  coalesce_messages(items);
  REQUIRE(items.size() == 8);
  CHECK(items[0]["data"]["text"] == "Hello!");
  CHECK(items[0]["seq"] == 3);  // reading on after it skips nothing
  CHECK(items[0]["from_seq"] == 1);
  CHECK(items[0]["at"] == 101);  // when the message began
  CHECK(items[1]["kind"] == "agent_thought");
  CHECK(items[2]["data"]["text"] == "a");
  CHECK(items[3]["data"]["text"] == "b");  // another message
  CHECK(items[4]["data"]["text"] == "c");  // another turn
  CHECK_FALSE(items[4].contains("from_seq"));
  CHECK(items[6]["seq"] == 9);  // too big together: as stored
  CHECK(items[7]["data"]["text"] == "yy");
}
