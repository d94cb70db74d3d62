// The master key and sealed secrets: key file creation, the environment override,
// round trips, and every way a ciphertext must refuse to open.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "storage/secret_box.h"
#include "tests/support/temp_dir.h"

using namespace hearth;

namespace {
std::string opened(const Result<std::string>& r) { return r ? *r : "refused: " + r.error().message; }
}  // namespace

TEST_CASE("the master key is created once, mode 0600, and reused") {
  test::TempDir dir;
  ::unsetenv("HEARTH_MASTER_KEY");
  auto first = storage::MasterKey::load(dir.path());
  REQUIRE(first.ok());
  struct stat st {};
  REQUIRE(::stat((dir.path() / "master.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto sealed = first->seal("org o_1/secret A", "v");
  auto again = storage::MasterKey::load(dir.path());
  REQUIRE(again.ok());
  CHECK(opened(again->open("org o_1/secret A", sealed)) == "v");  // same key from the file
}

TEST_CASE("sealed values open only with the same key and the same context") {
  auto key = storage::MasterKey::from_hex(std::string(64, 'a'));
  auto other = storage::MasterKey::from_hex(std::string(64, 'b'));
  REQUIRE(key.ok());
  REQUIRE(other.ok());
  auto sealed = key->seal("org o_1/secret TOKEN", "s3cret value");
  CHECK(sealed.ciphertext.find("s3cret") == std::string::npos);
  CHECK(opened(key->open("org o_1/secret TOKEN", sealed)) == "s3cret value");
  CHECK(key->seal("org o_1/secret TOKEN", "s3cret value").nonce != sealed.nonce);  // a fresh nonce each time
  CHECK(other->open("org o_1/secret TOKEN", sealed).error().code == ErrorCode::unauthorized);
  CHECK_FALSE(key->open("org o_2/secret TOKEN", sealed).ok());  // copied to another org
  CHECK_FALSE(key->open("org o_1/secret OTHER", sealed).ok());  // or another name
  auto tampered = sealed;
  tampered.ciphertext[5] = tampered.ciphertext[5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(key->open("org o_1/secret TOKEN", tampered).ok());
  CHECK_FALSE(key->open("org o_1/secret TOKEN", {"not base64!", "x"}).ok());
}

TEST_CASE("HEARTH_MASTER_KEY overrides the file, and a malformed one is a clear error") {
  test::TempDir dir;
  ::setenv("HEARTH_MASTER_KEY", std::string(64, 'c').c_str(), 1);
  auto from_env = storage::MasterKey::load(dir.path());
  REQUIRE(from_env.ok());
  CHECK_FALSE(std::filesystem::exists(dir.path() / "master.key"));
  auto same = storage::MasterKey::from_hex(std::string(64, 'c'));
  CHECK(opened(same->open("x", from_env->seal("x", "y"))) == "y");
  ::setenv("HEARTH_MASTER_KEY", "too-short", 1);
  auto bad = storage::MasterKey::load(dir.path());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "HEARTH_MASTER_KEY: a master key is 64 hex digits (32 bytes)");
  ::unsetenv("HEARTH_MASTER_KEY");
  std::ofstream(dir.path() / "master.key") << "garbage";
  CHECK_FALSE(storage::MasterKey::load(dir.path()).ok());
}
