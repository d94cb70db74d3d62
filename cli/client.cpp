// The client subcommands: talk to a running server over its HTTP API with a stored
// (or given) URL and API token. `hearth login` signs in once and keeps an API token in
// $XDG_CONFIG_HOME/hearth/config.json (mode 0600). Errors print the server's message
// on stderr and exit non-zero: 2 for usage, 3 for auth, 4 not found, 1 otherwise.
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/exit.h"
#include "cli/output.h"

namespace hearth::cli {

int run_parsed(const CommandSet& set) {
  for (const auto& [app, run] : set.commands)
    if (app->parsed()) return run();
  return -1;
}

namespace {

int login(const ClientOptions& o, const std::string& username_in, bool password_stdin, const std::string& token) {
  ClientOptions opts = o;
  if (opts.url.empty()) opts.url = load_config().value("url", std::string());
  if (opts.url.empty()) return fail(kExitUsage, "give the server's URL with --url (or HEARTH_URL)");
  while (!opts.url.empty() && opts.url.back() == '/') opts.url.pop_back();
  Json config = load_config();
  if (!token.empty()) {
    opts.token = token;
    Api api(opts);
    if (int code = api.ready(); code != kExitOk) return code;
    auto r = api.call("GET", "/v1/auth/session");
    if (!r) return kExitFailed;
    if (r->status != 200)
      return fail(kExitNotSignedIn, "the server does not accept that token (HTTP " + std::to_string(r->status) + ")");
    config["url"] = opts.url;
    config["token"] = token;
    if (!save_config(config)) return kExitFailed;
    std::cout << "signed in to " << opts.url << " as " << r->body["user"]["username"].get<std::string>() << "\n";
    return kExitOk;
  }
  if (int code = Api(opts).ready(false); code != kExitOk) return code;
  auto username = username_in;
  if (username.empty()) {
    std::cerr << "username: " << std::flush;
    std::getline(std::cin, username);
  }
  auto password = password_stdin ? read_secret("") : read_secret("password: ");
  opts.token.clear();
  Api api(opts);
  api.token_.clear();
  auto r = api.call("POST", "/v1/auth/sign-in", Json{{"username", username}, {"password", password}});
  if (!r) return kExitFailed;
  if (r->status != 200) {
    std::cerr << "hearth: " << (r->body.is_object() && r->body.contains("error") ? r->body["error"].value("message", "")
                                                                                   : std::string("sign-in failed"))
              << " (HTTP " << r->status << ")\n";
    return exit_code_for(r->status);
  }
  auto cookie = r->set_cookie.substr(0, r->set_cookie.find(';'));
  char host[256] = "this machine";
  gethostname(host, sizeof host - 1);
  auto created = api.call("POST", "/v1/tokens", Json{{"name", std::string("hearth CLI on ") + host}},
                          {{"Cookie", cookie}, {"X-CSRF-Token", r->body["csrf_token"].get<std::string>()}});
  if (!created || created->status != 201) return fail(kExitFailed, "signed in, but could not create an API token");
  (void)api.call("POST", "/v1/auth/sign-out", Json::object(),
                 {{"Cookie", cookie}, {"X-CSRF-Token", r->body["csrf_token"].get<std::string>()}});
  config["url"] = opts.url;
  config["token"] = created->body["token"];
  if (!save_config(config)) return fail(kExitFailed, "cannot write " + config_path().string());
  std::cout << "signed in to " << opts.url << " as " << username << "; the API token is stored in "
            << config_path().string() << "\n";
  return kExitOk;
}

// Revokes the stored API token on the server and forgets it here.
int logout(const ClientOptions& opts) {
  Api api(opts);
  if (int code = api.ready(); code != kExitOk) return code;
  auto session = api.call("GET", "/v1/auth/session");
  if (!session) return kExitFailed;
  if (session->status == 200 && session->body["credential"]["kind"] == "token") {
    auto id = session->body["credential"]["id"].get<std::string>();
    auto revoked = api.call("DELETE", "/v1/tokens/" + id);
    if (!revoked) return kExitFailed;
    if (revoked->status != 200) {
      std::cerr << "hearth: could not revoke the token (HTTP " << revoked->status << "); it stays stored\n";
      return exit_code_for(revoked->status);
    }
  }
  auto config = load_config();
  bool stored = config.value("token", std::string()) == api.token_;
  if (stored) {
    config.erase("token");
    if (!save_config(config)) return fail(kExitFailed, "cannot write " + config_path().string());
  }
  std::cout << (session->status == 200 ? "signed out: the token is revoked" : "the token was no longer valid")
            << (stored ? " and removed from " + config_path().string() : std::string()) << "\n";
  return kExitOk;
}

}  // namespace

std::shared_ptr<CommandSet> add_client_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto common = [opts](CLI::App* cmd) { add_client_options(cmd, *opts); };
  auto run = [opts](std::string method, std::function<std::string()> path, std::function<Json()> body,
                    std::function<void(const Json&)> show) {
    return [=] {
      Api api(*opts);
      return api.run(method, path(), body ? body() : Json(nullptr), show);
    };
  };
  auto items = [](std::vector<std::string> cols) {
    return [cols](const Json& j) { print_table(j.value("items", Json::array()), cols); };
  };

