// Opens SQLite databases with the pragmas every Hearth database relies on.
#include "storage/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

namespace hearth::storage {

std::string_view to_string(Synchronous s) { return s == Synchronous::full ? "full" : "normal"; }

Result<Synchronous> synchronous_from_string(std::string_view text) {
  if (text == "full" || text == "FULL") return Synchronous::full;
  if (text == "normal" || text == "NORMAL") return Synchronous::normal;
  return Error{ErrorCode::invalid,
               fmt::format("sqlite synchronous must be \"full\" or \"normal\", not \"{}\"", text)};
}

namespace {

// SQLite counts every allocation under one process-wide mutex unless told not to; with
// hundreds of actors' threads at work (200 tasks provisioning at once) that mutex is
// where they all wait. Hearth never reads those statistics. Must run before SQLite
// initializes, so: before the first database opens.
void configure_sqlite_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}

}  // namespace

Result<std::unique_ptr<SQLite::Database>> open_database(const std::filesystem::path& path,
                                                        const DbOptions& options) {
  configure_sqlite_once();
  try {
    int flags = SQLite::OPEN_NOMUTEX;
    if (options.read_only) {
      flags |= SQLite::OPEN_READONLY;
    } else {
      std::filesystem::create_directories(path.parent_path());
      flags |= SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE;
    }
    auto db = std::make_unique<SQLite::Database>(path.string(), flags,
                                                 static_cast<int>(options.busy_timeout.count()));
    if (!options.read_only) {
      // Keep the -wal and -shm files when the connection closes: actors hibernate and
      // wake all day, and creating and deleting two files each time costs more than
      // the rest of a wake (inode allocation) on ext4.
      int persist = 1;
      sqlite3_file_control(db->getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
      auto mode = db->execAndGet("PRAGMA journal_mode=WAL").getString();
      if (mode != "wal")
        return Error{ErrorCode::unavailable,
                     fmt::format("database {}: could not enable WAL (journal_mode={})",
                                 path.string(), mode)};
    }
    db->exec(fmt::format("PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304; PRAGMA synchronous={}",
                         options.synchronous == Synchronous::full ? "FULL" : "NORMAL"));
    return db;
  } catch (const std::exception& e) {
    return Error{ErrorCode::unavailable,
                 fmt::format("database {}: cannot open: {}", path.string(), e.what())};
  }
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace hearth::storage
