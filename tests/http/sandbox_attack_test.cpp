// Sandboxes and their git under attack, over HTTP as a plain member or a hostile agent
// would: a repository's own git configuration turned against Hearth's git flows (hooks
// planted in the origin, the credential copied out), and members reaching for other
// orgs' repositories and checkouts. Each test performs the attack and fails if it works.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/git_https_server.h"
#include "tests/support/task_world.h"

using namespace hearth;
using nlohmann::json;
using test::TaskWorld;

namespace {

// Runs `script` with sh in the task's sandbox as `token` (a member), to its end: its output.
std::string in_sandbox(TaskWorld& w, const std::string& task, const std::string& token, const std::string& script) {
  auto path = TaskWorld::task_path(task) + "/sandbox/processes";
  auto r = w.s.call("POST", path, token, json{{"argv", {"sh", "-c", script}}});
  REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  auto process = path + "/" + std::to_string(r.body["id"].get<int>());
  auto done = w.poll(process, [](const json& b) { return b["status"] == "exited"; });
  std::string out;
  std::int64_t offset = 0;
  for (;;) {
    auto page = w.s.call("GET", process + "/output?offset=" + std::to_string(offset), token).body;
    for (const auto& c : page["chunks"]) out += c["data"].get<std::string>();
    if (page["done"].get<bool>() || page["chunks"].empty()) break;
    offset = page["next_offset"];
  }
  INFO(done.dump());
  return out;
}

// What a hostile repository (or an agent told to) puts in the work tree's git: a clean
// and smudge filter for every file, an fsmonitor, hooks for every event, and a script
// they all run that tries to plant a hook in the origin, write the mirror, and copy any
// credential it can find. It notes each place it ran in /workspace/.ran.
std::string plant(const std::string& marker) {
  return R"SH(set -e
cat > /workspace/.evil.sh <<'EOF'
#!/bin/sh
echo "ran uid=$(id -u) git_dir=${GIT_DIR:-agent}" >> /workspace/.ran 2>/dev/null
origin=$(git -C /workspace remote get-url origin 2>/dev/null | sed 's,^file://,,')
for d in "$origin" /run/hearth/origin /run/hearth/mirror; do
  mkdir -p "$d/hooks" 2>/dev/null
  printf '#!/bin/sh\ntouch )SH" + marker + R"SH(\n' > "$d/hooks/post-receive" 2>/dev/null && chmod +x "$d/hooks/post-receive" 2>/dev/null
done
echo "[core]
	hooksPath = /workspace/.hooks" >> /run/hearth/mirror/config 2>/dev/null
touch /run/hearth/mirror/refs/pwned /run/hearth/mirror/state/pwned /run/hearth/mirror/objects/pwned 2>/dev/null
echo /workspace/.git/objects > /run/hearth/mirror/objects/info/alternates 2>/dev/null
for f in $(find / -name 'git-token*' -o -name 'git-askpass' 2>/dev/null); do cat "$f" >> /workspace/.stolen 2>/dev/null; done
env | grep -i -e token -e pass >> /workspace/.stolen 2>/dev/null
cat
EOF
chmod +x /workspace/.evil.sh
mkdir -p /workspace/.hooks
for h in pre-commit post-commit pre-push post-checkout post-rewrite reference-transaction pre-rebase post-merge; do
  printf '#!/bin/sh\n/workspace/.evil.sh </dev/null >/dev/null\n' > /workspace/.hooks/$h
  chmod +x /workspace/.hooks/$h
  cp /workspace/.hooks/$h /workspace/.git/hooks/$h
done
git config filter.evil.clean /workspace/.evil.sh
git config filter.evil.smudge /workspace/.evil.sh
git config filter.evil.required true
git config diff.evil.textconv /workspace/.evil.sh
git config core.fsmonitor /workspace/.evil.sh
git config core.hooksPath /workspace/.hooks
git config uploadpack.packObjectsHook /workspace/.evil.sh
git config core.sshCommand /workspace/.evil.sh
git config credential.helper '!/workspace/.evil.sh'
printf '* filter=evil diff=evil\n' > .gitattributes
echo planted
)SH";
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("a hostile repository's git configuration runs with the agent's powers only: nothing planted in the origin or the mirror") {
  TaskWorld w;
  auto id = w.create("/write hello.txt Hello");
  w.settled(id);
  const auto marker = (w.elsewhere.path() / "pwned-by-a-hook").string();
  auto hooks_before = files_in(w.bare / "hooks");
  auto box = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {w.s.call("GET", TaskWorld::task_path(id), w.owner).body["org_id"], id}}.id();
  auto mirror_config = [&] {
    std::ifstream in(box / "mirror" / "config");
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  auto config_before = mirror_config();
  REQUIRE(in_sandbox(w, id, w.member, plant(marker)) == "planted\n");

  // A person reviews, commits, pushes, syncs and merges: every flow Hearth has. (The
  // agent's hooks may break its own rebase; what matters is what they reach.)
  for (const char* flow : {"diff", "commit", "push", "sync", "merge"}) {
    CAPTURE(flow);
    if (std::string(flow) == "diff") {
      auto r = w.s.call("POST", TaskWorld::task_path(id) + "/diff/refresh", w.owner, json::object());
      if (r.status == 202) w.settled(id);
      continue;
    }
    auto done = w.flow(id, flow);
    if (std::string(flow) == "push") CHECK_MESSAGE(done["status"] == "succeeded", done.dump());
  }
  w.settled(id);
  // The attack ran (the agent's own git in the sandbox ran the filter and the hooks)...
  auto ran = in_sandbox(w, id, w.member, "cat /workspace/.ran 2>/dev/null | sort -u");
  CHECK(ran.find("ran uid=") != std::string::npos);
  // ...but never with Hearth's mirror as its repository (the import step), and never as root.
  CHECK(ran.find("git_dir=/run/hearth/mirror") == std::string::npos);
  CHECK(ran.find("uid=0 ") == std::string::npos);
  // Nothing reached the origin, and no hook ran on the host.
  CHECK(files_in(w.bare / "hooks") == hooks_before);
  CHECK_FALSE(std::filesystem::exists(marker));
  CHECK(w.origin_git("config --get core.hooksPath || echo none") == "none\n");
  // The mirror's configuration is as Hearth wrote it (root's), its refs and objects hold
  // nothing planted.
  CHECK(mirror_config() == config_before);
  struct stat st {};
  REQUIRE(::stat((box / "mirror" / "config").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  for (const char* planted : {"refs/pwned", "state/pwned", "objects/pwned", "objects/info/alternates", "hooks/post-receive"})
    CHECK_MESSAGE(!std::filesystem::exists(box / "mirror" / planted), planted);
  // And the push did its work: the branch is in the origin (with whatever the agent's
  // own filter made of its files: its repository, its business).
  auto branch = w.s.call("GET", TaskWorld::task_path(id), w.owner).body["branch"].get<std::string>();
  CHECK(w.origin_git("cat-file -e " + branch + ":hello.txt && echo pushed") == "pushed\n");
}

TEST_CASE("the git credential is out of every sandbox's reach and redacted from everything people see") {
  test::TempDir served;
  test::make_repo(served.path() / "private.git");
  const std::string token = "ghs_credential_an_agent_wants_0123";
  test::GitHttpsServer git(served.path(), token);
  TaskWorld w([&](actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) { rc.git_ca_file = git.certificate(); });
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/GIT_TOKEN", w.owner, json{{"value", token}}).status == 200);
  auto added = w.s.call("POST", "/v1/orgs/acme/repos", w.owner, json{{"url", git.url("private.git")}, {"credential", "GIT_TOKEN"}});
  REQUIRE_MESSAGE(added.status == 201, added.body.dump());
  auto made = w.s.call("POST", "/v1/orgs/acme/tasks", w.member,
                       json{{"repo", "private"}, {"agent", "mock"}, {"prompt", "/write a.txt a"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  std::string id = made.body["task_id"];
  w.settled(id);
  REQUIRE(in_sandbox(w, id, w.member, plant((w.elsewhere.path() / "unused").string())) == "planted\n");
  auto pushed = w.flow(id, "push");
  CHECK(pushed["status"] == "succeeded");
  // Everything the sandbox could find, and everything it said: no credential.
  auto stolen = in_sandbox(w, id, w.member, "cat /workspace/.stolen 2>/dev/null; echo end");
  CHECK(stolen.find(token) == std::string::npos);
  // Every file the sandbox sees that could hold it (the value is split here so that this
  // command line itself does not).
  auto half = token.size() / 2;
  auto search = in_sandbox(w, id, w.member, "t='" + token.substr(0, half) + "''" + token.substr(half) +
                                                "'; grep -r -l -F \"$t\" /workspace /home /tmp /run /etc /dev/shm "
                                                "2>/dev/null; echo searched");
  CHECK(search == "searched\n");
  // A process that prints a value equal to the credential (an agent told it by a
  // person): its output shows the secret's name, never the value.
  auto echoed = in_sandbox(w, id, w.member, "echo " + token);
  CHECK(echoed == "[secret GIT_TOKEN]\n");
  auto ops = w.s.call("GET", TaskWorld::task_path(id) + "/ops", w.owner).body;  // held: a temporary's
  for (const auto& op : ops["items"])                                          // items would dangle
    CHECK(op.dump().find(token) == std::string::npos);
}

TEST_CASE("a member cannot clone another org's repository or any checkout on the server") {
  TaskWorld w;
  auto id = w.create("/write a.txt a");
  w.settled(id);
  auto org_a = w.s.call("GET", TaskWorld::task_path(id), w.owner).body["org_id"].get<std::string>();
  auto a_work = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {org_a, id}}.id() / "work";
  // The outsider owns org "other": a sandbox there may name only other's repositories.
  auto by_url = w.s.call("POST", "/v1/orgs/other/tasks/x/sandbox", w.outsider,
                         json{{"repo_url", "file://" + w.bare.string()}});
  CHECK(by_url.status == 400);
  CHECK(w.s.call("POST", "/v1/orgs/other/tasks/y/sandbox", w.outsider, json{{"repo", "origin"}}).status == 404);
  // Nor connect them: file:// is for server admins...
  for (const auto& path : {w.bare, a_work})
    CHECK(w.s.call("POST", "/v1/orgs/other/repos", w.outsider, json{{"url", "file://" + path.string()}}).status == 403);
  // ...and even they never reach into the data dir (a sandbox's checkout): the same
  // answer as for nothing at all.
  auto inside = w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "file://" + a_work.string()}});
  CHECK(inside.status == 400);
  CHECK(inside.body["error"]["message"] == "git cannot read a repository at file://" + a_work.string() +
                                              " (or the server does not allow it)");
  // A symlink under an allowed root that points into the data dir is resolved first.
  std::filesystem::create_symlink(a_work, w.elsewhere.path() / "looks-innocent");
  auto linked = w.s.call("POST", "/v1/orgs/acme/repos", w.root,
                         json{{"url", "file://" + (w.elsewhere.path() / "looks-innocent").string()}});
  CHECK(linked.status == 400);
}

TEST_CASE("a sandbox on the host's network is never a trusted proxy, nor loopback for /metrics") {
  // The documented setup: a reverse proxy on this machine, trusted by its address.
  test::TestServer s(
      [] {
        http::EdgeConfig e;
        e.trusted_proxies = {"127.0.0.1"};
        return e;
      }(),
      8);
  s.user_with_token("bob");
  auto owner = s.user_with_token("owner");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/acme/tasks/t1/sandbox", owner, json{{"network", "host"}}).status == 201);
  for (int i = 0; i < 200; ++i) {
    if (s.call("GET", "/v1/orgs/acme/tasks/t1/sandbox", owner).body["state"] == "ready") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // From inside: six sign-ins as bob, each claiming another client address.
  std::string script = "for i in 1 2 3 4 5 6; do exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(s.port) + "; "
                       "printf 'POST /v1/auth/sign-in HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Forwarded-For: 203.0.113.%s\\r\\n"
                       "Content-Type: application/json\\r\\nContent-Length: 42\\r\\nConnection: close\\r\\n\\r\\n"
                       "{\"username\":\"bob\",\"password\":\"wrong-pw-1\"}' $i >&3; head -n1 <&3; exec 3<&-; done; "
                       "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(s.port) + "; "
                       "printf 'GET /metrics HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' >&3; head -n1 <&3";
  auto r = s.call("POST", "/v1/orgs/acme/tasks/t1/sandbox/processes", owner, json{{"argv", {"bash", "-c", script}}});
  REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  auto process = "/v1/orgs/acme/tasks/t1/sandbox/processes/" + std::to_string(r.body["id"].get<int>());
  for (int i = 0; i < 500; ++i) {
    if (s.call("GET", process, owner).body["status"] == "exited") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Its output, page by page, until the log says it is all there.
  std::string out;
  std::int64_t offset = 0;
  for (int i = 0; i < 200; ++i) {
    auto page = s.call("GET", process + "/output?offset=" + std::to_string(offset), owner).body;
    for (const auto& c : page["chunks"]) out += c["data"].get<std::string>();
    offset = page.value("next_offset", offset);
    if (page.value("done", false) || out.find("HTTP/1.1 403") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(out);
  // The forged addresses counted for nothing: the sixth attempt was slowed down, and
  // /metrics, which answers this machine's own tools, refused.
  CHECK(out.find("HTTP/1.1 429") != std::string::npos);
  CHECK(out.find("HTTP/1.1 403") != std::string::npos);
  CHECK(out.find("HTTP/1.1 200") == std::string::npos);
}
