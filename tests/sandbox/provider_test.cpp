// Sandbox providers and the exec channel with real processes: bubblewrap isolation
// (files, environment, network, capabilities), limits, and that no process outlives
// its run.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "sandbox/exec.h"
#include "tests/support/proc.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;
using namespace std::chrono_literals;

namespace {

struct Ran {
  ExecOutcome outcome;
  std::string out, err;
};

// The sandbox user of these tests' sandboxes (never root).
constexpr SandboxUser kUser{1'900'000'101, 1'900'000'101};

Ran run_in(const Provider& p, const SandboxDir& dir, ExecRequest r, std::string_view input = "",
           std::stop_token stop = {}) {
  Ran ran;
  if (!r.user.set()) r.user = kUser;
  auto o = run(p, dir, r, input,
               [&](int stream, std::string_view data) { (stream == 1 ? ran.out : ran.err).append(data); }, stop);
  REQUIRE_MESSAGE(o.ok(), (o.ok() ? "" : o.error().message));
  ran.outcome = *o;
  return ran;
}

// Runs `script` on the host (the test's own setup), requiring success.
void test_sh(const std::string& script) { REQUIRE(std::system(script.c_str()) == 0); }

SandboxDir make_box(const std::filesystem::path& root, SandboxUser user = kUser) {
  SandboxDir d{root};
  auto made = make_sandbox_dirs(d, user);
  REQUIRE_MESSAGE(made.ok(), (made.ok() ? "" : made.error().message));
  return d;
}

std::unique_ptr<Provider> provider(const char* name) {
  auto p = make_provider(name);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return std::move(*p);
}

// Whether any process on the host runs exactly `argv` (read from /proc).
bool running(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  for (int pid : test::proc_pids())
    if (test::read_proc_file("/proc/" + std::to_string(pid) + "/cmdline") == want) return true;
  return false;
}

// A listening socket on 127.0.0.1 (the test's own): returns {fd, port}.
std::pair<int, int> listen_loopback() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return {fd, ntohs(a.sin_port)};
}

}  // namespace

TEST_CASE("a bwrap sandbox sees its own work dir and nothing of the host, other sandboxes or the server") {
  test::TempDir data;
  std::ofstream(data.path() / "master.key") << "the server's secret";
  auto a = make_box(data.path() / "sandboxes" / "a");
  auto b = make_box(data.path() / "sandboxes" / "b");
  auto bwrap = provider("bwrap");
  ::setenv("HEARTH_TEST_HOST_SECRET", "do-not-leak", 1);

  auto wrote = run_in(*bwrap, a, {{"sh", "-c", "echo from-a > mine.txt && pwd && cat mine.txt"}});
  CHECK(wrote.outcome.exit_code == 0);
  CHECK(wrote.out == "/workspace\nfrom-a\n");
  CHECK(std::filesystem::exists(a.work() / "mine.txt"));

  // B cannot reach A's files, the data dir or the key by any host path.
  for (const auto& path : {(a.work() / "mine.txt").string(), (data.path() / "master.key").string(), data.path().string()}) {
    auto peek = run_in(*bwrap, b, {{"cat", path}});
    CHECK_MESSAGE(peek.outcome.exit_code != 0, path);
    CHECK(peek.out.empty());
  }
  auto root = run_in(*bwrap, b, {{"ls", "/"}});
  CHECK(root.out == "bin\ndev\netc\nhome\nlib\nlib64\nproc\nsbin\ntmp\nusr\nworkspace\n");
  // Its home is its own, writable, and outside the checkout.
  auto home = run_in(*bwrap, b, {{"sh", "-c", "echo settings > $HOME/.agentrc && ls -a /home"}});
  CHECK(home.out == ".\n..\nhearth\n");
  CHECK(std::filesystem::exists(b.home() / ".agentrc"));
  CHECK_FALSE(std::filesystem::exists(a.home() / ".agentrc"));

  // Only the environment it was given, no capabilities, its own pid namespace.
  auto env = run_in(*bwrap, b, {{"env"}, {"GREETING=hello"}});
  CHECK(env.out.find("GREETING=hello") != std::string::npos);
  CHECK(env.out.find("HEARTH_TEST_HOST_SECRET") == std::string::npos);
  CHECK(env.out.find("HOME=/home/hearth") != std::string::npos);
  auto caps = run_in(*bwrap, b, {{"grep", "CapEff", "/proc/self/status"}});
  CHECK(caps.out == "CapEff:\t0000000000000000\n");
  auto pids = run_in(*bwrap, b, {{"sh", "-c", "ls /proc | grep -c '^[0-9]'"}});
  CHECK(std::atoi(pids.out.c_str()) <= 4);  // bwrap's init, sh, ls, grep: none of the host's
  ::unsetenv("HEARTH_TEST_HOST_SECRET");
}

