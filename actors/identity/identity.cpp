// Identity operations over the directory, user and organization actors: see identity.h.
#include "actors/identity/identity.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "actors/directory/directory_actor.h"
#include "actors/host/index_update.h"
#include "actors/audit/audit_actor.h"
#include "actors/organization/organization_actor.h"
#include "actors/user/user_actor.h"
#include "storage/database.h"
#include "storage/text.h"

namespace hearth::identity {

namespace dir = actors::directory;
namespace {

std::atomic<PasswordCost> g_cost{PasswordCost::interactive};

std::string hex(const unsigned char* data, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

bool valid_utf8_printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

Status register_types(actors::Host& host, const std::function<void(actors::ActorType&)>& customize) {
  for (auto* make : {&dir::make_type, &actors::user::make_type, &actors::organization::make_type,
                     &actors::audit::make_type}) {
    auto type = make();
    if (customize) customize(type);
    if (auto st = host.register_type(std::move(type)); !st) return st;
  }
  return {};
}

void set_password_cost(PasswordCost cost) { g_cost = cost; }

namespace {

// Argon2id at the interactive limits takes 64 MiB and a tenth of a second of one core
// per hash: only a few run at once, the others wait their turn, so that a burst of
// sign-ins cannot exhaust memory.
class HashGate {
 public:
  HashGate() : limit_(static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 2u, 8u))) {}
  template <typename F>
  auto run(F&& work) {
    {
      std::unique_lock lock(mu_);
      free_.wait(lock, [&] { return running_ < limit_; });
      peak_ = std::max(peak_, ++running_);
    }
    struct Release {
      HashGate& gate;
      ~Release() {
        {
          std::lock_guard lock(gate.mu_);
          --gate.running_;
        }
        gate.free_.notify_one();
      }
    } release{*this};
    return work();
  }
  PasswordHashStats stats() {
    std::lock_guard lock(mu_);
    return {limit_, peak_};
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;
  int limit_;
  int running_ = 0;
  int peak_ = 0;
};

HashGate& hash_gate() {
  static HashGate gate;
  return gate;
}

}  // namespace

PasswordHashStats password_hash_stats() { return hash_gate().stats(); }

std::string hash_password(std::string_view password) {
  bool minimum = g_cost == PasswordCost::minimum;
  char out[crypto_pwhash_STRBYTES];
  int rc = hash_gate().run([&] {
    return crypto_pwhash_str_alg(out, password.data(), password.size(),
                                 minimum ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 minimum ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                 crypto_pwhash_ALG_ARGON2ID13);
  });
  if (rc != 0) throw std::runtime_error("out of memory while hashing a password");
  return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
  return hash_gate().run([&] { return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()); }) == 0;
}

std::string new_secret(std::string_view prefix) {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes, sizeof bytes);
  return std::string(prefix) + b64;
}

std::string token_hash(std::string_view token) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  return hex(out, sizeof out);
}

std::string keyed_hash(std::string_view key, std::string_view value) {
  unsigned char k[32];
  crypto_generichash(k, sizeof k, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr, 0);
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(value.data()), value.size(), k, sizeof k);
  return hex(out, sizeof out);
}

std::string new_id(std::string_view prefix) {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof bytes);
  return std::string(prefix) + hex(bytes, sizeof bytes);
}

Status validate_username(const std::string& u) {
  if (u.empty() || u.size() > 39)
    return Error{ErrorCode::invalid, "field \"username\" must be 1 to 39 characters"};
  if (!std::isalnum(static_cast<unsigned char>(u[0])))
    return Error{ErrorCode::invalid, "field \"username\" must start with a letter or digit"};
  for (unsigned char c : u)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.')
      return Error{ErrorCode::invalid, "field \"username\" may hold only letters, digits, '-', '_' and '.'"};
  return {};
}

Status validate_password(const std::string& p) {
  if (p.size() < 8) return Error{ErrorCode::invalid, "field \"password\" must have at least 8 characters"};
  if (p.size() > 1024) return Error{ErrorCode::invalid, "field \"password\" must have at most 1024 bytes"};
  return {};
}

Status validate_org_name(const std::string& n) {
  if (n.empty() || n.size() > 100) return Error{ErrorCode::invalid, "field \"name\" must be 1 to 100 bytes"};
  if (!valid_utf8_printable(n)) return Error{ErrorCode::invalid, "field \"name\" must not hold control characters"};
  if (n.find_first_not_of(' ') == std::string::npos) return Error{ErrorCode::invalid, "field \"name\" must not be blank"};
  return {};
}

Status validate_slug(const std::string& s) {
  if (s.size() < 2 || s.size() > 40) return Error{ErrorCode::invalid, "field \"slug\" must be 2 to 40 characters"};
  for (unsigned char c : s)
    if (!(std::islower(c) || std::isdigit(c) || c == '-'))
      return Error{ErrorCode::invalid, "field \"slug\" may hold only lowercase letters, digits and '-'"};
  if (s.front() == '-' || s.back() == '-')
    return Error{ErrorCode::invalid, "field \"slug\" must start and end with a letter or digit"};
  return {};
}

