// The CLI's side of the HTTP API: the stored login ($XDG_CONFIG_HOME/hearth/config.json,
// mode 0600), one call at a time with the caller's token, errors printed on stderr in
// words with the exit codes of cli/exit.h, and streams of Server-Sent Events.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit.h"

namespace CLI {
class App;
}

namespace hearth::cli {

using Json = nlohmann::json;

// Adds --url, --token and --json (the options every command that talks to a server has).
void add_client_options(CLI::App* cmd, ClientOptions& options);

std::filesystem::path config_path();
Json load_config();
bool save_config(const Json& config);
// Percent-encodes one path segment or query value.
std::string encode(const std::string& s);
// /v1/orgs/<org>, the org's path in the API.
std::string org_path(const std::string& org);

struct Response {
  int status = 0;
  Json body;
  std::string set_cookie;
  std::string text;  // the body as it came
};

// A server's address as `--url` gives it: http or https, a host (or [IPv6]), an optional
// port, and nothing after it but slashes.
struct ServerUrl {
  std::string scheme, host;
  int port = 0;
};
std::optional<ServerUrl> parse_server_url(std::string_view text);

// One server, as the options or the stored login name it.
class Api {
 public:
  explicit Api(const ClientOptions& o);

  // kExitOk when a usable URL (and, with need_token, a token) is known; else prints why
  // and returns kExitNotSignedIn (none stored), or kExitUsage (not a URL).
  int ready(bool need_token = true) const;

  // One HTTP call; nullopt (after printing why, in words) when no answer came: exit
  // with kExitFailed then. Call ready() first.
  std::optional<Response> call(const std::string& method, const std::string& path, const Json& body = nullptr,
                               httplib::Headers headers = {});

  // Runs a call and prints its result: `show` for humans, the JSON with --json. Returns
  // the exit code.
  int run(const std::string& method, const std::string& path, const Json& body,
          const std::function<void(const Json&)>& show);

  // A call that must succeed: its body, or nullopt after printing the server's error
  // (`code` gets the exit code).
  std::optional<Json> fetch(const std::string& method, const std::string& path, const Json& body, int& code);

  // Follows the event stream at `path` (after `last_event_id`), calling `on_event(name, id,
  // data)` for each event until it returns false or the stream ends. Reconnects (with
  // Last-Event-ID) when the connection drops. kExitOk, or (after printing why) the exit
  // code when it could not connect at all or the server refused.
  int stream(const std::string& path, std::string last_event_id,
              const std::function<bool(const std::string& name, const std::string& id, const Json& data)>& on_event);

  bool json_output() const { return options_.json; }

  std::string url_, token_;  // the URL without trailing slashes, as people wrote it

 private:
  httplib::Client client() const;
  const ClientOptions& options_;
  std::optional<ServerUrl> server_;
};

// "A/B/C" split into exactly `parts` non-empty parts; nullopt (after saying that it
// should look like `form`) otherwise.
std::optional<std::vector<std::string>> split_ref(const std::string& text, int parts, const std::string& form);

// What of a session's transcript a watch shows.
struct TranscriptWatch {
  std::int64_t after_seq = 0;   // the events after this seq
  std::int64_t from_turn = 0;   // of those, the ones of this turn and later turns
  std::int64_t until_turn = 0;  // > 0: return once this turn is over
  // A permission request is printed with the commands that answer it:
  // `hearth NOUN approve REF ID`, NOUN "task" or "session" and REF its ORG/TASK or
  // ORG/TASK/SESSION.
  std::string answer_noun, answer_ref;
};

// Follows a session's transcript (its path: /v1/orgs/…/sessions/ID) as `watch` says,
// printed for people (NDJSON with --json). Exit code: 0, or 1 when the turn failed.
int watch_transcript(Api& api, const std::string& session_path, const TranscriptWatch& watch);

// A permission request an agent waits on, in the session at `session_path`.
struct PendingPermission {
  std::string session_path, permission_id, title;
};
// The pending requests of the session at `session_path`; nullopt after saying why.
std::optional<std::vector<PendingPermission>> pending_permissions(Api& api, const std::string& session_path, int& code);
// The only request in `pending`; otherwise nullopt after saying why: none is pending
// (`code`: kExitFailed) or several are (kExitUsage), each listed as `command` and its id.
std::optional<PendingPermission> only_pending(const std::vector<PendingPermission>& pending, const std::string& command,
                                              int& code);
// Answers a request with `decision` (allow_once, allow_always or reject) and prints how
// it is settled. The exit code.
int answer_permission(Api& api, const std::string& session_path, const std::string& permission_id,
                      const std::string& decision);

}  // namespace hearth::cli
