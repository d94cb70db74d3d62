// Agent updates to transcript events: see transcript.h.
#include "actors/session/transcript.h"

#include <fmt/format.h>

namespace hearth::actors::session {
namespace {

// session/update kinds that stream a message in chunks, and the event each becomes.
const char* message_kind(const std::string& update_kind) {
  if (update_kind == "agent_message_chunk") return "agent_message";
  if (update_kind == "agent_thought_chunk") return "agent_thought";
  if (update_kind == "user_message_chunk") return "user_message_echo";
  return nullptr;
}

}  // namespace

void redact_json(const hearth::sandbox::Redactor& redactor, Json& value) {
  if (redactor.empty()) return;
  if (value.is_string()) {
    value = redactor.redact(value.get_ref<const std::string&>());
  } else if (value.is_structured()) {
    for (auto& item : value) redact_json(redactor, item);
  }
}

void cap_json(Json& value, std::size_t max_string) {
  if (value.is_string()) {
    auto& s = value.get_ref<std::string&>();
    if (s.size() <= max_string) return;
    auto cut = max_string;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // a UTF-8 boundary
    auto dropped = s.size() - cut;
    s.resize(cut);
    s += fmt::format("\n[hearth: {} more bytes not kept]", dropped);
  } else if (value.is_structured()) {
    for (auto& item : value) cap_json(item, max_string);
  }
}

void coalesce_messages(Json& items) {
  Json out = Json::array();
  auto text_only = [](const Json& data) {
    if (!data.is_object() || !data.contains("text") || !data["text"].is_string()) return false;
    for (const auto& [key, value] : data.items())
      if (key != "text" && key != "message_id") return false;
    return true;
  };
  for (auto& item : items) {
    auto kind = item.value("kind", std::string());
    bool message = kind == "agent_message" || kind == "agent_thought" || kind == "user_message_echo";
    if (message && !out.empty() && text_only(item["data"])) {
      auto& last = out.back();
      const auto& text = item["data"]["text"].get_ref<const std::string&>();
      if (last["kind"] == kind && last["turn"] == item["turn"] && text_only(last["data"]) &&
          last["data"].value("message_id", Json()) == item["data"].value("message_id", Json()) &&
          last["data"]["text"].get_ref<const std::string&>().size() + text.size() <= TranscriptBuilder::kMaxText) {
        if (!last.contains("from_seq")) last["from_seq"] = last["seq"];
        last["data"]["text"].get_ref<std::string&>() += text;
        last["seq"] = item["seq"];
        continue;
      }
    }
    out.push_back(std::move(item));
  }
  items = std::move(out);
}

void TranscriptBuilder::update(const Json& update, std::int64_t at) {
  if (!update.is_object() || !update.contains("sessionUpdate") || !update["sessionUpdate"].is_string()) {
    note("agent_update", update, at);
    return;
  }
  auto kind = update["sessionUpdate"].get<std::string>();
  const char* message = message_kind(kind);
  const Json& content = update.contains("content") ? update["content"] : Json();
  if (message && content.is_object() && content.value("type", "") == "text" && content.contains("text") &&
      content["text"].is_string()) {
    auto id = update.contains("messageId") && update["messageId"].is_string() ? update["messageId"].get<std::string>() : "";
    if (open_ && (open_->kind != message || open_->message_id != id)) close_open();
    if (!open_) {
      open_.emplace();
      open_->kind = message;
      open_->message_id = id;
      open_->at = at;
      open_->stream.emplace(redactor_);
    }
    auto safe = open_->stream->push(content["text"].get_ref<const std::string&>());
    open_->text += safe;
    pending_bytes_ += safe.size();
    if (open_->text.size() >= kMaxText) emit_text(*open_);
    return;
  }
  Json data = update;
  data.erase("sessionUpdate");
  note(message ? message : kind, std::move(data), at);
}

void TranscriptBuilder::note(std::string kind, Json data, std::int64_t at) {
  close_open();
  redact_json(redactor_, data);
  cap_json(data, kMaxString);
  pending_bytes_ += data.dump(-1, ' ', false, Json::error_handler_t::replace).size();
  ready_.push_back({std::move(kind), std::move(data), at});
}

// Emits the open message's text, in events of at most kMaxText bytes (cut at UTF-8
// boundaries).
void TranscriptBuilder::emit_text(Open& open) {
  std::string_view text = open.text;
  while (!text.empty()) {
    auto n = std::min(text.size(), kMaxText);
    while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    if (n == 0) n = std::min(text.size(), kMaxText);
    Json data{{"text", std::string(text.substr(0, n))}};
    if (!open.message_id.empty()) data["message_id"] = open.message_id;
    ready_.push_back({open.kind, std::move(data), open.at});
    text.remove_prefix(n);
  }
  open.text.clear();
}

void TranscriptBuilder::close_open() {
  if (!open_) return;
  open_->text += open_->stream->flush();
  emit_text(*open_);
  open_.reset();
}

void TranscriptBuilder::finish() { close_open(); }

std::vector<TranscriptEvent> TranscriptBuilder::take() {
  if (open_) emit_text(*open_);
  pending_bytes_ = 0;
  return std::exchange(ready_, {});
}

}  // namespace hearth::actors::session
