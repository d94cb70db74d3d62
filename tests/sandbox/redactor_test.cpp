// Redaction of secret values, whole and across stream chunks, and in process output.
#include <doctest/doctest.h>

#include "sandbox/exec.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;

TEST_CASE("known secret values are replaced by their names, short values are left alone") {
  Redactor r({{"API_KEY", "sk-abcdef-123"}, {"PREFIX", "sk-abc"}, {"PIN", "42"}});
  CHECK(r.redact("key=sk-abcdef-123 and sk-abc, 42") == "key=[secret API_KEY] and [secret PREFIX], 42");
  CHECK(r.redact("nothing here") == "nothing here");
  CHECK(Redactor().redact("as is") == "as is");
}

TEST_CASE("a value split across chunks, at any point, is still redacted") {
  Redactor r({{"TOKEN", "ghp_0123456789"}, {"OTHER", "passw0rd!"}});
  const std::string text = "start ghp_0123456789 middle passw0rd! end ghp_0123456789";
  const auto whole = r.redact(text);
  CHECK(whole == "start [secret TOKEN] middle [secret OTHER] end [secret TOKEN]");
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    Redactor::Stream s(r);
    auto out = s.push(text.substr(0, cut));
    out += s.push(text.substr(cut));
    out += s.flush();
    CHECK_MESSAGE(out == whole, "cut at " << cut);
  }
  Redactor::Stream bytes(r);
  std::string out;
  for (char c : text) out += bytes.push(std::string(1, c));
  out += bytes.flush();
  CHECK(out == whole);
}

TEST_CASE("process output never carries a secret value, however the process writes it") {
  test::TempDir data;
  SandboxDir box{data.path() / "box"};
  constexpr SandboxUser user{1'900'000'402, 1'900'000'402};
  REQUIRE(make_sandbox_dirs(box, user).ok());
  auto bwrap = make_provider("bwrap");
  REQUIRE(bwrap.ok());
  Redactor r({{"ANTHROPIC_API_KEY", "sk-ant-secret-value"}});
  ExecRequest req{{"sh", "-c", "printf 'key is sk-ant-'; sleep 0.2; printf 'secret-value\\n'; echo sk-ant-secret-value >&2"}};
  req.user = user;
  std::string out, err;
  auto ran = run(**bwrap, box, req, "", [&](int stream, std::string_view d) { (stream == 1 ? out : err).append(d); }, {},
                 &r);
  REQUIRE(ran.ok());
  CHECK(out == "key is [secret ANTHROPIC_API_KEY]\n");
  CHECK(err == "[secret ANTHROPIC_API_KEY]\n");
}

TEST_CASE("a stream holds back only a tail that could begin a value") {
  Redactor r({{"TOKEN", "ghp_0123456789"}});
  Redactor::Stream s(r);
  CHECK(s.push("hello world ") == "hello world ");  // nothing like the value: passed on at once
  CHECK(s.push("see gh") == "see ");                // "gh" may begin it
  CHECK(s.push("p_01") == "");
  CHECK(s.push("x") == "ghp_01x");                  // it did not
  CHECK(s.push("ghp_0123456789!") == "[secret TOKEN]!");
  CHECK(s.flush() == "");
}
