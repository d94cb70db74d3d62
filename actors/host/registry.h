// The host's directory of created actors (<data-dir>/registry.db): lets strict `get`
// tell an unknown actor from a hibernated one, and lets the inspector list actors by
// type without waking them. Thread-safe; known ids are cached in memory.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/host/address.h"
#include "storage/database.h"

namespace hearth::actors {

struct RegistryEntry {
  std::string actor_id;
  Address address;
  std::int64_t created_at = 0;
};

class Registry {
 public:
  ~Registry();
  Status open(const std::filesystem::path& path, const storage::DbOptions& options);
  bool exists(const std::string& actor_id);
  // Records `address` (idempotent).
  Status add(const Address& address, const std::string& actor_id);
  // Entries of `type` (all types when empty) with ids after `after_id`, in id order.
  Result<std::vector<RegistryEntry>> list(const std::string& type, const std::string& after_id,
                                          std::size_t limit);
  Result<std::int64_t> count(const std::string& type);
  // The entry of `actor_id`; not_found when no such actor was created.
  Result<RegistryEntry> find(const std::string& actor_id);

 private:
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  std::unordered_set<std::string> known_;
};

}  // namespace hearth::actors