TEST_CASE("network none reaches nothing, not even the host's loopback, network host does") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  auto [fd, port] = listen_loopback();
  std::vector<std::string> connect{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port)};
  auto closed = run_in(*bwrap, box, {connect});
  CHECK(closed.outcome.exit_code != 0);
  ExecRequest open{connect};
  open.network = Network::host;
  CHECK(run_in(*bwrap, box, open).outcome.exit_code == 0);
  ::close(fd);
}

TEST_CASE("the local provider runs in the work dir with only the environment it was given") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  std::filesystem::create_directories(box.work() / "src");
  auto local = provider("local");
  CHECK_FALSE(local->isolated());
  ::setenv("HEARTH_TEST_HOST_SECRET", "do-not-leak", 1);
  ExecRequest r{{"sh", "-c", "pwd; env"}, {"A=1"}, "src"};
  auto ran = run_in(*local, box, r);
  ::unsetenv("HEARTH_TEST_HOST_SECRET");
  CHECK(ran.out.starts_with((box.work() / "src").string() + "\n"));
  CHECK(ran.out.find("A=1") != std::string::npos);
  CHECK(ran.out.find("HEARTH_TEST_HOST_SECRET") == std::string::npos);
}

TEST_CASE("exec limits: wall clock, idle time, output size, memory, and a stop request") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");

  ExecRequest slow{{"sleep", "30"}};
  slow.limits.wall_clock = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto walled = run_in(*bwrap, box, slow);
  CHECK(walled.outcome.ended_by == EndedBy::wall_clock);
  CHECK(walled.outcome.exit_code == 128 + SIGKILL);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  ExecRequest quiet{{"sh", "-c", "echo started; sleep 30"}};
  quiet.limits.idle = 300ms;
  auto idled = run_in(*bwrap, box, quiet);
  CHECK(idled.outcome.ended_by == EndedBy::idle);
  CHECK(idled.out == "started\n");

  ExecRequest loud{{"head", "-c", "100000", "/dev/zero"}};
  loud.limits.max_output_bytes = 1000;
  auto capped = run_in(*bwrap, box, loud);
  CHECK(capped.outcome.ended_by == EndedBy::exit);
  CHECK(capped.outcome.truncated);
  CHECK(capped.outcome.output_bytes == 100000);
  CHECK(capped.out.size() == 1000);
  CHECK(capped.err.find("output past 1000 bytes was dropped") != std::string::npos);

  ExecRequest hungry{{"python3", "-c", "bytearray(400 * 1024 * 1024)"}};
  hungry.limits.max_memory_bytes = 200ull << 20;
  auto starved = run_in(*bwrap, box, hungry);
  CHECK(starved.outcome.exit_code != 0);
  CHECK(starved.err.find("MemoryError") != std::string::npos);

  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  auto stopped = run_in(*bwrap, box, {{"sleep", "30"}}, "", stop.get_token());
  stopper.join();
  CHECK(stopped.outcome.ended_by == EndedBy::stopped);
}

TEST_CASE("no process of a run outlives it, grandchildren in the background included") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  for (const char* name : {"bwrap", "local"}) {
    INFO(name);
    auto p = provider(name);
    ExecRequest r{{"sh", "-c", "sleep 3017 & sleep 3018 & echo up; wait"}};
    r.limits.wall_clock = 500ms;
    auto ran = run_in(*p, box, r);
    CHECK(ran.out == "up\n");
    CHECK(ran.outcome.ended_by == EndedBy::wall_clock);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = !running({"sleep", "3017"}) && !running({"sleep", "3018"});
      if (!gone) std::this_thread::sleep_for(20ms);
    }
    CHECK(gone);
  }
}

TEST_CASE("stdin reaches the process, bad requests are refused before anything runs") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  CHECK(run_in(*bwrap, box, {{"cat"}}, "fed through stdin").out == "fed through stdin");

  auto refused = [&](ExecRequest r) {
    r.user = kUser;
    auto o = run(*bwrap, box, r, "", [](int, std::string_view) {});
    REQUIRE_FALSE(o.ok());
    return o.error().message;
  };
  CHECK(refused({{}}) == "argv must name a program");
  CHECK(refused({{"true"}, {"1BAD=x"}}).find("env entries must be NAME=VALUE") != std::string::npos);
  CHECK(refused({{"true"}, {"NOEQUALS"}}).find("env entries must be NAME=VALUE") != std::string::npos);
  CHECK(refused({{"true"}, {}, "../up"}) == "cwd must stay inside the work dir (no \"..\")");
  CHECK(refused({{"true"}, {}, "/etc"}) == "cwd must be relative to the work dir");
  CHECK_FALSE(make_provider("docker").ok());
  ExecRequest as_root{{"true"}};
  auto root = run(*bwrap, box, as_root, "", [](int, std::string_view) {});
  REQUIRE_FALSE(root.ok());
  CHECK(root.error().message.find("never runs as root") != std::string::npos);
  CHECK(network_from("internet").error().message == "network must be none, proxy or host, not \"internet\"");
}

