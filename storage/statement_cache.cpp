// Prepared statements kept per connection: see statement_cache.h.
#include "storage/statement_cache.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace hearth::storage {

StatementCache::StatementCache(SQLite::Database& db) : db_(db) {}

StatementCache::~StatementCache() = default;

StatementCache::Lease::~Lease() {
  s_.tryReset();
  try {
    s_.clearBindings();
  } catch (...) {
  }
}

StatementCache::Lease StatementCache::get(const std::string& sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<SQLite::Statement>(db_, sql);
  return Lease(*slot);
}

}  // namespace hearth::storage
