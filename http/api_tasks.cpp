// Helpers of the sandbox and session routes: see api_tasks.h.
#include "http/api_tasks.h"

#include <fmt/format.h>

namespace hearth::http {

Result<std::string> task_param(const Context& ctx) {
  const auto& task = ctx.param("task");
  bool ok = !task.empty() && task.size() <= 64 && std::isalnum(static_cast<unsigned char>(task[0]));
  for (unsigned char c : task) ok = ok && (std::isalnum(c) || c == '_' || c == '-' || c == '.');
  if (!ok)
    return Error{ErrorCode::invalid, "a task id is 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit"};
  return task;
}

Result<actors::session::AgentRunner*> agent_runner(const Context& ctx) {
  if (!ctx.edge.config.agents) return Error{ErrorCode::unavailable, "this server runs no sandboxes"};
  return ctx.edge.config.agents;
}

Reply accepted(const Context& ctx, const actors::SendReceipt& r, int status) {
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r.message_id}, {"status", r.status}}};
  return Reply{status, r.result};
}

Result<Reply> read(Context& ctx, const Result<actors::Address>& address, const char* action, const Json& args) {
  if (!address) return address.error();
  auto r = ctx.edge.host.call(*address, action, args);
  if (!r) return r.error();
  return Reply{200, *r};
}

Status must_exist(Context& ctx, const Result<actors::Address>& address, const char* what) {
  if (!address) return address.error();
  auto exists = ctx.edge.host.exists(*address);
  if (!exists) return exists.error();
  if (!*exists) return Error{ErrorCode::not_found, fmt::format("no such {}", what)};
  return {};
}

Result<Reply> change(Context& ctx, const Result<actors::Address>& address, const char* queue, const Json& body,
                     int status) {
  if (!address) return address.error();
  auto r = ctx.edge.send(*address, queue, body, ctx.wait());
  if (!r) return r.error();
  return accepted(ctx, *r, status);
}

}  // namespace hearth::http
