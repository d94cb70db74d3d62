// Identity building blocks without a server: password hashing and its concurrency
// bound, secrets, and the validators' messages.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "actors/identity/identity.h"

using namespace hearth;

TEST_CASE("password hashes are Argon2id, verify only the right password, and run a few at a time") {
  identity::set_password_cost(identity::PasswordCost::interactive);
  auto hash = identity::hash_password("correct horse battery");
  identity::set_password_cost(identity::PasswordCost::minimum);
  CHECK(hash.starts_with("$argon2id$"));
  CHECK(hash.find("m=65536") != std::string::npos);  // 64 MiB: the interactive limit
  CHECK(identity::verify_password(hash, "correct horse battery"));
  CHECK_FALSE(identity::verify_password(hash, "correct horse battery "));

  // A burst of sign-ins: every check is right, and no more than the limit run together.
  std::atomic<int> right{0};
  std::vector<std::thread> burst;
  for (int i = 0; i < 12; ++i)
    burst.emplace_back([&, i] {
      if (identity::verify_password(hash, i % 2 ? "correct horse battery" : "wrong") == (i % 2 == 1)) ++right;
    });
  for (auto& t : burst) t.join();
  CHECK(right == 12);
  auto stats = identity::password_hash_stats();
  CHECK(stats.limit >= 2);
  CHECK(stats.limit <= 8);
  CHECK(stats.peak <= stats.limit);
  CHECK(stats.peak >= 1);
}

TEST_CASE("secrets are prefixed, long and distinct, hashes and CSRF tokens are stable") {
  auto a = identity::new_secret("hearth_");
  auto b = identity::new_secret("hearth_");
  CHECK(a.starts_with("hearth_"));
  CHECK(a.size() == 7 + 43);  // 32 bytes, base64url without padding
  CHECK(a != b);
  CHECK(identity::token_hash(a) == identity::token_hash(a));
  CHECK(identity::token_hash(a) != identity::token_hash(b));
  CHECK(identity::token_hash(a).find(a) == std::string::npos);
  CHECK(identity::keyed_hash("csrf", a) != identity::keyed_hash("other", a));
}

TEST_CASE("validators name the field and say what is wrong") {
  CHECK(identity::validate_username("ada").ok());
  CHECK(identity::validate_username("-ada").error().message == "field \"username\" must start with a letter or digit");
  CHECK(identity::validate_username("a d").error().message ==
        "field \"username\" may hold only letters, digits, '-', '_' and '.'");
  CHECK_FALSE(identity::validate_username(std::string(40, 'a')).ok());
  CHECK(identity::validate_password("short").error().message == "field \"password\" must have at least 8 characters");
  CHECK(identity::validate_org_name("Acme").ok());
  CHECK_FALSE(identity::validate_org_name("   ").ok());
  CHECK_FALSE(identity::validate_org_name("bad\x01name").ok());
  CHECK(identity::validate_slug("a-b").ok());
  CHECK_FALSE(identity::validate_slug("-ab").ok());
  CHECK(identity::slugify("Gil's Tools!") == "gil-s-tools");
  CHECK(identity::slugify("Équipe Ærø") == "equipe-aero");
  CHECK(identity::slugify("Straße Łódź") == "strasse-lodz");
  CHECK(identity::slugify("日本").rfind("org-", 0) == 0);  // nothing spelled in ASCII: a generated slug
}
