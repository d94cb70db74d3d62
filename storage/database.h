// Opening an actor's SQLite database with Hearth's settings: WAL journal, a busy
// timeout, foreign keys on, and the configured `synchronous` level.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "storage/error.h"

namespace SQLite {
class Database;
}

namespace hearth::storage {

// How hard SQLite pushes each commit to disk (PRAGMA synchronous). See
// docs/architecture.md, "Durability": `full` survives power loss, `normal` survives a
// process crash but may lose the last commits on power loss.
enum class Synchronous { normal, full };

std::string_view to_string(Synchronous s);
Result<Synchronous> synchronous_from_string(std::string_view text);

struct DbOptions {
  Synchronous synchronous = Synchronous::full;
  std::chrono::milliseconds busy_timeout{5000};
  bool read_only = false;  // read-only connections never create the file
};

// Opens (and for writers, creates with parent folders) the database at `path`.
// Fails with ErrorCode::unavailable naming the path and SQLite's message.
Result<std::unique_ptr<SQLite::Database>> open_database(const std::filesystem::path& path,
                                                        const DbOptions& options);

// Milliseconds since the Unix epoch: the unit of every `_at` column.
std::int64_t now_ms();

}  // namespace hearth::storage
