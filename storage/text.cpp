// Outside text made safe for JSON, logs and messages: see text.h.
#include "storage/text.h"

#include <iconv.h>
#include <locale.h>

#include <cctype>

#include <fmt/format.h>

namespace hearth {
namespace {

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 (RFC 3629,
// Table 3-7 of the Unicode standard).
std::size_t sequence_length(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto c0 = b(0);
  if (c0 < 0x80) return 1;
  auto need = c0 >= 0xC2 && c0 <= 0xDF ? 2u : c0 >= 0xE0 && c0 <= 0xEF ? 3u : c0 >= 0xF0 && c0 <= 0xF4 ? 4u : 0u;
  if (need == 0 || s.size() < need) return 0;
  auto c1 = b(1);
  unsigned lo = 0x80, hi = 0xBF;
  if (c0 == 0xE0) lo = 0xA0;
  else if (c0 == 0xED) hi = 0x9F;  // no surrogates
  else if (c0 == 0xF0) lo = 0x90;
  else if (c0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t i = 2; i < need; ++i)
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  return need;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  while (!s.empty()) {
    auto n = sequence_length(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

std::string utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  auto cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // inside a character
  return std::string(s.substr(0, cut));
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    auto n = sequence_length(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      n = 1;
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

std::string json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  bool cut = s.size() > max;
  if (cut) s = s.substr(0, max);
  while (!s.empty()) {
    auto n = sequence_length(s);
    auto c = static_cast<unsigned char>(s[0]);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F))) {
      out += fmt::format("\\x{:02X}", c);
      n = 1;
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  if (cut) out += "\xE2\x80\xA6";
  return out;
}

std::string ascii_transliterated(std::string_view s) {
  auto text = sanitize_utf8(s);
  // iconv transliterates by the thread's LC_CTYPE; C.UTF-8 (built into glibc) knows
  // Latin letters' ASCII spellings, the "C" locale does not.
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t(0));
  locale_t before = utf8 ? uselocale(utf8) : locale_t(0);
  std::string out;
  iconv_t cd = iconv_open("ASCII//TRANSLIT", "UTF-8");
  if (cd != reinterpret_cast<iconv_t>(-1)) {
    char* in = text.data();
    std::size_t in_left = text.size();
    std::string buffer(text.size() * 4 + 16, '\0');
    char* to = buffer.data();
    std::size_t to_left = buffer.size();
    while (in_left > 0) {
      if (iconv(cd, &in, &in_left, &to, &to_left) != static_cast<std::size_t>(-1)) break;
      if (errno != EILSEQ || to_left == 0) break;
      *to++ = '?';  // no spelling at all: skip the character
      --to_left;
      auto n = std::max<std::size_t>(1, sequence_length(std::string_view(in, in_left)));
      in += n;
      in_left -= n;
    }
    out.assign(buffer.data(), to);
    iconv_close(cd);
  }
  if (utf8) uselocale(before);
  if (cd == reinterpret_cast<iconv_t>(-1))
    for (unsigned char c : text) out += c < 0x80 ? static_cast<char>(c) : '?';
  return out;
}

std::string shell_quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string percent_encoded(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::array<unsigned char, 32>> hex32(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::array<unsigned char, 32> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace hearth