TEST_CASE("a sandboxed process is not root on the host: its own uid, no capabilities, and files it makes are its") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  auto ran = run_in(*bwrap, box, {{"sh", "-c", "id -u; id -g; id -un; grep -E '^(Uid|Gid|CapPrm|CapEff|CapBnd|CapAmb|"
                                              "NoNewPrivs|Seccomp):' /proc/self/status; touch made.txt"}});
  CHECK(ran.outcome.exit_code == 0);
  auto uid = std::to_string(kUser.uid);
  CHECK(ran.out.starts_with(uid + "\n" + uid + "\nhearth\n"));
  // Real, effective, saved and filesystem uid: all the sandbox's, in the host's user namespace.
  CHECK(ran.out.find("Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n") != std::string::npos);
  for (const char* caps : {"CapPrm", "CapEff", "CapBnd", "CapAmb"})
    CHECK(ran.out.find(std::string(caps) + ":\t0000000000000000") != std::string::npos);
  CHECK(ran.out.find("NoNewPrivs:\t1") != std::string::npos);
  CHECK(ran.out.find("Seccomp:\t2") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((box.work() / "made.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == kUser.uid);
  CHECK(st.st_gid == kUser.gid);
}

TEST_CASE("from inside a sandbox, no kernel setting can be written and the kernel's /proc files are unreadable") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  // Every file under /proc/sys: none opens for writing.
  auto sysctl = run_in(*bwrap, box, {{"sh", "-c", "n=0; w=0; for f in $(find /proc/sys -type f 2>/dev/null); do "
                                                  "n=$((n+1)); if (: >> \"$f\") 2>/dev/null; then echo \"WROTE $f\"; w=$((w+1)); fi; "
                                                  "done; echo \"tried $n wrote $w\""}});
  CHECK(sysctl.out.find("WROTE") == std::string::npos);
  CHECK(sysctl.out.find(" wrote 0") != std::string::npos);
  CHECK(std::atoi(sysctl.out.substr(sysctl.out.find("tried ") + 6).c_str()) > 100);
  // The attacks as reported: a harmless setting, and the one that runs code as root.
  std::ifstream before("/proc/sys/kernel/printk_ratelimit");
  std::string rate;
  before >> rate;
  auto write = run_in(*bwrap, box, {{"sh", "-c", "echo 1234 > /proc/sys/kernel/printk_ratelimit; "
                                                 "echo '|/tmp/x' > /proc/sys/kernel/core_pattern; echo done"}});
  CHECK(write.err.find("printk_ratelimit") != std::string::npos);
  CHECK(write.err.find("core_pattern") != std::string::npos);
  std::ifstream after("/proc/sys/kernel/printk_ratelimit");
  std::string now;
  after >> now;
  CHECK(now == rate);
  // Masked: each of these that the host has cannot be read (or listed) inside.
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/kmsg", "/proc/kallsyms",
                           "/proc/sysrq-trigger", "/proc/sched_debug", "/proc/vmallocinfo", "/proc/acpi", "/proc/scsi"}) {
    if (!std::filesystem::exists(path)) continue;
    CAPTURE(path);
    auto peek = run_in(*bwrap, box, {{"sh", "-c", std::string("if [ -d ") + path + " ]; then ls " + path +
                                                      "; else cat " + path + "; fi"}});
    CHECK(peek.outcome.exit_code != 0);
    CHECK(peek.out.empty());
  }
}

TEST_CASE("a sandbox cannot make namespaces, load kernel code, or use keyrings, bpf, perf or open_by_handle_at") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  auto userns = run_in(*bwrap, box, {{"sh", "-c", "unshare --user --map-root-user id -u; echo rc=$?"}});
  CHECK(userns.out.find("rc=0") == std::string::npos);
  CHECK(run_in(*bwrap, box, {{"unshare", "--mount", "true"}}).outcome.exit_code != 0);
  CHECK(run_in(*bwrap, box, {{"unshare", "--net", "true"}}).outcome.exit_code != 0);
