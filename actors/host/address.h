// An actor address: a type plus a key (a list of strings), e.g. task ["acme","web","t_1"].
// Addresses, never pointers, cross actor boundaries, so that an actor may live on any node.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/error.h"

namespace hearth::actors {

using Json = nlohmann::json;

struct Address {
  std::string type;              // [a-z][a-z0-9_-]*, at most 64 bytes
  std::vector<std::string> key;  // at most 16 parts of valid UTF-8, 512 bytes each

  // The stable actor id: 32 hex digits of BLAKE2b over the type and the key's exact
  // bytes. The same address gives the same id in every process and every version.
  std::string id() const;

  // `task ["acme","web","t_1"]`: for logs and error messages.
  std::string display() const;

  Json to_json() const;  // {"type":..., "key":[...]}

  bool operator==(const Address&) const = default;
};

// Checks the shape rules above; the error names the offending part.
Status validate(const Address& address);

// Parses {"type":..., "key":[...]} and validates it.
Result<Address> address_from_json(const Json& json);

// Where the actor's database lives under `data_dir`: actors/<type>/<id[0..2]>/<id>.db.
// Derived from the id, so it is safe whatever bytes the key holds.
std::filesystem::path database_path(const std::filesystem::path& data_dir, const Address& address);

}  // namespace hearth::actors