  // login
  auto login_cmd = app.add_subcommand("login", "Sign in to a server and store an API token for the CLI");
  auto login_user = std::make_shared<std::string>();
  auto login_token = std::make_shared<std::string>();
  auto login_stdin = std::make_shared<bool>(false);
  login_cmd->add_option("--url", opts->url, "Server URL, e.g. http://127.0.0.1:7741")->envname("HEARTH_URL");
  login_cmd->add_option("--username", *login_user, "Who signs in (asked when missing)");
  login_cmd->add_flag("--password-stdin", *login_stdin, "Read the password from stdin");
  login_cmd->add_option("--with-token", *login_token, "Store this API token instead of signing in");
  set->add(login_cmd, [=] { return login(*opts, *login_user, *login_stdin, *login_token); });

  auto logout_cmd = app.add_subcommand("logout", "Revoke the CLI's API token and forget it");
  logout_cmd->add_option("--url", opts->url, "Server URL")->envname("HEARTH_URL");
  logout_cmd->add_option("--token", opts->token, "API token (default: the stored one)")->envname("HEARTH_TOKEN");
  set->add(logout_cmd, [=] { return logout(*opts); });

  auto whoami = app.add_subcommand("whoami", "Who the CLI is signed in as, and with which credential");
  common(whoami);
  set->add(whoami, run("GET", [] { return std::string("/v1/auth/session"); }, nullptr, [](const Json& j) {
    std::cout << j["user"]["username"].get<std::string>() << (j["user"].value("is_admin", false) ? " (server admin)" : "")
              << ", " << j["credential"]["kind"].get<std::string>() << " " << j["credential"]["id"].get<std::string>()
              << "\n";
  }));

  // org
  auto org = app.add_subcommand("org", "Organizations");
  org->require_subcommand(1);
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto org_create = org->add_subcommand("create", "Create an organization (you become its owner)");
  org_create->add_option("name", (*s)["name"], "Its name")->required();
  org_create->add_option("--slug", (*s)["slug"], "Its URL name (default: derived from the name)");
  common(org_create);
  // The slug first: it is what every other command takes.
  auto print_org = [](const Json& j) {
    std::cout << "slug: " << j.value("slug", "") << "\n";
    Json rest = j;
    rest.erase("slug");
    print_object(rest);
  };
  set->add(org_create, run("POST", [] { return std::string("/v1/orgs"); },
                           [s] {
                             Json b{{"name", (*s)["name"]}};
                             if (!(*s)["slug"].empty()) b["slug"] = (*s)["slug"];
                             return b;
                           },
                           print_org));
  auto org_list = org->add_subcommand("list", "Your organizations");
  common(org_list);
  set->add(org_list, run("GET", [] { return std::string("/v1/orgs"); }, nullptr, items({"slug", "name", "role"})));
  auto org_show = org->add_subcommand("show", "One organization");
  org_show->add_option("org", (*s)["org"], "Its slug")->required();
  common(org_show);
  set->add(org_show, run("GET", [s] { return "/v1/orgs/" + encode((*s)["org"]); }, nullptr, print_org));
  auto org_set = org->add_subcommand("set", "Change an organization's settings (org admins)");
  org_set->add_option("org", (*s)["org"], "Its slug")->required();
  org_set->add_option("--conventional-titles", (*s)["conventional"],
                      "on: task titles derived from prompts start with a Conventional Commits type (feat:, fix:, …); "
                      "off (the default): they keep the prompt's words")
      ->check(CLI::IsMember({"on", "off"}));
  org_set->add_option("--auto-archive-prs", (*s)["auto_archive"],
                      "on (the default): a task whose GitHub pull request is merged or closed is archived; off: it "
                      "is left as it is")
      ->check(CLI::IsMember({"on", "off"}));
  common(org_set);
  set->add(org_set, [=] {
    Json settings = Json::object();
    if (!(*s)["conventional"].empty()) settings["conventional_titles"] = (*s)["conventional"] == "on";
    if (!(*s)["auto_archive"].empty()) settings["auto_archive_prs"] = (*s)["auto_archive"] == "on";
    if (settings.empty()) return fail(kExitUsage, "give a setting to change: --conventional-titles, --auto-archive-prs");
    return run("PATCH", [s] { return "/v1/orgs/" + encode((*s)["org"]); },
               [settings] { return Json{{"settings", settings}}; }, print_org)();
  });

