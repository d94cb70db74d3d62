// Child processes with pipes and process groups: see process.h.
#include "sandbox/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

// The fd_inputs as memfds (close-on-exec, numbered above any the child gets, so that
// dup2 onto 3, 4, ... always clears that flag); closed when this goes away.
struct FdInputs {
  std::vector<int> fds;
  ~FdInputs() {
    for (int fd : fds) ::close(fd);
  }
  Status open(const std::vector<std::string>& inputs) {
    for (const auto& data : inputs) {
      int made = ::memfd_create("hearth-input", MFD_CLOEXEC);
      if (made < 0) return Error{ErrorCode::unavailable, fmt::format("memfd_create: {}", std::strerror(errno))};
      int fd = ::fcntl(made, F_DUPFD_CLOEXEC, 64 + static_cast<int>(inputs.size()));
      ::close(made);
      if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("fcntl: {}", std::strerror(errno))};
      fds.push_back(fd);
      std::string_view rest(data);
      while (!rest.empty()) {
        auto n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error{ErrorCode::unavailable, fmt::format("memfd write: {}", std::strerror(errno))};
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
      ::lseek(fd, 0, SEEK_SET);
    }
    return {};
  }
};

// posix_spawn: the child gets its own process group, an empty signal mask and default
// dispositions. Returns 0 or the errno that kept it from starting.
int spawn_posix(const ProcessSpec& spec, std::vector<char*>& argv, std::vector<char*>& envp, int in, int out, int err,
                const std::vector<int>& inputs, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  if (spec.merge_stderr) posix_spawn_file_actions_adddup2(&actions, out, 2);
  else if (spec.pipe_stderr) posix_spawn_file_actions_adddup2(&actions, err, 2);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    posix_spawn_file_actions_adddup2(&actions, inputs[i], 3 + static_cast<int>(i));
  // Nothing else of the server's reaches the child: not its databases, not other
  // clients' connections (httplib accepts without close-on-exec), not other processes'
  // pipes. Whatever it needs, it was given above.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3 + static_cast<int>(inputs.size()));
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

// A child that must join its control groups before its program runs: posix_spawn
// starts /bin/sh, which writes its own pid into each cgroup.procs file and then execs
// the program (so the program and all it starts are in the groups from its first
// instruction). Not fork(): copying the page tables of a server with hundreds of
// threads, for every git and agent process of 200 tasks at once, stalled them all.
// A group that cannot be joined ends the child with code 125 before the program runs.
constexpr const char* kJoinScript =
    "for f; do\n"
    "  if [ \"$f\" = -- ]; then shift; exec \"$@\"; fi\n"
    "  echo $$ > \"$f\" || { echo \"hearth: cannot join the control group $f\" >&2; exit 125; }\n"
    "  shift\n"
    "done\n"
    "exit 125\n";

int spawn_joining(const ProcessSpec& spec, std::vector<char*>& argv, std::vector<char*>& envp, int in, int out, int err,
                  const std::vector<int>& inputs, pid_t& pid) {
  std::vector<std::string> words{"/bin/sh", "-c", kJoinScript, "hearth-join"};
  words.insert(words.end(), spec.cgroup_procs.begin(), spec.cgroup_procs.end());
  words.push_back("--");
  words.push_back(resolve_program(spec.argv[0]));
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) words.emplace_back(argv[i]);
  std::vector<char*> wrapped;
  for (auto& w : words) wrapped.push_back(w.data());
  wrapped.push_back(nullptr);
  return spawn_posix(spec, wrapped, envp, in, out, err, inputs, pid);
}

}  // namespace

Result<Process> Process::spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Error{ErrorCode::invalid, "process argv is empty"};
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Error{ErrorCode::unavailable, fmt::format("pipe: {}", std::strerror(errno))};
  // out[0] is ours to read, out[1] the child's stdout.
  bool made = spec.stdout_socket ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) == 0
                                 : pipe2(out, O_CLOEXEC) == 0;
  if (made && spec.stdout_socket) {
    int yes = 1;
    ::setsockopt(out[0], SOL_SOCKET, SO_PASSCRED, &yes, sizeof yes);
    ::shutdown(out[0], SHUT_WR);  // nothing goes the other way
    ::shutdown(out[1], SHUT_RD);
  }
  if (!made) {
    close(in[0]);
    close(in[1]);
    return Error{ErrorCode::unavailable, fmt::format("stdout: {}", std::strerror(errno))};
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

  FdInputs inputs;
  if (auto st = inputs.open(spec.fd_inputs); !st) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) close(fd);
    return st.error();
  }
  pid_t pid = -1;
  int failure = spec.cgroup_procs.empty() ? spawn_posix(spec, argv, envp, in[0], out[1], err[1], inputs.fds, pid)
                                          : spawn_joining(spec, argv, envp, in[0], out[1], err[1], inputs.fds, pid);
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
  p.stdout_socket_ = spec.stdout_socket;
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
    stdout_socket_ = other.stdout_socket_;
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
      ssize_t got;
      out.writer = 0;
      if (streams[i] == 1 && stdout_socket_) {
        // One writer's bytes per read: the kernel never joins data of different senders
        // when credentials are passed, and says whose they are.
        iovec iov{chunk, sizeof chunk};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        got = ::recvmsg(fds[i].fd, &msg, MSG_CMSG_CLOEXEC);
        for (auto* c = CMSG_FIRSTHDR(&msg); got > 0 && c; c = CMSG_NXTHDR(&msg, c))
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            ucred cred;
            std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
            out.writer = cred.pid;
          }
      } else {
        got = read(fds[i].fd, chunk, sizeof chunk);
      }
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
