// Prepared statements kept per connection. Preparing a statement costs more than
// running the small statements Hearth issues per message or per read, so each
// connection prepares a given SQL text once and reuses it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace hearth::storage {

class StatementCache {
 public:
  explicit StatementCache(SQLite::Database& db);
  ~StatementCache();  // finalizes every statement: destroy before the connection closes
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // A statement lent for one use: reset, with its bindings cleared, when it goes out of
  // scope. Lend one SQL text to one user at a time.
  class Lease {
   public:
    explicit Lease(SQLite::Statement& s) : s_(s) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    SQLite::Statement* operator->() { return &s_; }
    SQLite::Statement& operator*() { return s_; }

   private:
    SQLite::Statement& s_;
  };

  // The statement for `sql`, prepared on first use. Throws SQLite::Exception on bad SQL.
  Lease get(const std::string& sql);
  SQLite::Database& db() { return db_; }

 private:
  SQLite::Database& db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace hearth::storage
