// Field validation at the edge: the shape checks every route makes of its JSON body
// and path before anything is sent, each error naming the field. The limits that more
// than one route applies (a title's length, a prompt's size) are defined here once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "http/router.h"

namespace hearth::http {

// The largest prompt any route takes (POST /tasks, a task's or a session's prompt, a
// new session's first prompt, a draft): too_large past it.
inline constexpr std::size_t kMaxPromptBytes = 256 * 1024;

// The string field `name`: invalid when it is not a string, or absent (or null) and
// `required`; empty when absent and not required.
Result<std::string> string_field(const Json& body, const char* name, bool required = true);
// The integer field `name` in [min, max]; nullopt when absent; invalid otherwise.
Result<std::optional<std::int64_t>> int_field(const Json& body, const char* name, std::int64_t min, std::int64_t max);
// The field `name`, true or false; nullopt when absent; invalid otherwise.
Result<std::optional<bool>> bool_field(const Json& body, const char* name);
// Only `known` fields in the body, or invalid naming the first other one.
Status only_fields(const Json& body, std::initializer_list<std::string_view> known);
// The JSON nesting depth of `text` (outside strings); parsing stops being safe past ~100.
std::size_t json_depth(std::string_view text);

// {task}: 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.', starting with a letter or digit.
Result<std::string> task_param(const Context& ctx);

// {"title"} when renaming: required, 1 to 200 characters, not only blanks.
Result<std::string> title_field(const Json& body);
// {"title"} when creating: optional (empty when absent), at most 200 characters.
Result<std::string> optional_title(const Json& body);

// The prompt in `field`: a string of at most kMaxPromptBytes (too_large past it); when
// `required`, present and not only blanks. Empty when absent and not required.
Result<std::string> prompt_field(const Json& body, const char* field, bool required);

}  // namespace hearth::http