#if defined(__x86_64__)
  // Straight to the kernel (x86-64 numbers), with arguments that would work (or fail
  // otherwise) without the filter, so that each answer is the filter's own.
  const std::tuple<const char*, std::string, const char*> calls[] = {
      {"keyctl (get the session keyring)", "syscall(250, 0, -3, 1)", "Operation not permitted"},
      {"add_key", "syscall(248, $t, $d, $v, 1, -2)", "Operation not permitted"},
      {"unshare a user namespace", "syscall(272, 0x10000000)", "Operation not permitted"},
      {"setns (EBADF without the filter)", "syscall(308, -1, 0)", "Operation not permitted"},
      {"clone3 (EINVAL without the filter)", "syscall(435, 0, 0)", "Function not implemented"},
      {"io_uring_setup", "syscall(425, 1, $p)", "Function not implemented"},
      {"bpf", "syscall(321, 0, 0, 0)", "Operation not permitted"},
      {"init_module", "syscall(175, 0, 0, $d)", "Operation not permitted"},
      {"kexec_load", "syscall(246, 0, 0, 0, 0)", "Operation not permitted"}};
  for (const auto& c : calls) {
    INFO(std::string(std::get<0>(c)));
    auto r = run_in(*bwrap, box, {{"perl", "-e", "my ($t, $d, $v, $p) = ('user', 'k', 'v', \"\\0\" x 120); my $r = " +
                                                     std::get<1>(c) + "; print $r < 0 ? \"refused $!\" : \"ran\";"}});
    CHECK(r.out == std::string("refused ") + std::get<2>(c));
  }
#endif
  // What a coding agent does still works: processes, threads, pipes, a debugger's ptrace.
  auto work = run_in(*bwrap, box, {{"sh", "-c", "echo a | tr a b; python3 -c 'import threading; t = "
                                                "threading.Thread(target=print, args=(\"thread\",)); t.start(); t.join()'"}});
  CHECK(work.out == "b\nthread\n");
}

TEST_CASE("environment values reach a sandboxed process without appearing in any command line") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  const std::string secret = "sk-test-" + std::to_string(::getpid()) + "-never-in-argv";
  std::atomic<bool> seen{false}, done{false};
  std::thread scan([&] {
    while (!done) {
      for (int pid : test::proc_pids())
        if (test::read_proc_file("/proc/" + std::to_string(pid) + "/cmdline").find(secret) != std::string::npos) seen = true;
    }
  });
  auto ran = run_in(*bwrap, box, {{"sh", "-c", "sleep 0.3; echo \"${KEY#sk-test-}\""}, {"KEY=" + secret}});
  done = true;
  scan.join();
  CHECK(ran.out == secret.substr(8) + "\n");
  CHECK_FALSE(seen);
}

TEST_CASE("nothing the request sets reaches the root stage: LD_PRELOAD runs only as the sandbox's user") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  // A library that notes who loaded it. Before, bubblewrap handed the environment to
  // setpriv, still root with every capability: LD_PRELOAD ran the agent's code as root.
  std::ofstream(box.work() / "evil.c") << "#include <stdio.h>\n#include <unistd.h>\n"
                                         "__attribute__((constructor)) static void note(void) {\n"
                                         "  FILE* f = fopen(\"/workspace/loaded-by\", \"a\");\n"
                                         "  if (f) { fprintf(f, \"%d %d\\n\", (int)getuid(), (int)geteuid()); fclose(f); }\n}\n";
  test_sh("cc -shared -fPIC -o '" + (box.work() / "evil.so").string() + "' '" + (box.work() / "evil.c").string() + "'");
  ::chmod((box.work() / "loaded-by").c_str(), 0666);
  auto ran = run_in(*bwrap, box, {{"true"}, {"LD_PRELOAD=/workspace/evil.so", "LD_LIBRARY_PATH=/workspace"}});
  CHECK(ran.outcome.exit_code == 0);
  std::ifstream in(box.work() / "loaded-by");
  std::string who((std::istreambuf_iterator<char>(in)), {});
  auto uid = std::to_string(kUser.uid);
  CHECK(who.find(uid + " " + uid) != std::string::npos);  // the program, as the sandbox's user
  CHECK(who.find("0 0") == std::string::npos);             // never a root process
}

TEST_CASE("a sandboxed process inherits no descriptor of the server: no client connection, no database") {
  test::TempDir data;
  auto box = make_box(data.path() / "box");
  auto bwrap = provider("bwrap");
  // Descriptors without close-on-exec, as httplib's accepted connections are.
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  int file = ::open((data.path() / "db").c_str(), O_RDWR | O_CREAT, 0600);
  REQUIRE(sock >= 0);
  REQUIRE(file >= 0);
  auto fds = run_in(*bwrap, box, {{"sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"}});
  CHECK(fds.out == "0 1 2 3 ");  // stdin, stdout, stderr, and ls's own view of the dir
  auto local = provider("local");
  auto plain = run_in(*local, box, {{"sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"}});
  CHECK(plain.out == "0 1 2 3 ");
  ::close(sock);
  ::close(file);
}
