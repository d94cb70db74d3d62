// Text that came from outside (request paths, headers, agent output) on its way into
// JSON, logs and error messages. nlohmann::json's dump() throws on invalid UTF-8 by
// default; a throw while answering an error once took the whole server down. Every
// JSON text Hearth writes from data it did not make goes through json_text(), and every
// client-supplied string quoted in a message goes through printable().
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace hearth {

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s);

// `s` with every ill-formed sequence replaced by U+FFFD: safe to put into JSON.
std::string sanitize_utf8(std::string_view s);

// At most `max` bytes of `s`, cut before a character rather than inside one.
std::string utf8_prefix(std::string_view s, std::size_t max);

// value.dump(indent) that never throws: ill-formed UTF-8 in strings becomes U+FFFD.
std::string json_text(const nlohmann::json& value, int indent = -1);

// `s` for a message or a log line: at most `max` bytes of it, control characters and
// bytes that are not UTF-8 written as \xNN, and "…" when cut.
std::string printable(std::string_view s, std::size_t max = 200);

// `s` in ASCII, letters with accents and ligatures spelled without (`Équipe` → `Equipe`,
// `straße` → `strasse`, glibc's transliteration in C.UTF-8); what has no ASCII spelling
// becomes '?'. For slugs and branch names.
std::string ascii_transliterated(std::string_view s);

// `s` safe inside a URL's path segment or query value: unreserved characters (A-Z a-z
// 0-9 - _ . ~) kept, every other byte %XX.
std::string percent_encoded(std::string_view s);

// The 32 bytes written as 64 hex digits (either case): a SHA-256 digest or HMAC as
// webhooks send them; nothing for anything else.
std::optional<std::array<unsigned char, 32>> hex32(std::string_view hex);

// `s` as one word for a POSIX shell: single-quoted, each quote in it written '\''.
std::string shell_quoted(std::string_view s);

}  // namespace hearth
