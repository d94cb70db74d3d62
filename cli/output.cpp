// CLI output helpers: see output.h.
#include "cli/output.h"

#include <CLI/CLI.hpp>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/exit.h"
#include "cli/times.h"

namespace hearth::cli {

std::string read_secret(const std::string& prompt) {
  bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void add_prompt_options(CLI::App* cmd, std::vector<std::string>& words, std::string& file) {
  cmd->add_option("prompt", words, "What to say to the agent; - reads it from stdin");
  cmd->add_option("--prompt-file", file, "Read the prompt from this file");
}

std::optional<std::string> read_prompt(const std::vector<std::string>& words, const std::string& file, int& code) {
  code = kExitUsage;
  if (!words.empty() && !file.empty()) {
    fail(code, "give the prompt as an argument or with --prompt-file, not both");
    return std::nullopt;
  }
  std::string text, from = "the prompt";
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      code = fail(kExitFailed, "cannot read " + file + ": " + std::strerror(errno));
      return std::nullopt;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
    from = file;
  } else if (words.size() == 1 && words[0] == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
    from = "the prompt on stdin";
  } else {
    for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
    if (words.empty()) {
      fail(code, "give a prompt: as an argument, - to read stdin, or --prompt-file PATH");
      return std::nullopt;
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    fail(code, from + " is empty");
    return std::nullopt;
  }
  code = kExitOk;
  return text;
}

namespace {
// Timestamps (fields named `at` or *_at hold Unix milliseconds) read as UTC times.
std::string cell(const std::string& column, const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if ((column == "at" || column.ends_with("_at")) && v.is_number_integer()) return utc_text(v.get<std::int64_t>());
  return v.dump();
}
}  // namespace

void print_table(const nlohmann::json& items, const std::vector<std::string>& columns) {
  if (!items.is_array() || items.empty()) {
    std::cout << "(none)\n";
    return;
  }
  std::vector<std::size_t> width;
  for (const auto& c : columns) width.push_back(c.size());
  for (const auto& row : items)
    for (std::size_t i = 0; i < columns.size(); ++i)
      width[i] = std::max(width[i], cell(columns[i], row.value(columns[i], nlohmann::json())).size());
  auto line = [&](auto get) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      auto text = get(i);
      std::cout << text;
      if (i + 1 < columns.size()) std::cout << std::string(width[i] - text.size() + 2, ' ');
    }
    std::cout << "\n";
  };
  line([&](std::size_t i) {
    auto h = columns[i];
    std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    return h;
  });
  for (const auto& row : items) line([&](std::size_t i) { return cell(columns[i], row.value(columns[i], nlohmann::json())); });
}

void print_object(const nlohmann::json& object) {
  if (!object.is_object()) {
    std::cout << object.dump(2) << "\n";
    return;
  }
  for (const auto& [k, v] : object.items()) std::cout << k << ": " << (v.is_structured() ? v.dump() : cell(k, v)) << "\n";
}

}  // namespace hearth::cli
