// Where a queued message stands. Stored by name in queue_messages.status (the CHECK in
// migrations/host/0002_rejected.sql lists the same names), shown by name in send
// receipts and the inspector, and serialized to JSON by name.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hearth::actors {

// pending until its handler ran; then completed, rejected (the handler refused its
// input: a retry would answer the same), or failed (something broke: worth a retry);
// discarded when a person gave a failed one up.
enum class MessageStatus { pending, completed, failed, rejected, discarded };

inline constexpr MessageStatus kMessageStatuses[] = {MessageStatus::pending, MessageStatus::completed,
                                                     MessageStatus::failed, MessageStatus::rejected,
                                                     MessageStatus::discarded};

// "pending", "completed", ...: the name stored and shown.
constexpr std::string_view to_string(MessageStatus status) {
  switch (status) {
    case MessageStatus::pending: return "pending";
    case MessageStatus::completed: return "completed";
    case MessageStatus::failed: return "failed";
    case MessageStatus::rejected: return "rejected";
    case MessageStatus::discarded: return "discarded";
  }
  return "failed";
}

// The status `text` names, or nullopt when it names none.
constexpr std::optional<MessageStatus> parse_message_status(std::string_view text) {
  for (auto status : kMessageStatuses)
    if (to_string(status) == text) return status;
  return std::nullopt;
}

NLOHMANN_JSON_SERIALIZE_ENUM(MessageStatus, {{MessageStatus::pending, "pending"},
                                             {MessageStatus::completed, "completed"},
                                             {MessageStatus::failed, "failed"},
                                             {MessageStatus::rejected, "rejected"},
                                             {MessageStatus::discarded, "discarded"}})

}  // namespace hearth::actors
