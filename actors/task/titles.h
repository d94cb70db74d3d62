// A task's title and branch name, derived from what a person wrote: the title in the
// prompt's own words, the branch a readable ASCII slug of the title. Pure text, no I/O;
// the organization titles a new task with derive_title and reserves a branch with
// derive_branch, and the task describes its next commit by its prompts' titles. Also
// `plural`, the count and noun the task's messages use.
#pragma once

#include <cstdint>
#include <string>

namespace hearth::actors::task {

// A title from a prompt's first line, in the prompt's words ("fix the flaky parser
// test"), at most 72 bytes, cut between words. With `conventional` (an org setting),
// prefixed by a Conventional Commits type as the reference derives it ("fix: ...")
// unless the line has one already.
std::string derive_title(const std::string& prompt, bool conventional = false);
// "hearth/fix-the-flaky-parser-test-k3x9": a readable slug of the title and a suffix.
std::string derive_branch(const std::string& title, const std::string& suffix);
// "1 file", "3 files": a count and its noun.
std::string plural(std::int64_t n, const char* one, const char* many);

}  // namespace hearth::actors::task
