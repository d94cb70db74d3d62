// Shared helpers of the CLI commands: reading a secret or a prompt, printing tables.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace hearth::cli {

// One line from stdin; with a terminal, prompts on stderr and does not echo.
std::string read_secret(const std::string& prompt);

// Adds the prompt's positional argument `words` ("-": read stdin) and --prompt-file to a
// command that sends the agent a prompt.
void add_prompt_options(CLI::App* cmd, std::vector<std::string>& words, std::string& file);
// The prompt those options give: the words joined by spaces, all of stdin for "-", or the
// file's text, without trailing newlines. nullopt (after saying why) when both or neither
// are given or the prompt is empty (`code`: kExitUsage), or the file cannot be read
// (kExitFailed).
std::optional<std::string> read_prompt(const std::vector<std::string>& words, const std::string& file, int& code);

// "1 file", "2 files": `n` and the noun that agrees with it.
std::string counted(std::int64_t n, const std::string& one, const std::string& many);

// Columns `text` takes on a terminal: East Asian wide characters and emoji take two,
// combining marks and ANSI escape sequences none.
std::size_t display_width(std::string_view text);

// Prints `items` (an array of objects) as columns aligned by display width, or "(none)".
void print_table(const nlohmann::json& items, const std::vector<std::string>& columns);
// Prints an object as "key: value" lines.
void print_object(const nlohmann::json& object);

}  // namespace hearth::cli