  // member
  auto member = app.add_subcommand("member", "Members of an organization");
  member->require_subcommand(1);
  auto m_add = member->add_subcommand("add", "Add a user to an organization");
  m_add->add_option("org", (*s)["m_org"], "Organization slug")->required();
  m_add->add_option("username", (*s)["m_user"], "Who")->required();
  m_add->add_option("--role", (*s)["m_role"], "owner, admin or member (default member)");
  common(m_add);
  set->add(m_add, run("POST", [s] { return "/v1/orgs/" + encode((*s)["m_org"]) + "/members"; },
                      [s] {
                        Json b{{"username", (*s)["m_user"]}};
                        if (!(*s)["m_role"].empty()) b["role"] = (*s)["m_role"];
                        return b;
                      },
                      print_object));
  auto m_list = member->add_subcommand("list", "Members and their roles");
  m_list->add_option("org", (*s)["m_org"], "Organization slug")->required();
  common(m_list);
  set->add(m_list, run("GET", [s] { return "/v1/orgs/" + encode((*s)["m_org"]) + "/members"; }, nullptr,
                       items({"username", "role", "added_at"})));
  auto m_role = member->add_subcommand("set-role", "Change a member's role");
  m_role->add_option("org", (*s)["m_org"], "Organization slug")->required();
  m_role->add_option("username", (*s)["m_user"], "Who")->required();
  m_role->add_option("role", (*s)["m_role"], "owner, admin or member")->required();
  common(m_role);
  set->add(m_role, run("PATCH", [s] { return "/v1/orgs/" + encode((*s)["m_org"]) + "/members/" + encode((*s)["m_user"]); },
                       [s] { return Json{{"role", (*s)["m_role"]}}; }, print_object));
  auto m_remove = member->add_subcommand("remove", "Remove a member");
  m_remove->add_option("org", (*s)["m_org"], "Organization slug")->required();
  m_remove->add_option("username", (*s)["m_user"], "Who")->required();
  common(m_remove);
  set->add(m_remove, run("DELETE", [s] { return "/v1/orgs/" + encode((*s)["m_org"]) + "/members/" + encode((*s)["m_user"]); },
                         nullptr, print_object));

  // secret (org admins)
  auto secret = app.add_subcommand("secret", "Secrets of an organization (admins): names and times only, never values");
  secret->require_subcommand(1);
  auto s_stdin = std::make_shared<bool>(false);
  auto s_set = secret->add_subcommand("set", "Set a secret (the value is read from stdin or asked without echo)");
  s_set->add_option("org", (*s)["s_org"], "Organization slug")->required();
  s_set->add_option("name", (*s)["s_name"], "Its name, e.g. ANTHROPIC_API_KEY")->required();
  s_set->add_flag("--value-stdin", *s_stdin, "Read the value from stdin (one line)");
  common(s_set);
  set->add(s_set, [=] {
    auto value = read_secret(*s_stdin ? "" : "value: ");
    Api api(*opts);
    return api.run("PUT", "/v1/orgs/" + encode((*s)["s_org"]) + "/secrets/" + encode((*s)["s_name"]),
                   Json{{"value", value}}, print_object);
  });
  auto s_list = secret->add_subcommand("list", "Names of the organization's secrets");
  s_list->add_option("org", (*s)["s_org"], "Organization slug")->required();
  common(s_list);
  set->add(s_list, run("GET", [s] { return "/v1/orgs/" + encode((*s)["s_org"]) + "/secrets"; }, nullptr,
                       items({"name", "created_at", "updated_at"})));
  auto s_delete = secret->add_subcommand("delete", "Delete a secret");
  s_delete->add_option("org", (*s)["s_org"], "Organization slug")->required();
  s_delete->add_option("name", (*s)["s_name"], "Its name")->required();
  common(s_delete);
  set->add(s_delete, run("DELETE", [s] { return "/v1/orgs/" + encode((*s)["s_org"]) + "/secrets/" + encode((*s)["s_name"]); },
                         nullptr, print_object));