std::string slugify(const std::string& name) {
  std::string out;
  for (unsigned char c : ascii_transliterated(name)) {
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() < 2) out = "org-" + new_id("").substr(0, 6);
  return out;
}

// --- Identity ---------------------------------------------------------------------

Result<Json> Identity::send(const actors::Address& to, const char* queue, const Json& body) {
  actors::SendOptions wait;
  wait.wait = true;
  auto r = sender_ ? sender_(to, queue, body) : host_.send(to, queue, body, wait);
  if (!r) return r.error();
  auto result = std::move(r->result);
  if (auto st = actors::apply_index_updates(host_, result); !st) return st.error();
  return result;
}

Result<Json> Identity::create_user(const std::string& username, const std::string& password, bool is_admin) {
  if (auto st = validate_username(username); !st) return st.error();
  if (auto st = validate_password(password); !st) return st.error();
  if (auto st = host_.get_or_create(dir::kAddress); !st) return st.error();
  auto user_id = new_id("u_");
  auto now = storage::now_ms();
  // The name is claimed first, so two racing creations cannot both get it.
  auto claimed = send(dir::kAddress, dir::kRegisterUser,
                      {{"user_id", user_id}, {"username", username}, {"is_admin", is_admin}, {"created_at", now}});
  if (!claimed) return claimed.error();
  Json input{{"user_id", user_id}, {"username", username}, {"password_hash", hash_password(password)},
             {"is_admin", is_admin}};
  if (auto st = host_.get_or_create(actors::user::address(user_id), input); !st) return st.error();
  return Json{{"user_id", user_id}, {"username", username}, {"is_admin", is_admin}, {"created_at", now}};
}

Result<Json> Identity::find_user(const std::string& username) {
  return host_.call(dir::kAddress, dir::kFindUser, {{"username", username}});
}

Result<Json> Identity::list_users(const std::string& after, std::size_t limit) {
  return host_.call(dir::kAddress, dir::kListUsers, {{"after", after}, {"limit", limit}});
}

Result<std::int64_t> Identity::user_count() {
  auto exists = host_.exists(dir::kAddress);
  if (!exists) return exists.error();
  if (!*exists) return 0;
  auto r = host_.call(dir::kAddress, dir::kUserCount);
  if (!r) return r.error();
  return r->get<std::int64_t>();
}

Result<Json> Identity::profile(const std::string& user_id) {
  return host_.call(actors::user::address(user_id), actors::user::kProfile);
}

Status Identity::set_password(const std::string& user_id, const std::string& password, bool keep_tokens) {
  if (auto st = validate_password(password); !st) return st;
  auto r = send(actors::user::address(user_id), actors::user::kSetPassword,
                {{"password_hash", hash_password(password)}, {"keep_tokens", keep_tokens}});
  if (!r) return r.error();
  return {};
}

Status Identity::set_disabled(const std::string& user_id, bool disabled) {
  auto r = send(actors::user::address(user_id), actors::user::kSetDisabled, {{"disabled", disabled}});
  if (!r) return r.error();
  return {};
}

Result<Json> Identity::check_password(const std::string& username, const std::string& password) {
  const Error wrong{ErrorCode::unauthorized, "wrong username or password"};
  auto user = find_user(username);
  if (!user) {
    // Spend the same time as a real check, so that timing does not tell who exists.
    static const std::string dummy = hash_password("not a password of anyone");
    (void)verify_password(dummy, password);
    if (user.error().code == ErrorCode::not_found) return wrong;
    return user.error();
  }
  auto hash = host_.call(actors::user::address((*user)["user_id"].get<std::string>()), actors::user::kPasswordHash);
  if (!hash) return hash.error();
  if (!verify_password((*hash)["password_hash"].get<std::string>(), password)) return wrong;
  if ((*hash)["disabled"].get<bool>() || (*user)["disabled"].get<bool>())
    return Error{ErrorCode::unauthorized, "this account is disabled"};
  return user;
}

Result<Issued> Identity::create_session(const std::string& user_id, std::chrono::milliseconds ttl,
                                        const std::string& client) {
  Issued issued{new_secret("hearth_s_"), {}};
  auto id = new_id("signin_");  // not "s_": agent sessions are those
  auto expires = storage::now_ms() + ttl.count();
  auto r = send(actors::user::address(user_id), actors::user::kAddSession,
                {{"credential_id", id}, {"token_hash", token_hash(issued.secret)}, {"expires_at", expires},
                 {"client", client.substr(0, 200)}});
  if (!r) return r.error();
  issued.info = Json{{"id", id}, {"created_at", (*r)["created_at"]}, {"expires_at", expires}};
  return issued;
}

Result<Issued> Identity::create_token(const std::string& user_id, const std::string& name,
                                      std::optional<std::int64_t> expires_at_ms) {
  Issued issued{new_secret("hearth_"), {}};
  auto id = new_id("tok_");  // not "t_": tasks are those
  Json expires = expires_at_ms ? Json(*expires_at_ms) : Json(nullptr);
  auto r = send(actors::user::address(user_id), actors::user::kAddToken,
                {{"credential_id", id}, {"token_hash", token_hash(issued.secret)}, {"name", name}, {"expires_at", expires}});
  if (!r) return r.error();
  issued.info = Json{{"id", id}, {"name", name}, {"created_at", (*r)["created_at"]}, {"expires_at", expires}};
  return issued;
}

