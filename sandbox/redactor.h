// Redaction of known secret values from text Hearth stores or streams (process output,
// transcripts, logs). A value is replaced wherever it occurs, also when it arrives split
// across chunks of a stream.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::sandbox {

class Redactor {
 public:
  // (name, value) pairs; each value is replaced by "[secret NAME]". Values shorter than
  // kMinLength are ignored: they would mangle ordinary text and protect nothing.
  static constexpr std::size_t kMinLength = 4;
  explicit Redactor(const std::vector<std::pair<std::string, std::string>>& secrets = {});

  bool empty() const { return secrets_.empty(); }
  std::string redact(std::string_view text) const;

  // One stream of chunks: push() returns what is safe to pass on (it holds back only a
  // tail that could be the start of a value); flush() returns the rest at the end.
  class Stream {
   public:
    explicit Stream(const Redactor& r) : r_(r) {}
    std::string push(std::string_view chunk);
    std::string flush();

   private:
    const Redactor& r_;
    std::string pending_;
  };

 private:
  std::vector<std::pair<std::string, std::string>> secrets_;  // (value, replacement), longest first
  std::size_t longest_ = 0;
};

}  // namespace hearth::sandbox
