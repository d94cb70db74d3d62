#include "storage/base_url.h"

namespace hearth {

Result<BaseUrl> BaseUrl::parse(std::string_view url) {
  auto invalid = [&] { return Error{ErrorCode::invalid, "\"" + std::string(url) + "\" is not an http(s) URL"}; };
  std::size_t scheme_end = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  if (scheme_end == 0 || url.find_first_of("?# ") != std::string_view::npos) return invalid();
  auto slash = url.find('/', scheme_end);
  auto host = url.substr(scheme_end, slash == std::string_view::npos ? std::string_view::npos : slash - scheme_end);
  if (host.empty() || host.starts_with(':')) return invalid();
  BaseUrl base{std::string(url.substr(0, scheme_end + host.size())), ""};
  if (slash != std::string_view::npos) base.prefix = std::string(url.substr(slash));
  while (base.prefix.ends_with('/')) base.prefix.pop_back();
  return base;
}

}  // namespace hearth
