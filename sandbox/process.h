// A child process with pipes: argv (never a shell string), its own process group so
// that kill() reaches every descendant, line-oriented stdout reading with a timeout,
// and a destructor that kills and reaps whatever is still running. The seed of the
// sandbox exec channel; the crash test drives `hearth` children with it.
#pragma once

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/error.h"

namespace hearth::sandbox {

struct ProcessSpec {
  std::vector<std::string> argv;           // argv[0] is the program (PATH is searched)
  std::vector<std::string> extra_env;      // KEY=VALUE added to the inherited environment
  std::filesystem::path cwd;               // empty: the current directory
  bool merge_stderr = false;               // stderr into the stdout pipe (else inherited)
  bool pipe_stderr = false;                // stderr through a pipe of its own (read_chunk)
  bool inherit_env = true;                 // false: the child gets extra_env only
  // stdout through a Unix socket instead of a pipe: every chunk read says which process
  // wrote it (Chunk::writer), so that a child that inherited the stdout of the program
  // (or anything else) cannot speak for it. read_chunk only.
  bool stdout_socket = false;
  // cgroup.procs files the child writes its pid into before it runs its program, so
  // that it and everything it starts count against those groups (sandbox/cgroup.h).
  std::vector<std::string> cgroup_procs;
  // Data the child reads from descriptors 3, 4, ...: each an anonymous in-memory file
  // (memfd) holding one of these strings. For what must not appear in argv or on disk
  // (bubblewrap's options with the environment's values, a seccomp program).
  std::vector<std::string> fd_inputs;
};

// Output as it arrives: which stream (1 stdout, 2 stderr) and the bytes; with
// stdout_socket, the host pid of the process that wrote a stdout chunk (never a mix).
struct Chunk {
  int stream = 1;
  std::string data;
  pid_t writer = 0;
};

class Process {
 public:
  static Result<Process> spawn(const ProcessSpec& spec);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  int pid() const { return pid_; }

  // Writes all of `data` to the child's stdin.
  Status write(std::string_view data);
  void close_stdin();

  // The next line of stdout without its newline; nullopt on timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  // The next output of either stream as it arrives (do not mix with read_line).
  enum class Read { data, timeout, eof };  // eof: both streams are closed
  Read read_chunk(std::chrono::milliseconds timeout, Chunk& out);

  // Sends `signal` to the child's whole process group.
  void kill(int signal = SIGKILL);

  // Waits for the child to exit: its exit code, or 128 + signal number when a signal
  // ended it. Error::timeout when it is still running after `timeout`.
  Result<int> wait(std::chrono::milliseconds timeout);

 private:
  Process() = default;
  void release();

  int pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  bool stdout_socket_ = false;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> exit_code_;
};

}  // namespace hearth::sandbox
