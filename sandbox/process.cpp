// Child processes with pipes and process groups: see process.h.
#include "sandbox/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace hearth::sandbox {
namespace {

// argv[0] as execve needs it: a path, found in this process's PATH when it has no '/'.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    auto candidate = (end > start ? dirs.substr(start, end - start) : std::string(".")) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

// Signals a child should start with at their defaults, whatever the server did with them.
constexpr int kDefaultSignals[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};

// The child side of fork(): only async-signal-safe calls from here to execve.
[[noreturn]] void exec_child(const char* program, char* const* argv, char* const* envp, int in, int out, int err,
                             bool merge_stderr, const char* cwd, const std::vector<const char*>& cgroups,
                             int report_fd) {
  auto fail = [&](int code) {
    (void)!::write(report_fd, &code, sizeof code);
    _exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : kDefaultSignals) sigaction(sig, &dfl, nullptr);
  setpgid(0, 0);
  char digits[16];
  int n = 0;
  for (int pid = getpid(); pid > 0; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
  char pid_text[16];
  for (int i = 0; i < n; ++i) pid_text[i] = digits[n - 1 - i];
  for (const char* procs : cgroups) {
    int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, pid_text, n) != n) fail(errno);
    ::close(fd);
  }
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0) fail(errno);
  if (merge_stderr) dup2(out, 2);
  else if (err >= 0) dup2(err, 2);
  if (cwd && chdir(cwd) != 0) fail(errno);
  execve(program, argv, envp);
  fail(errno);
  _exit(127);
}

// posix_spawn: the child gets its own process group, an empty signal mask and default
// dispositions. Returns 0 or the errno that kept it from starting.
int spawn_posix(const ProcessSpec& spec, std::vector<char*>& argv, std::vector<char*>& envp, int in, int out, int err,
                pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  if (spec.merge_stderr) posix_spawn_file_actions_adddup2(&actions, out, 2);
  else if (spec.pipe_stderr) posix_spawn_file_actions_adddup2(&actions, err, 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : kDefaultSignals) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// fork, for a child that must join its cgroups before it runs (posix_spawn cannot): it
// reports a failure through a close-on-exec pipe. Returns 0 or the errno.
int spawn_forked(const ProcessSpec& spec, std::vector<char*>& argv, std::vector<char*>& envp, int in, int out, int err,
                 pid_t& pid) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  auto program = resolve_program(spec.argv[0]);
  std::vector<const char*> cgroups;
  for (const auto& c : spec.cgroup_procs) cgroups.push_back(c.c_str());
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  pid = fork();
  if (pid == 0)
    exec_child(program.c_str(), argv.data(), envp.data(), in, out, err, spec.merge_stderr, cwd, cgroups, report[1]);
  int fork_errno = errno;
  close(report[1]);
  int child_errno = 0;
  auto got = pid > 0 ? ::read(report[0], &child_errno, sizeof child_errno) : -1;
  close(report[0]);
  if (pid < 0) return fork_errno;
  if (got > 0) {
    waitpid(pid, nullptr, 0);
    return child_errno;
  }
  return 0;
}

}  // namespace

Result<Process> Process::spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Error{ErrorCode::invalid, "process argv is empty"};
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Error{ErrorCode::unavailable, fmt::format("pipe: {}", std::strerror(errno))};
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Error{ErrorCode::unavailable, fmt::format("pipe: {}", std::strerror(errno))};
  }
  int err[2] = {-1, -1};
  if (spec.pipe_stderr && pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return Error{ErrorCode::unavailable, fmt::format("pipe: {}", std::strerror(errno))};
  }
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  if (spec.inherit_env)
    for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  for (const auto& e : spec.extra_env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int failure = spec.cgroup_procs.empty() ? spawn_posix(spec, argv, envp, in[0], out[1], err[1], pid)
                                          : spawn_forked(spec, argv, envp, in[0], out[1], err[1], pid);
  close(in[0]);
  close(out[1]);
  if (err[1] >= 0) close(err[1]);
  if (failure != 0) {
    close(in[1]);
    close(out[0]);
    if (err[0] >= 0) close(err[0]);
    return Error{ErrorCode::unavailable, fmt::format("cannot start {}: {}", spec.argv[0], std::strerror(failure))};
  }
  Process p;
  p.pid_ = pid;
  p.stdin_fd_ = in[1];
  p.stdout_fd_ = out[0];
  p.stderr_fd_ = err[0];
  return p;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stderr_fd_ = std::exchange(other.stderr_fd_, -1);
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
    exit_code_ = other.exit_code_;
  }
  return *this;
}

Process::~Process() { release(); }

void Process::release() {
  if (pid_ > 0 && !exit_code_) {
    kill(SIGKILL);
    (void)wait(std::chrono::seconds(5));
  }
  close_stdin();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
  stdout_fd_ = -1;
  stderr_fd_ = -1;
  pid_ = -1;
}

Status Process::write(std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{ErrorCode::unavailable, fmt::format("write to process {}: {}", pid_, std::strerror(errno))};
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::string> Process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_ || stdout_fd_ < 0) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char chunk[4096];
    auto n = read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

Process::Read Process::read_chunk(std::chrono::milliseconds timeout, Chunk& out) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pollfd fds[2];
    int streams[2];
    nfds_t n = 0;
    if (stdout_fd_ >= 0) {
      fds[n] = {stdout_fd_, POLLIN, 0};
      streams[n++] = 1;
    }
    if (stderr_fd_ >= 0) {
      fds[n] = {stderr_fd_, POLLIN, 0};
      streams[n++] = 2;
    }
    if (n == 0) return Read::eof;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int r = poll(fds, n, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Read::timeout;
    for (nfds_t i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[16384];
      auto got = read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) break;
      if (got <= 0) {  // this stream ended
        close(fds[i].fd);
        (streams[i] == 1 ? stdout_fd_ : stderr_fd_) = -1;
        break;
      }
      out.stream = streams[i];
      out.data.assign(chunk, static_cast<std::size_t>(got));
      return Read::data;
    }
  }
}

void Process::kill(int signal) {
  if (pid_ > 0 && !exit_code_) ::kill(-pid_, signal);
}

Result<int> Process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return *exit_code_;
    }
    if (r < 0 && errno != EINTR)
      return Error{ErrorCode::internal, fmt::format("waitpid {}: {}", pid_, std::strerror(errno))};
    if (std::chrono::steady_clock::now() >= deadline)
      return Error{ErrorCode::timeout, fmt::format("process {} still running", pid_)};
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace hearth::sandbox
