// The actor directory: see registry.h.
#include "actors/host/registry.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "storage/migrations.h"
#include "storage/sql.h"

namespace hearth::actors {

Registry::~Registry() = default;

Status Registry::open(const std::filesystem::path& path, const storage::DbOptions& options) {
  auto db = storage::open_database(path, options);
  if (!db) return db.error();
  std::vector<storage::MigrationSet> sets{storage::embedded_migrations("registry")};
  if (auto st = storage::apply_migrations(**db, sets, "registry " + path.string()); !st) return st;
  std::lock_guard lock(mu_);
  db_ = std::move(*db);
  return {};
}

bool Registry::exists(const std::string& actor_id) {
  std::lock_guard lock(mu_);
  if (known_.contains(actor_id)) return true;
  SQLite::Statement q(*db_, "SELECT 1 FROM actors WHERE actor_id = ?");
  sql::bind_all(q, actor_id);
  if (!q.executeStep()) return false;
  known_.insert(actor_id);
  return true;
}

Status Registry::add(const Address& address, const std::string& actor_id) {
  std::lock_guard lock(mu_);
  if (known_.contains(actor_id)) return {};
  try {
    SQLite::Statement ins(*db_,
                          "INSERT OR IGNORE INTO actors(actor_id, type, key_json, created_at) VALUES(?,?,?,?)");
    sql::bind_all(ins, actor_id, address.type, Json(address.key).dump(), storage::now_ms());
    ins.exec();
    known_.insert(actor_id);
    return {};
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable,
                 fmt::format("registry: could not record actor {}: {}", address.display(), e.what())};
  }
}

Result<std::vector<RegistryEntry>> Registry::list(const std::string& type, const std::string& after_id,
                                                  std::size_t limit) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT actor_id, type, key_json, created_at FROM actors "
                        "WHERE (?1 = '' OR type = ?1) AND actor_id > ?2 ORDER BY actor_id LIMIT ?3");
    sql::bind_all(q, type, after_id, limit);
    std::vector<RegistryEntry> out;
    while (q.executeStep()) {
      RegistryEntry e;
      e.actor_id = q.getColumn(0).getString();
      e.address.type = q.getColumn(1).getString();
      e.address.key = Json::parse(q.getColumn(2).getString()).get<std::vector<std::string>>();
      e.created_at = q.getColumn(3).getInt64();
      out.push_back(std::move(e));
    }
    return out;
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable, fmt::format("registry: cannot list actors: {}", e.what())};
  }
}

Result<RegistryEntry> Registry::find(const std::string& actor_id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT actor_id, type, key_json, created_at FROM actors WHERE actor_id = ?");
    sql::bind_all(q, actor_id);
    if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no actor has id \"{}\"", actor_id)};
    RegistryEntry e;
    e.actor_id = q.getColumn(0).getString();
    e.address.type = q.getColumn(1).getString();
    e.address.key = Json::parse(q.getColumn(2).getString()).get<std::vector<std::string>>();
    e.created_at = q.getColumn(3).getInt64();
    return e;
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable, fmt::format("registry: cannot look up an actor: {}", e.what())};
  }
}

Result<std::int64_t> Registry::count(const std::string& type) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT COUNT(*) FROM actors WHERE (?1 = '' OR type = ?1)");
    sql::bind_all(q, type);
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable, fmt::format("registry: cannot count actors: {}", e.what())};
  }
}

}  // namespace hearth::actors
