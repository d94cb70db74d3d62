// Applies schema migrations; see migrations.h for the rules it enforces.
#include "storage/migrations.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "storage/database.h"

namespace hearth::storage {
namespace {

std::string checksum(std::string_view sql) {
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(sql.data()),
                     sql.size(), nullptr, 0);
  char hex[sizeof out * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

// "0012_add_owner.sql" -> 12; 0 when the name does not have that shape.
int number_of(std::string_view name) {
  if (name.size() < 10 || name[4] != '_' || !name.ends_with(".sql")) return 0;
  int n = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 4, n);
  if (ec != std::errc{} || end != name.data() + 4) return 0;
  for (char c : name.substr(5, name.size() - 9))
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return 0;
  return n;
}

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " scope TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL, PRIMARY KEY (scope, name))";

}  // namespace

MigrationSet embedded_migrations(std::string_view scope) {
  MigrationSet set{std::string(scope), {}};
  for (const auto& file : embedded_migration_files())
    if (scope == file.scope) set.migrations.push_back({file.name, file.sql});
  return set;
}

Status validate(const MigrationSet& set) {
  int expected = 1;
  for (const auto& m : set.migrations) {
    int n = number_of(m.name);
    if (n == 0)
      return Error{ErrorCode::invalid,
                   fmt::format("migration {}/{}: name must read NNNN_name.sql (lower case)",
                               set.scope, m.name)};
    if (n != expected)
      return Error{ErrorCode::invalid,
                   fmt::format("migration {}/{}: expected number {:04d} (numbers start at 0001 "
                               "and have no gaps)",
                               set.scope, m.name, expected)};
    ++expected;
  }
  return {};
}

Status apply_migrations(SQLite::Database& db, std::span<const MigrationSet> sets,
                        std::string_view owner) {
  if (sodium_init() < 0) return Error{ErrorCode::internal, "libsodium failed to initialise"};
  for (const auto& set : sets)
    if (auto st = validate(set); !st) return Error{st.error().code, fmt::format("{}: {}", owner, st.error().message)};

  // Fast path, taken on every wake: when everything is applied and unchanged, read
  // only, and take no write lock.
  try {
    if (db.tableExists("schema_migrations")) {
      std::map<std::pair<std::string, std::string>, std::string> applied;
      SQLite::Statement q(db, "SELECT scope, name, checksum FROM schema_migrations");
      while (q.executeStep())
        applied[{q.getColumn(0).getString(), q.getColumn(1).getString()}] = q.getColumn(2).getString();
      std::size_t wanted = 0;
      bool current = true;
      for (const auto& set : sets)
        for (const auto& m : set.migrations) {
          ++wanted;
          auto it = applied.find({set.scope, m.name});
          current = current && it != applied.end() && it->second == checksum(m.sql);
        }
      if (current && wanted == applied.size()) return {};
    }
  } catch (const std::exception&) {
    // Fall through to the full check, which reports the problem precisely.
  }

  std::string current_file;
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    db.exec(kCreateTable);

    // What this database has applied, by scope and name.
    std::map<std::pair<std::string, std::string>, std::string> applied;
    SQLite::Statement q(db, "SELECT scope, name, checksum FROM schema_migrations");
    while (q.executeStep())
      applied[{q.getColumn(0).getString(), q.getColumn(1).getString()}] = q.getColumn(2).getString();

    std::size_t known = 0;
    bool changed = false;
    SQLite::Statement record(
        db, "INSERT INTO schema_migrations(scope, name, checksum, applied_at) VALUES(?,?,?,?)");
    for (const auto& set : sets) {
      for (const auto& m : set.migrations) {
        current_file = set.scope + "/" + m.name;
        auto sum = checksum(m.sql);
        if (auto it = applied.find({set.scope, m.name}); it != applied.end()) {
          ++known;
          if (it->second != sum)
            return Error{ErrorCode::internal,
                         fmt::format("{}: migration {} was changed after it was applied; "
                                     "migrations are append-only (add a new file instead)",
                                     owner, current_file)};
          continue;
        }
        db.exec(m.sql);
        record.bind(1, set.scope);
        record.bind(2, m.name);
        record.bind(3, sum);
        record.bind(4, static_cast<int64_t>(now_ms()));
        record.exec();
        record.reset();
        changed = true;
      }
    }
    if (known != applied.size()) {
      for (const auto& [key, sum] : applied) {
        bool found = false;
        for (const auto& set : sets)
          for (const auto& m : set.migrations)
            found = found || (set.scope == key.first && m.name == key.second);
        if (!found)
          return Error{ErrorCode::internal,
                       fmt::format("{}: database has migration {}/{} which this build does not "
                                   "know; it was written by a newer Hearth",
                                   owner, key.first, key.second)};
      }
    }
    if (changed) spdlog::info("storage.migrated owner={}", owner);
    tx.commit();
    return {};
  } catch (const std::exception& e) {
    return Error{ErrorCode::internal,
                 current_file.empty()
                     ? fmt::format("{}: migrations failed: {}", owner, e.what())
                     : fmt::format("{}: migration {} failed: {}", owner, current_file, e.what())};
  }
}

}  // namespace hearth::storage
