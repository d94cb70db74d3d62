// Field validation at the edge: see fields.h.
#include "http/fields.h"

#include "storage/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace hearth::http {

Result<std::string> string_field(const Json& body, const char* name, bool required) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) {
    if (!required) return std::string();
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" is required", name)};
  }
  if (!body[name].is_string()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be a string", name)};
  return body[name].get<std::string>();
}

Result<std::optional<std::int64_t>> int_field(const Json& body, const char* name, std::int64_t min, std::int64_t max) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) return std::optional<std::int64_t>{};
  const auto& v = body[name];
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) ||
      v.get<std::int64_t>() < min || v.get<std::int64_t>() > max)
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be an integer from {} to {}", name, min, max)};
  return std::optional<std::int64_t>{v.get<std::int64_t>()};
}

Result<std::optional<bool>> bool_field(const Json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) return std::optional<bool>{};
  if (!body[name].is_boolean()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be true or false", name)};
  return std::optional<bool>{body[name].get<bool>()};
}

std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max = std::max(max, ++depth);
    else if ((c == '}' || c == ']') && depth > 0) --depth;
  }
  return max;
}

Result<std::string> task_param(const Context& ctx) {
  const auto& task = ctx.param("task");
  bool ok = !task.empty() && task.size() <= 64 && std::isalnum(static_cast<unsigned char>(task[0]));
  for (unsigned char c : task) ok = ok && (std::isalnum(c) || c == '_' || c == '-' || c == '.');
  if (!ok)
    return Error{ErrorCode::invalid, "a task id is 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit"};
  return task;
}

Result<std::string> title_field(const Json& body) {
  auto title = string_field(body, "title");
  if (!title) return title.error();
  if (title->find_first_not_of(" \t") == std::string::npos || title->size() > 200)
    return Error{ErrorCode::invalid, "field \"title\" is 1 to 200 characters"};
  return title;
}

Result<std::string> optional_title(const Json& body) {
  auto title = string_field(body, "title", false);
  if (!title) return title.error();
  if (title->size() > 200) return Error{ErrorCode::invalid, "field \"title\" is at most 200 characters"};
  return title;
}

Result<std::string> prompt_field(const Json& body, const char* field, bool required) {
  auto text = string_field(body, field, required);
  if (!text) return text.error();
  if (required && text->find_first_not_of(" \t\r\n") == std::string::npos)
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" must say something", field)};
  if (text->size() > kMaxPromptBytes)
    return Error{ErrorCode::too_large, fmt::format("a prompt is at most {} bytes", kMaxPromptBytes)};
  return text;
}

Status only_fields(const Json& body, std::initializer_list<std::string_view> known) {
  if (!body.is_object()) return {};
  for (const auto& [key, _] : body.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string names;
      for (auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      return Error{ErrorCode::invalid, fmt::format("unknown field \"{}\" (known: {})", printable(key), names)};
    }
  return {};
}

}  // namespace hearth::http
