// Index updates: see index_update.h.
#include "actors/host/index_update.h"

namespace hearth::actors {

Status send_index_update(StepContext& ctx, Json& result, const Address& to, std::string queue, Json body,
                         std::string dedupe_key) {
  if (auto st = ctx.send(to, queue, body, dedupe_key); !st) return st;
  if (!result.is_object()) result = Json::object();
  result["index"].push_back(Json{{"type", to.type},
                                 {"key", to.key},
                                 {"queue", std::move(queue)},
                                 {"body", std::move(body)},
                                 {"dedupe_key", std::move(dedupe_key)}});
  return {};
}

Status apply_index_updates(Host& host, Json& result) {
  if (!result.is_object() || !result.contains("index")) return {};
  auto updates = std::move(result["index"]);
  result.erase("index");
  for (const auto& u : updates) {
    SendOptions options;
    options.wait = true;
    options.dedupe_key = u["dedupe_key"].get<std::string>();
    Address to{u["type"].get<std::string>(), u["key"].get<std::vector<std::string>>()};
    auto r = host.send(to, u["queue"].get<std::string>(), u["body"], options);
    if (!r) return r.error();
  }
  return {};
}

}  // namespace hearth::actors
