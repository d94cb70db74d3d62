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