  // user (server admins)
  auto user = app.add_subcommand("user", "Users of the server (server admins)");
  user->require_subcommand(1);
  auto u_stdin = std::make_shared<bool>(false);
  auto u_admin = std::make_shared<bool>(false);
  // The new password: one line of stdin, or asked twice on the terminal.
  auto new_password = [u_stdin]() -> std::optional<std::string> {
    if (*u_stdin) return read_secret("");
    auto first = read_secret("new password: ");
    if (first != read_secret("again: ")) {
      std::cerr << "hearth: the passwords differ\n";
      return std::nullopt;
    }
    return first;
  };
  auto u_list = user->add_subcommand("list", "Users and whether they are admins or disabled");
  u_list->add_option("--after", (*s)["u_after"], "Names after this one (the next page)");
  common(u_list);
  set->add(u_list, run("GET", [s] { return "/v1/users?after=" + encode((*s)["u_after"]); }, nullptr,
                       items({"username", "is_admin", "disabled", "created_at"})));
  auto u_create = user->add_subcommand("create", "Create a user");
  u_create->add_option("username", (*s)["u_name"], "Their name")->required();
  u_create->add_flag("--admin", *u_admin, "Make them a server admin");
  u_create->add_flag("--password-stdin", *u_stdin, "Read the password from stdin");
  common(u_create);
  set->add(u_create, [=] {
    auto password = new_password();
    if (!password) return kExitFailed;
    Api api(*opts);
    return api.run("POST", "/v1/users", Json{{"username", (*s)["u_name"]}, {"password", *password}, {"is_admin", *u_admin}},
                   print_object);
  });
  for (bool disable : {true, false}) {
    auto c = user->add_subcommand(disable ? "disable" : "enable",
                                  disable ? "Disable a user: their sessions end and their tokens stop working"
                                          : "Enable a disabled user");
    c->add_option("username", (*s)[disable ? "u_dis" : "u_en"], "Who")->required();
    common(c);
    set->add(c, run("PATCH", [s, disable] { return "/v1/users/" + encode((*s)[disable ? "u_dis" : "u_en"]); },
                    [disable] { return Json{{"disabled", disable}}; }, print_object));
  }
  auto u_pass = user->add_subcommand("set-password", "Set a user's password (their sessions end)");
  u_pass->add_option("username", (*s)["u_pw"], "Who")->required();
  u_pass->add_flag("--password-stdin", *u_stdin, "Read the password from stdin");
  common(u_pass);
  set->add(u_pass, [=] {
    auto password = new_password();
    if (!password) return kExitFailed;
    Api api(*opts);
    return api.run("PATCH", "/v1/users/" + encode((*s)["u_pw"]), Json{{"password", *password}}, print_object);
  });

  // token
  auto token = app.add_subcommand("token", "Your API tokens");
  token->require_subcommand(1);
  auto days = std::make_shared<int>(0);
  auto t_create = token->add_subcommand("create", "Create an API token (shown once)");
  t_create->add_option("name", (*s)["t_name"], "What it is for")->required();
  t_create->add_option("--expires-in-days", *days, "Days until it expires (default: never)")->check(CLI::Range(1, 3650));
  common(t_create);
  set->add(t_create, run("POST", [] { return std::string("/v1/tokens"); },
                         [s, days] {
                           Json b{{"name", (*s)["t_name"]}};
                           if (*days > 0) b["expires_in_days"] = *days;
                           return b;
                         },
                         [](const Json& j) {
                           std::cout << j["token"].get<std::string>() << "\n";
                           std::cerr << "(token " << j["id"].get<std::string>()
                                     << "; copy it now: it is not shown again)\n";
                         }));
  auto t_list = token->add_subcommand("list", "Your API tokens (never their values)");
  common(t_list);
  set->add(t_list, run("GET", [] { return std::string("/v1/tokens"); }, nullptr,
                       items({"id", "name", "created_at", "last_used_at", "expires_at", "revoked_at"})));
  auto t_revoke = token->add_subcommand("revoke", "Revoke an API token");
  t_revoke->add_option("id", (*s)["t_id"], "Its id (t_...)")->required();
  common(t_revoke);
  set->add(t_revoke, run("DELETE", [s] { return "/v1/tokens/" + encode((*s)["t_id"]); }, nullptr, print_object));

