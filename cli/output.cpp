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

std::string counted(std::int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

namespace {

// Unicode's zero-width and wide ranges that names, titles and branches meet (a small
// table rather than wcwidth, which needs a UTF-8 locale the machine may lack).
int char_width(char32_t c) {
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kZero[] = {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
                                    {0x064B, 0x065F}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},
                                    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2060, 0x2064},
                                    {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF},
                                    {0x1F3FB, 0x1F3FF}, {0xE0000, 0xE01EF}};
  static constexpr Range kWide[] = {{0x1100, 0x115F},   {0x231A, 0x231B},   {0x23E9, 0x23EC},   {0x23F0, 0x23F3},
                                    {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26A1, 0x26A1},
                                    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26D4, 0x26D4},
                                    {0x26EA, 0x26EA},   {0x26F2, 0x26F5},   {0x26FA, 0x26FD},   {0x2705, 0x2705},
                                    {0x270A, 0x270B},   {0x2728, 0x2728},   {0x274C, 0x274C},   {0x2753, 0x2755},
                                    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
                                    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
                                    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
                                    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
                                    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F004, 0x1F004},
                                    {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251},
                                    {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF},
                                    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
  auto in = [c](const auto& ranges) {
    return std::any_of(std::begin(ranges), std::end(ranges), [c](const Range& r) { return c >= r.first && c <= r.last; });
  };
  if (c < 0x20 || (c >= 0x7F && c < 0xA0) || in(kZero)) return 0;
  return in(kWide) ? 2 : 1;
}

}  // namespace

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0x1B && i + 1 < text.size() && text[i + 1] == '[') {  // ESC [ … final byte: a colour, no column
      i += 2;
      while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7E)) ++i;
      ++i;
      continue;
    }
    int length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) {  // not UTF-8: one column a byte
      ++width;
      ++i;
      continue;
    }
    char32_t c = length == 1 ? byte : byte & (0x7F >> length);
    for (int k = 1; k < length; ++k) c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    width += char_width(c);
    i += length;
  }
  return width;
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
      width[i] = std::max(width[i], display_width(cell(columns[i], row.value(columns[i], nlohmann::json()))));
  auto line = [&](auto get) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      auto text = get(i);
      std::cout << text;
      if (i + 1 < columns.size()) std::cout << std::string(width[i] - display_width(text) + 2, ' ');
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
  for (const auto& [k, v] : object.items()) {
    if (k == "position") continue;  // where a read stands in its event stream: for live views, not people
    std::cout << k << ": " << (v.is_structured() ? v.dump() : cell(k, v)) << "\n";
  }
}

}  // namespace hearth::cli
