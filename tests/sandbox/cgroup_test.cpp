// A sandbox's control group: its process and memory ceilings hold for everything it
// runs, and destroying it leaves no process behind.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "sandbox/cgroup.h"
#include "sandbox/exec.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;
using namespace std::chrono_literals;

namespace {

struct Box {
  test::TempDir data;
  SandboxDir dir{data.path() / "box"};
  Cgroups groups = Cgroups::detect(data.path());
  std::unique_ptr<Provider> bwrap;
  static constexpr SandboxUser kUser{1'900'000'401, 1'900'000'401};
  Box() {
    REQUIRE(make_sandbox_dirs(dir, kUser).ok());
    auto p = make_provider("bwrap");
    REQUIRE(p.ok());
    bwrap = std::move(*p);
  }
  ~Box() {
    groups.destroy("box");
    groups.remove_empty();
  }
};

}  // namespace

TEST_CASE("a sandbox's group caps its processes and memory, and destroying it kills them all") {
  Box b;
  if (!b.groups.available()) {
    MESSAGE("skipped: " << b.groups.description());
    return;
  }
  auto procs = b.groups.prepare("box", {32, 64 << 20});
  REQUIRE_MESSAGE(procs.ok(), (procs.ok() ? "" : procs.error().message));

  // Forty forks under a ceiling of 32: some fail inside the sandbox (perl, unlike a
  // shell, goes on after a failed fork and says how many worked).
  ExecRequest many{{"perl", "-e",
                    "$|=1; my $ok = 0; for (1..40) { my $p = fork(); next unless defined $p; "
                    "if ($p == 0) { sleep 30; exit 0 } $ok++ } print \"started $ok\\n\"; sleep 30"}};
  many.cgroup_procs = *procs;
  many.user = Box::kUser;
  many.limits.wall_clock = 20s;
  std::atomic<int> forked{-1};
  std::jthread runner([&] {
    (void)run(*b.bwrap, b.dir, many, "", [&](int s, std::string_view d) {
      if (s == 1 && d.starts_with("started ")) forked = std::atoi(std::string(d.substr(8)).c_str());
    });
  });
  for (int i = 0; i < 1000 && forked < 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(forked >= 0);
  CHECK(forked >= 20);
  CHECK(forked < 40);
  auto during = b.groups.pids("box").size();
  CHECK(during >= 20);
  CHECK(during <= 32);
  CHECK(b.groups.destroy("box"));
  CHECK(b.groups.pids("box").empty());
  runner.join();

  // 200 MB under a 64 MB ceiling: the kernel kills it.
  procs = b.groups.prepare("box", {64, 64 << 20});
  REQUIRE(procs.ok());
  ExecRequest hog{{"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"}};
  hog.cgroup_procs = *procs;
  hog.user = Box::kUser;
  std::string said;
  auto r = run(*b.bwrap, b.dir, hog, "", [&](int s, std::string_view d) { if (s == 1) said.append(d); });
  REQUIRE(r.ok());
  CHECK(r->exit_code != 0);
  CHECK(said.find("survived") == std::string::npos);
  CHECK(b.groups.groups() == std::vector<std::string>{"box"});
}

TEST_CASE("a process that cannot join its group does not run its program, and says why") {
  test::TempDir data;
  ProcessSpec spec{{"sh", "-c", "echo ran"}};
  spec.merge_stderr = true;
  spec.cgroup_procs = {(data.path() / "no-such-group" / "cgroup.procs").string()};
  auto p = Process::spawn(spec);
  REQUIRE(p.ok());
  std::string out;
  while (auto line = p->read_line(std::chrono::seconds(10))) out += *line + "\n";
  auto code = p->wait(std::chrono::seconds(10));
  REQUIRE(code.ok());
  CHECK(*code == 125);
  CHECK(out.find("cannot join the control group") != std::string::npos);
  CHECK(out.find("ran") == std::string::npos);
}