  // actors (the inspector; server admins)
  auto actors = app.add_subcommand("actors", "Inspect actors (server admins)");
  actors->require_subcommand(1);
  auto query = [s](const std::string& base, std::vector<std::string> keys) {
    return [s, base, keys] {
      std::string q;
      for (const auto& k : keys)
        if (!(*s)["q_" + k].empty()) q += (q.empty() ? "?" : "&") + k + "=" + encode((*s)["q_" + k]);
      return base + q;
    };
  };
  auto a_list = actors->add_subcommand("list", "Actors, active and hibernated");
  a_list->add_option("--type", (*s)["q_type"], "Only this type");
  a_list->add_option("--state", (*s)["q_state"], "active, hibernated or broken");
  a_list->add_option("--cursor", (*s)["q_cursor"], "Continue after this id");
  a_list->add_option("--limit", (*s)["q_limit"], "Page size (at most 500)");
  common(a_list);
  set->add(a_list, run("GET", query("/v1/inspector/actors", {"type", "state", "cursor", "limit"}), nullptr,
                       [](const Json& j) {
                         print_table(j["items"], {"id", "type", "key", "state", "error"});
                         if (!j["next_cursor"].is_null())
                           std::cerr << "(more: --cursor " << j["next_cursor"].get<std::string>() << ")\n";
                       }));
  auto with_id = [&](const char* name, const char* help) {
    auto c = actors->add_subcommand(name, help);
    c->add_option("id", (*s)["a_id"], "Actor id")->required();
    common(c);
    return c;
  };
  auto a_show = with_id("show", "State summary of one actor");
  set->add(a_show, run("GET", [s] { return "/v1/inspector/actors/" + encode((*s)["a_id"]); }, nullptr, print_object));
  auto a_hist = with_id("history", "Workflow steps, newest first");
  a_hist->add_option("--cursor", (*s)["q_cursor"], "Steps older than this id");
  a_hist->add_option("--limit", (*s)["q_limit"], "Page size");
  set->add(a_hist, run("GET", [s, query] { return query("/v1/inspector/actors/" + encode((*s)["a_id"]) + "/history", {"cursor", "limit"})(); },
                       nullptr, items({"id", "message_id", "queue", "outcome", "duration_us", "error"})));
  auto a_queue = with_id("queue", "Pending and failed messages");
  a_queue->add_option("--status", (*s)["q_status"], "pending, failed, completed or discarded");
  set->add(a_queue, run("GET", [s, query] { return query("/v1/inspector/actors/" + encode((*s)["a_id"]) + "/queue", {"status"})(); },
                        nullptr, [](const Json& j) {
                          auto cols = std::vector<std::string>{"id", "queue", "status", "enqueued_at", "error"};
                          if (j.contains("pending")) {
                            std::cout << "pending:\n";
                            print_table(j["pending"]["items"], cols);
                            std::cout << "failed:\n";
                            print_table(j["failed"]["items"], cols);
                          } else {
                            print_table(j["items"], cols);
                          }
                        }));
  auto a_tables = with_id("tables", "The actor's tables, or the rows of one");
  a_tables->add_option("table", (*s)["a_table"], "Show this table's rows");
  a_tables->add_option("--cursor", (*s)["q_cursor"], "Rows after this rowid");
  set->add(a_tables, run("GET", [s, query] {
                           auto base = "/v1/inspector/actors/" + encode((*s)["a_id"]) + "/tables";
                           if ((*s)["a_table"].empty()) return base;
                           return query(base + "/" + encode((*s)["a_table"]), {"cursor"})();
                         },
                         nullptr, [](const Json& j) {
                           if (j.contains("table")) {
                             for (const auto& row : j["items"]) std::cout << row.dump() << "\n";
                           } else {
                             for (const auto& t : j["items"]) std::cout << t.get<std::string>() << "\n";
                           }
                         }));
  for (const char* verb : {"retry", "discard"}) {
    auto c = actors->add_subcommand(verb, std::string(verb) + " a failed message");
    c->add_option("id", (*s)["a_id"], "Actor id")->required();
    c->add_option("message", (*s)["a_msg"], "Message id")->required();
    common(c);
    std::string v = verb;
    set->add(c, run("POST", [s, v] { return "/v1/inspector/actors/" + encode((*s)["a_id"]) + "/messages/" + encode((*s)["a_msg"]) + "/" + v; },
                    [] { return Json::object(); }, print_object));
  }
  return set;
}

}  // namespace hearth::cli
