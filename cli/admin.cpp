// `hearth admin ...`: offline administration against a data dir (the server must not
// be running on it; the data dir lock enforces that). It runs the same actors and the
// same identity operations the server runs, in this process.
#include <CLI/CLI.hpp>

#include <iostream>

#include "actors/identity/identity.h"
#include "cli/commands.h"
#include "cli/exit.h"
#include "cli/output.h"
#include "storage/file_lock.h"

namespace hearth::cli {

using actors::Json;

namespace {

struct AdminOptions {
  std::filesystem::path data_dir = ".hearth";
  std::string username;
  bool admin = false;
  bool password_stdin = false;
  bool keep_tokens = false;
  bool json = false;
};

int fail(const Error& e) { return cli::fail(e.code == ErrorCode::not_found ? kExitNotFound : kExitFailed, e.message); }

// Opens the data dir (locked) with the identity actors and runs `work` on it.
int with_identity(const AdminOptions& o, const std::function<int(identity::Identity&)>& work) {
  auto lock = storage::FileLock::acquire(o.data_dir / "hearth.lock");
  if (!lock) return cli::fail(kExitFailed, lock.error().message + "; stop it, or use the HTTP API (hearth login)");
  actors::HostConfig config;
  config.data_dir = o.data_dir;
  actors::Host host(config);
  if (auto st = identity::register_types(host); !st) return fail(st.error());
  if (auto st = host.start(); !st) return fail(st.error());
  identity::Identity id(host);
  int code = work(id);
  host.shutdown();
  return code;
}

std::string password_from(const AdminOptions& o) {
  if (o.password_stdin) return read_secret("");
  auto first = read_secret("new password: ");
  auto again = read_secret("again: ");
  return first == again ? first : std::string();
}

}  // namespace

std::shared_ptr<CommandSet> add_admin_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto o = std::make_shared<AdminOptions>();
  auto admin = app.add_subcommand("admin", "Offline administration of a data dir (the server must be stopped)");
  admin->require_subcommand(1);
  auto user = admin->add_subcommand("user", "Users");
  user->require_subcommand(1);
  auto common = [o](CLI::App* c) {
    c->add_option("--data-dir", o->data_dir, "The server's data dir")->envname("HEARTH_DATA_DIR")->capture_default_str();
  };

  auto create = user->add_subcommand("create", "Create a user");
  create->add_option("username", o->username, "Their name")->required();
  create->add_flag("--admin", o->admin, "Make them a server admin");
  create->add_flag("--password-stdin", o->password_stdin, "Read the password from stdin");
  common(create);
  set->add(create, [o] {
    return with_identity(*o, [&](identity::Identity& id) {
      auto password = password_from(*o);
      if (password.empty()) return fail(Error{ErrorCode::invalid, "the passwords differ, or none was given"});
      auto u = id.create_user(o->username, password, o->admin);
      if (!u) return fail(u.error());
      std::cout << "created " << o->username << " (" << (*u)["user_id"].get<std::string>() << ")\n";
      return kExitOk;
    });
  });

  auto list = user->add_subcommand("list", "List users");
  list->add_flag("--json", o->json, "Print JSON");
  common(list);
  set->add(list, [o] {
    return with_identity(*o, [&](identity::Identity& id) {
      Json all = Json::array();
      std::string after;
      for (;;) {
        auto page = id.list_users(after, 500);
        if (!page) return page.error().code == ErrorCode::not_found ? (print_table(all, {}), kExitOk) : fail(page.error());
        for (auto& u : *page) all.push_back(u);
        if (page->size() < 500) break;
        after = page->back()["username"].get<std::string>();
      }
      if (o->json) std::cout << all.dump(2) << "\n";
      else print_table(all, {"username", "user_id", "is_admin", "disabled", "created_at"});
      return kExitOk;
    });
  });

  for (bool disable : {true, false}) {
    auto c = user->add_subcommand(disable ? "disable" : "enable",
                                  disable ? "Disable a user: every session and token stops working" : "Enable a user again");
    c->add_option("username", o->username, "Who")->required();
    common(c);
    set->add(c, [o, disable] {
      return with_identity(*o, [&](identity::Identity& id) {
        auto u = id.find_user(o->username);
        if (!u) return fail(u.error());
        if (auto st = id.set_disabled((*u)["user_id"].get<std::string>(), disable); !st) return fail(st.error());
        std::cout << (disable ? "disabled " : "enabled ") << o->username << "\n";
        return kExitOk;
      });
    });
  }

  auto reset = user->add_subcommand("reset-password",
                                    "Set a new password (ends their sign-in sessions and revokes their API tokens)");
  reset->add_option("username", o->username, "Who")->required();
  reset->add_flag("--password-stdin", o->password_stdin, "Read the password from stdin");
  reset->add_flag("--keep-tokens", o->keep_tokens, "Leave their API tokens working");
  common(reset);
  set->add(reset, [o] {
    return with_identity(*o, [&](identity::Identity& id) {
      auto u = id.find_user(o->username);
      if (!u) return fail(u.error());
      auto password = password_from(*o);
      if (password.empty()) return fail(Error{ErrorCode::invalid, "the passwords differ, or none was given"});
      if (auto st = id.set_password((*u)["user_id"].get<std::string>(), password, o->keep_tokens); !st)
        return fail(st.error());
      std::cout << "set a new password for " << o->username
                << (o->keep_tokens ? " (API tokens kept)" : "; their sign-in sessions ended and API tokens revoked") << "\n";
      return kExitOk;
    });
  });
  return set;
}

}  // namespace hearth::cli
