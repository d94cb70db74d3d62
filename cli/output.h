// Shared helpers of the CLI commands: reading a secret from stdin, printing tables.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hearth::cli {

// One line from stdin; with a terminal, prompts on stderr and does not echo.
std::string read_secret(const std::string& prompt);

// Prints `items` (an array of objects) as aligned columns, or "(none)".
void print_table(const nlohmann::json& items, const std::vector<std::string>& columns);
// Prints an object as "key: value" lines.
void print_object(const nlohmann::json& object);

}  // namespace hearth::cli
