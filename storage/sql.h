// Binding values to a statement and reading columns back, by type, so that a handler
// says which values go where once instead of one positional .bind() per line, and reads
// a NULL the same way everywhere. A thin layer over SQLiteCpp: it adds no state and
// owns nothing; use it on a SQLite::Statement or on a StatementCache::Lease (*lease).
//
//   auto q = ctx.statement("UPDATE ops SET status = ?, error = ? WHERE id = ?");
//   sql::bind_all(*q, "failed", std::optional<std::string>(), id);  // error is NULL
//   q->exec();
//
//   auto name = sql::column<std::optional<std::string>>(q->getColumn(0));
//   Json row{{"ended_at", sql::int_or_null(q->getColumn(1))}};
#pragma once

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Statement.h>
#include <nlohmann/json.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace hearth::sql {

// Binds `value` to parameter `index` (1-based): integers and bools as INTEGER (true
// as 1), floating point as REAL, strings as TEXT (copied), an empty std::optional or
// nullptr as NULL.
inline void bind_one(SQLite::Statement& s, int index, std::nullptr_t) { s.bind(index); }
inline void bind_one(SQLite::Statement& s, int index, std::string_view v) { s.bind(index, std::string(v)); }
inline void bind_one(SQLite::Statement& s, int index, const std::string& v) { s.bind(index, v); }
inline void bind_one(SQLite::Statement& s, int index, const char* v) { s.bind(index, v); }
template <std::integral T>
void bind_one(SQLite::Statement& s, int index, T v) {
  s.bind(index, static_cast<std::int64_t>(v));  // bool too: 0 or 1
}
template <std::floating_point T>
void bind_one(SQLite::Statement& s, int index, T v) {
  s.bind(index, static_cast<double>(v));
}
template <class T>
void bind_one(SQLite::Statement& s, int index, const std::optional<T>& v) {
  if (v) bind_one(s, index, *v);
  else s.bind(index);
}

// Binds `values` to parameters 1, 2, … in order.
template <class... Values>
void bind_all(SQLite::Statement& s, const Values&... values) {
  int index = 0;
  (bind_one(s, ++index, values), ...);
}

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
}  // namespace detail

// The column as T: std::string, an integer type, bool (non-zero), double, nlohmann::json
// (the column holds JSON text; NULL reads as null; text that is not JSON throws, as a
// corrupt row should), or std::optional of one of those (NULL as empty). A NULL read
// as a plain T reads as SQLite converts it: "" or 0.
template <class T>
T column(const SQLite::Column& c) {
  if constexpr (detail::IsOptional<T>::value) {
    if (c.isNull()) return std::nullopt;
    return column<typename T::value_type>(c);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return c.getString();
  } else if constexpr (std::is_same_v<T, bool>) {
    return c.getInt64() != 0;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(c.getInt64());
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(c.getDouble());
  } else {
    static_assert(std::is_same_v<T, nlohmann::json>, "sql::column reads strings, numbers, bools and JSON");
    if (c.isNull()) return nlohmann::json(nullptr);
    return nlohmann::json::parse(c.getString());
  }
}

// The column as a JSON string or integer, or null when NULL: the shape reads answer
// with for an optional field.
inline nlohmann::json text_or_null(const SQLite::Column& c) {
  return c.isNull() ? nlohmann::json(nullptr) : nlohmann::json(c.getString());
}
inline nlohmann::json int_or_null(const SQLite::Column& c) {
  return c.isNull() ? nlohmann::json(nullptr) : nlohmann::json(c.getInt64());
}

// What a nullable column takes from JSON: the string (or integer) `v` holds, or
// nullopt (NULL) when it holds anything else, null included.
inline std::optional<std::string> optional_text(const nlohmann::json& v) {
  return v.is_string() ? std::optional(v.get<std::string>()) : std::nullopt;
}
inline std::optional<std::int64_t> optional_int(const nlohmann::json& v) {
  return v.is_number_integer() ? std::optional(v.get<std::int64_t>()) : std::nullopt;
}
// The same for the field `key` of the object `obj` (absent: nullopt).
inline std::optional<std::string> optional_text(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? std::nullopt : optional_text(*it);
}

}  // namespace hearth::sql
