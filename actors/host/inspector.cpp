// Inspector reads: what the host knows about its actors, for the inspector endpoints.
// Everything here is read-only and goes through the same read path as actions.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/host/host_core.h"
#include "storage/sql.h"

namespace hearth::actors {
namespace {

constexpr std::size_t kMaxPage = 500;

std::size_t page(std::size_t limit) { return std::clamp<std::size_t>(limit, 1, kMaxPage); }

Json column_value(const SQLite::Column& c) {
  if (c.isInteger()) return c.getInt64();
  if (c.isFloat()) return c.getDouble();
  if (c.isNull()) return nullptr;
  if (c.isBlob()) return fmt::format("<blob {} bytes>", c.getBytes());
  return c.getString();
}

Json row_object(SQLite::Statement& q) {
  Json row = Json::object();
  for (int i = 0; i < q.getColumnCount(); ++i) row[q.getColumnName(i)] = column_value(q.getColumn(i));
  return row;
}

Json parse_json_column(const Json& v) {
  if (!v.is_string()) return v;
  auto parsed = Json::parse(v.get<std::string>(), nullptr, false);
  return parsed.is_discarded() ? v : parsed;
}

}  // namespace

bool is_secret_column(std::string_view name) {
  for (auto part : {"password", "secret", "hash", "token", "ciphertext", "private_key", "api_key"})
    if (name.find(part) != std::string_view::npos) return true;
  return false;
}

void mask_secrets(Json& value) {
  if (value.is_object()) {
    for (auto& [k, v] : value.items()) {
      if (is_secret_column(k) && !v.is_null()) v = "***masked***";
      else mask_secrets(v);
    }
  } else if (value.is_array()) {
    for (auto& v : value) mask_secrets(v);
  }
}

Result<ActorInfo> Host::find_actor(const std::string& actor_id) {
  auto e = core_->registry.find(actor_id);
  if (!e) return e.error();
  return core_->info(std::move(e->address), e->actor_id, e->created_at);
}

Result<std::vector<ActorInfo>> Host::list_actors(const std::string& type, const std::string& after_id,
                                                 std::size_t limit, std::optional<bool> active) {
  std::vector<ActorInfo> out;
  std::string cursor = after_id;
  // Filtering by state may skip entries; read on until the page is full or the registry ends.
  for (;;) {
    auto entries = core_->registry.list(type, cursor, page(limit));
    if (!entries) return entries.error();
    for (auto& e : *entries) {
      cursor = e.actor_id;
      auto info = core_->info(std::move(e.address), e.actor_id, e.created_at);
      if (active && *active != info.active) continue;
      out.push_back(std::move(info));
      if (out.size() >= page(limit)) return out;
    }
    if (entries->size() < page(limit)) return out;
  }
}

Result<Json> Host::actor_summary(const Address& address) {
  bool was_active;
  {
    std::lock_guard lock(core_->mu);
    was_active = core_->active.contains(address.id());
  }
  auto path = database_path(core_->config.data_dir, address);
  return core_->read(address, [&](ReadContext& ctx) -> Result<Json> {
    auto& db = ctx.db;
    Json counts = Json::object();
    SQLite::Statement q(db, "SELECT status, COUNT(*) FROM queue_messages GROUP BY status");
    while (q.executeStep()) counts[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    Json tables = Json::array();
    SQLite::Statement t(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    while (t.executeStep()) tables.push_back(t.getColumn(0).getString());
    Json last = nullptr;
    SQLite::Statement h(db, "SELECT * FROM workflow_history ORDER BY id DESC LIMIT 1");
    if (h.executeStep()) last = row_object(h);
    SQLite::Statement meta(db, "SELECT created_at, input_json FROM actor_meta WHERE id = 1");
    Json created_at = nullptr, input = nullptr;
    if (meta.executeStep()) {
      created_at = meta.getColumn(0).getInt64();
      input = parse_json_column(column_value(meta.getColumn(1)));
      mask_secrets(input);
    }
    std::error_code ec;
    auto bytes = std::filesystem::file_size(path, ec);
    auto wal = std::filesystem::file_size(path.string() + "-wal", ec);
    return Json{{"address", address.to_json()},
                {"actor_id", address.id()},
                {"was_active", was_active},
                {"created_at", created_at},
                {"input", input},
                {"queue", {{"pending", counts.value("pending", 0)},
                           {"failed", counts.value("failed", 0)},
                           {"rejected", counts.value("rejected", 0)},
                           {"completed", counts.value("completed", 0)},
                           {"discarded", counts.value("discarded", 0)}}},
                {"io_jobs_in_flight", db.execAndGet("SELECT COUNT(*) FROM io_jobs").getInt64()},
                {"outbox_undelivered", db.execAndGet("SELECT COUNT(*) FROM outbox").getInt64()},
                {"last_step", last},
                {"tables", tables},
                {"database", {{"path", path.string()}, {"bytes", bytes}, {"wal_bytes", ec ? 0 : wal}}}};
  });
}

Result<Json> Host::queue_messages(const Address& address, const std::string& status, std::int64_t before_id,
                                  std::size_t limit) {
  if (!status.empty() && !parse_message_status(status))
    return Error{ErrorCode::invalid, fmt::format("status must be pending, failed, rejected, completed or discarded, not \"{}\"",
                                                 status)};
  return core_->read(address, [&](ReadContext& ctx) -> Result<Json> {
    SQLite::Statement q(ctx.db,
                        "SELECT id, queue, status, enqueued_at, completed_at, dedupe_key, attempts, body_json, "
                        "result_json, error_json FROM queue_messages WHERE (?1 = '' OR status = ?1) AND (?2 = 0 OR id < ?2) "
                        "ORDER BY id DESC LIMIT ?3");
    sql::bind_all(q, status, before_id, page(limit));
    Json items = Json::array();
    while (q.executeStep()) {
      auto row = row_object(q);
      for (const char* k : {"body_json", "result_json", "error_json"}) {
        std::string name(k);
        auto value = parse_json_column(row[name]);
        mask_secrets(value);
        row[name.substr(0, name.size() - 5)] = std::move(value);
        row.erase(name);
      }
      items.push_back(std::move(row));
    }
    Json next = items.size() == page(limit) ? items.back()["id"] : Json(nullptr);
    return Json{{"items", items}, {"next_before_id", next}};
  });
}

Result<Json> Host::workflow_history(const Address& address, std::int64_t before_id, std::size_t limit) {
  return core_->read(address, [&](ReadContext& ctx) -> Result<Json> {
    SQLite::Statement q(ctx.db,
                        "SELECT id, message_id, queue, started_at, ended_at, duration_us, outcome, error_json "
                        "FROM workflow_history WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
    sql::bind_all(q, before_id, page(limit));
    Json items = Json::array();
    while (q.executeStep()) {
      auto row = row_object(q);
      row["error"] = parse_json_column(row["error_json"]);
      row.erase("error_json");
      items.push_back(std::move(row));
    }
    Json next = items.size() == page(limit) ? items.back()["id"] : Json(nullptr);
    return Json{{"items", items}, {"next_before_id", next}};
  });
}

Result<Json> Host::table_rows(const Address& address, const std::string& table, std::int64_t after_rowid,
                              std::size_t limit) {
  return core_->read(address, [&](ReadContext& ctx) -> Result<Json> {
    // Only names the database itself lists are ever put into SQL text.
    SQLite::Statement known(ctx.db,
                            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? AND name NOT LIKE 'sqlite_%'");
    sql::bind_all(known, table);
    if (!known.executeStep())
      return Error{ErrorCode::not_found, fmt::format("actor {} has no table \"{}\"", address.display(), table)};
    std::string quoted = "\"";
    for (char ch : known.getColumn(0).getString()) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    quoted += "\"";
    SQLite::Statement q(ctx.db, fmt::format("SELECT rowid AS _rowid, * FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                            quoted));
    sql::bind_all(q, after_rowid, page(limit));
    Json items = Json::array();
    while (q.executeStep()) {
      auto row = row_object(q);
      for (auto& [column, value] : row.items())
        if (is_secret_column(column) && !value.is_null()) value = "***masked***";
      items.push_back(std::move(row));
    }
    Json next = items.size() == page(limit) ? items.back()["_rowid"] : Json(nullptr);
    return Json{{"table", table}, {"items", items}, {"next_after_rowid", next}};
  });
}

}  // namespace hearth::actors
