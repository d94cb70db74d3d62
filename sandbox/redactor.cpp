// Redaction of known secret values: see redactor.h.
#include "sandbox/redactor.h"

#include <algorithm>

namespace hearth::sandbox {

Redactor::Redactor(const std::vector<std::pair<std::string, std::string>>& secrets) {
  for (const auto& [name, value] : secrets)
    if (value.size() >= kMinLength) secrets_.emplace_back(value, "[secret " + name + "]");
  // Longest first, so that a value containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& s : secrets_) longest_ = std::max(longest_, s.first.size());
}

std::string Redactor::redact(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    bool replaced = false;
    for (const auto& [value, replacement] : secrets_) {
      if (text.compare(i, value.size(), value) == 0) {
        out += replacement;
        i += value.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

std::string Redactor::Stream::push(std::string_view chunk) {
  if (r_.empty()) return std::string(chunk);
  pending_.append(chunk);
  // Hold back only the longest tail that could be the start of a value: everything
  // before it is final. Ordinary text is passed on at once.
  std::string text = std::move(pending_);
  pending_.clear();
  std::size_t keep = 0;
  for (const auto& [value, _] : r_.secrets_)
    for (std::size_t k = std::min(text.size(), value.size() - 1); k > keep; --k)
      if (text.compare(text.size() - k, k, value, 0, k) == 0) {
        keep = k;
        break;
      }
  auto cut = text.size() - keep;
  pending_ = text.substr(cut);
  return r_.redact(std::string_view(text).substr(0, cut));
}

std::string Redactor::Stream::flush() {
  auto out = r_.redact(pending_);
  pending_.clear();
  return out;
}

}  // namespace hearth::sandbox
