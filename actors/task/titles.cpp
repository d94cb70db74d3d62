// A task's title and branch name: see titles.h.
#include "actors/task/titles.h"

#include <cctype>

#include "storage/text.h"

namespace hearth::actors::task {
namespace {

std::string lower_words(const std::string& text) {
  std::string out;
  for (unsigned char c : text) out += static_cast<char>(std::tolower(c));
  return out;
}

}  // namespace

std::string derive_title(const std::string& prompt, bool conventional) {
  std::string line;
  for (std::size_t start = 0; start <= prompt.size();) {
    auto end = prompt.find('\n', start);
    auto l = prompt.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto first = l.find_first_not_of(" \t\r"); first != std::string::npos) {
      line = l.substr(first);
      break;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  line = sanitize_utf8(line);
  std::string type;
  for (const char* prefix : {"feat", "fix", "docs", "refactor", "test", "chore"}) {
    auto p = std::string(prefix) + ":";
    if (lower_words(line).rfind(p, 0) == 0) {
      type = prefix;
      line = line.substr(p.size());
      break;
    }
  }
  if (type.empty() && conventional) {
    auto lower = lower_words(line);
    if (lower.find("fix") != std::string::npos || lower.find("bug") != std::string::npos) type = "fix";
    else if (lower.find("doc") != std::string::npos || lower.find("readme") != std::string::npos) type = "docs";
    else if (lower.find("refactor") != std::string::npos) type = "refactor";
    else if (lower.find("test") != std::string::npos) type = "test";
    else type = "feat";
  }
  // The words as written: blanks and control characters collapse to one space; a
  // leading command sign or bullet ("/write ...", "- item") says nothing.
  std::string summary;
  for (unsigned char c : line) {
    bool blank = c < 0x20 || c == 0x7f || c == ' ';
    if (blank && (summary.empty() || summary.back() == ' ')) continue;
    if (summary.empty() && c < 0x80 && !std::isalnum(c)) continue;
    summary += blank ? ' ' : static_cast<char>(c);
  }
  constexpr std::size_t kMax = 72;
  if (summary.size() > kMax) {
    auto cut = summary.rfind(' ', kMax);
    if (cut == std::string::npos || cut < kMax / 2) {  // one long word: cut it at a character boundary
      cut = kMax;
      while (cut > 0 && (static_cast<unsigned char>(summary[cut]) & 0xC0) == 0x80) --cut;
    }
    summary.resize(cut);
  }
  while (!summary.empty() && summary.back() == ' ') summary.pop_back();
  if (summary.empty()) summary = "untitled task";
  return type.empty() ? summary : type + ": " + summary;
}

std::string derive_branch(const std::string& title, const std::string& suffix) {
  auto text = title;
  if (auto colon = text.find(": "); colon != std::string::npos && colon < 10) text = text.substr(colon + 2);
  std::string slug;
  for (unsigned char c : ascii_transliterated(text)) {
    if (std::isalnum(c) && c < 0x80) slug += static_cast<char>(std::tolower(c));
    else if (!slug.empty() && slug.back() != '-') slug += '-';
    if (slug.size() >= 40) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.empty()) slug = "task";
  return "hearth/" + slug + "-" + suffix;
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace hearth::actors::task
