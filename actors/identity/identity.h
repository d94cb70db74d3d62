// Identity: users, credentials and organizations as one small API over the actor host,
// shared by the HTTP edge and the offline admin CLI. Each operation is the sequence of
// queue sends (with wait) and read actions it takes across the directory, user and
// organization actors; none of it opens a database itself.
//
// Secrets: passwords are stored only as Argon2id hashes (libsodium's crypto_pwhash);
// session and API tokens are 256-bit random values shown once, stored only as their
// BLAKE2b-256 hash, and looked up by that hash in the directory.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "actors/host/host.h"

namespace hearth::identity {

using actors::Json;

// Registers the directory, user and organization actor types. `customize`, if given, sees
// each type before it is registered (tests and benchmarks add queues with it).
Status register_types(actors::Host& host, const std::function<void(actors::ActorType&)>& customize = {});

enum class PasswordCost { interactive, minimum };
// Argon2id parameters for new hashes: interactive (64 MiB, 2 passes; the default) or
// minimum (tests only). Hashes carry their parameters, so either verifies later.
void set_password_cost(PasswordCost cost);
std::string hash_password(std::string_view password);
// Hashing and verifying run at most `limit` at once (the CPU count, 2 to 8); `peak` is
// the most that ever ran together.
struct PasswordHashStats {
  int limit = 0;
  int peak = 0;
};
PasswordHashStats password_hash_stats();
bool verify_password(const std::string& hash, std::string_view password);

// A fresh secret: `prefix` followed by 43 base64url characters (32 random bytes).
std::string new_secret(std::string_view prefix);
// Hex BLAKE2b-256 of a token: what the directory stores and looks up.
std::string token_hash(std::string_view token);
// A random id such as "u_3f9a0c1e2b7d4a66".
std::string new_id(std::string_view prefix);
// Hex BLAKE2b-256 of `value` keyed by `key`: derives a session's CSRF token.
std::string keyed_hash(std::string_view key, std::string_view value);

// Validation with messages that name the field.
Status validate_username(const std::string& username);
Status validate_password(const std::string& password);
Status validate_org_name(const std::string& name);
Status validate_slug(const std::string& slug);
// A URL-safe slug derived from a name: "Acme Tools!" -> "acme-tools".
std::string slugify(const std::string& name);

// Who is calling: resolved from a session cookie or a bearer token.
struct Caller {
  std::string user_id;
  std::string username;
  bool is_admin = false;
  std::string credential_id;
  std::string kind;  // "session" or "token"
  std::optional<std::int64_t> expires_at;
  // When authenticate was asked about an org: its row ({org_id, slug, name, created_at})
  // and the caller's role there ("" when not a member or when there is no such org).
  Json org;
  std::string org_role;
};

struct Issued {
  std::string secret;  // shown once to the caller, stored nowhere
  Json info;           // id, created_at, expires_at (and name for tokens)
};

class Identity {
 public:
  // How a change reaches an actor and is waited for. The default waits up to the host's
  // max_wait; the HTTP edge passes its own, bounded by the request deadline.
  using Sender = std::function<Result<actors::SendReceipt>(const actors::Address&, std::string_view, const Json&)>;
  explicit Identity(actors::Host& host, Sender sender = {}) : host_(host), sender_(std::move(sender)) {}

  // Users. create_user fails with conflict when the name is taken.
  Result<Json> create_user(const std::string& username, const std::string& password, bool is_admin);
  Result<Json> find_user(const std::string& username);
  Result<Json> list_users(const std::string& after, std::size_t limit);
  Result<std::int64_t> user_count();
  Result<Json> profile(const std::string& user_id);
  // A new password: every sign-in session ends and, unless `keep_tokens`, every API token
  // is revoked (a reset after a compromise must not leave a stolen token working).
  Status set_password(const std::string& user_id, const std::string& password, bool keep_tokens = false);
  Status set_disabled(const std::string& user_id, bool disabled);

  // The user for `username` if `password` is theirs and the account is enabled;
  // unauthorized otherwise (the same message whether the user exists or not).
  Result<Json> check_password(const std::string& username, const std::string& password);

  // Credentials. A session lives `ttl`; a token until `expires_at_ms` (nullopt: never).
  Result<Issued> create_session(const std::string& user_id, std::chrono::milliseconds ttl, const std::string& client);
  Result<Issued> create_token(const std::string& user_id, const std::string& name,
                              std::optional<std::int64_t> expires_at_ms);
  // unauthorized when the token is unknown, expired, revoked, or its user disabled.
  // With `org_slug`, also resolves the caller's membership there, in the same read.
  Result<Caller> authenticate(std::string_view secret, const std::string& org_slug = "");
  Status revoke(const std::string& user_id, const std::string& credential_id, const std::string& kind);
  Result<Json> tokens(const std::string& user_id);
  Result<Json> sessions(const std::string& user_id);

  // Organizations. create_org fails with conflict when the slug is taken.
  Result<Json> create_org(const Caller& owner, const std::string& name, const std::string& slug);
  Result<Json> find_org(const std::string& slug);             // {org_id, slug, name, created_at}
  Result<std::string> role(const std::string& org_id, const std::string& user_id);  // "" if none
  Result<Json> orgs_of(const std::string& user_id);
  // `caps`: the plan's limit on members (http/billing.h), held by the organization.
  Result<Json> add_member(const std::string& org_id, const std::string& username, const std::string& role,
                          const Json& caps = nullptr);
  Result<Json> set_role(const std::string& org_id, const std::string& user_id, const std::string& role);
  Status remove_member(const std::string& org_id, const std::string& user_id);

  actors::Host& host() { return host_; }

 private:
  Result<Json> send(const actors::Address& to, const char* queue, const Json& body);
  actors::Host& host_;
  Sender sender_;
};

}  // namespace hearth::identity