Result<Caller> Identity::authenticate(std::string_view secret, const std::string& org_slug) {
  if (secret.empty() || secret.size() > 200) return Error{ErrorCode::unauthorized, "the credential is not known"};
  Json args{{"token_hash", token_hash(secret)}, {"now", storage::now_ms()}};
  if (!org_slug.empty()) args["org_slug"] = org_slug;
  auto r = host_.call(dir::kAddress, dir::kAuthenticate, args);
  if (!r) return r.error();
  Caller c;
  c.user_id = (*r)["user_id"].get<std::string>();
  c.username = (*r)["username"].get<std::string>();
  c.is_admin = (*r)["is_admin"].get<bool>();
  c.credential_id = (*r)["credential_id"].get<std::string>();
  c.kind = (*r)["kind"].get<std::string>();
  if ((*r)["expires_at"].is_number_integer()) c.expires_at = (*r)["expires_at"].get<std::int64_t>();
  if (auto org = r->find("org"); org != r->end() && org->is_object()) {
    if ((*org)["role"].is_string()) c.org_role = (*org)["role"].get<std::string>();
    org->erase("role");
    c.org = std::move(*org);
  }
  return c;
}

Status Identity::revoke(const std::string& user_id, const std::string& credential_id, const std::string& kind) {
  auto r = send(actors::user::address(user_id), actors::user::kRevokeCredential,
                {{"credential_id", credential_id}, {"kind", kind}});
  if (!r) return r.error();
  return {};
}

Result<Json> Identity::tokens(const std::string& user_id) {
  return host_.call(actors::user::address(user_id), actors::user::kTokens);
}

Result<Json> Identity::sessions(const std::string& user_id) {
  return host_.call(actors::user::address(user_id), actors::user::kSessions, {{"now", storage::now_ms()}});
}

Result<Json> Identity::create_org(const Caller& owner, const std::string& name, const std::string& slug) {
  if (auto st = validate_org_name(name); !st) return st.error();
  if (auto st = validate_slug(slug); !st) return st.error();
  auto org_id = new_id("o_");
  auto claimed = send(dir::kAddress, dir::kRegisterOrg,
                      {{"org_id", org_id}, {"slug", slug}, {"name", name}, {"created_at", storage::now_ms()}});
  if (!claimed) return claimed.error();
  auto address = actors::organization::address(org_id);
  Json input{{"org_id", org_id}, {"slug", slug}, {"name", name},
             {"owner", {{"user_id", owner.user_id}, {"username", owner.username}}}};
  if (auto st = host_.get_or_create(address, input); !st) return st.error();
  // The creating step sent the owner's membership through its outbox; send the same
  // message (same dedupe key) and wait, so that the owner can use the org at once.
  actors::SendOptions wait;
  wait.wait = true;
  wait.dedupe_key = fmt::format("membership:{}:{}:{}", org_id, owner.user_id, 0);
  auto indexed = host_.send(dir::kAddress, dir::kPutMembership,
                            {{"org_id", org_id}, {"user_id", owner.user_id}, {"role", "owner"}, {"version", 0}}, wait);
  if (!indexed) return indexed.error();
  auto org = host_.call(address, actors::organization::kGet);
  if (!org) return org.error();
  (*org)["role"] = "owner";
  return org;
}

Result<Json> Identity::find_org(const std::string& slug) {
  return host_.call(dir::kAddress, dir::kFindOrg, {{"slug", slug}});
}

Result<std::string> Identity::role(const std::string& org_id, const std::string& user_id) {
  auto r = host_.call(dir::kAddress, dir::kRole, {{"org_id", org_id}, {"user_id", user_id}});
  if (!r) return r.error();
  return (*r)["role"].is_string() ? (*r)["role"].get<std::string>() : std::string();
}

Result<Json> Identity::orgs_of(const std::string& user_id) {
  return host_.call(dir::kAddress, dir::kOrgsOf, {{"user_id", user_id}});
}

Result<Json> Identity::add_member(const std::string& org_id, const std::string& username, const std::string& role,
                                  const Json& caps) {
  auto user = find_user(username);
  if (!user) return user.error();
  Json body{{"user_id", (*user)["user_id"]}, {"username", (*user)["username"]}, {"role", role}};
  if (!caps.is_null()) body["caps"] = caps;
  return send(actors::organization::address(org_id), actors::organization::kAddMember, body);
}

Result<Json> Identity::set_role(const std::string& org_id, const std::string& user_id, const std::string& role) {
  return send(actors::organization::address(org_id), actors::organization::kSetRole,
              {{"user_id", user_id}, {"role", role}});
}

Status Identity::remove_member(const std::string& org_id, const std::string& user_id) {
  auto r = send(actors::organization::address(org_id), actors::organization::kRemoveMember, {{"user_id", user_id}});
  if (!r) return r.error();
  return {};
}

}  // namespace hearth::identity
