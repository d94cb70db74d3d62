// A work dir's files as an agent names them: see workdir_fs.h.
#include "sandbox/workdir_fs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hearth::sandbox {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

// openat2 beneath `dir`: no "..", absolute or symlink step may leave it.
int open_beneath(int dir, const std::string& path, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EINTR) return static_cast<int>(fd);
  }
}

// This thread's filesystem uid and gid as the sandbox's user, for one call.
class AsUser {
 public:
  explicit AsUser(SandboxUser user) : set_(user.set()) {
    if (!set_) return;
    old_gid_ = ::setfsgid(user.gid);
    old_uid_ = ::setfsuid(user.uid);
  }
  ~AsUser() {
    if (!set_) return;
    ::setfsuid(old_uid_);
    ::setfsgid(old_gid_);
  }
  AsUser(const AsUser&) = delete;
  AsUser& operator=(const AsUser&) = delete;

 private:
  bool set_;
  int old_uid_ = 0, old_gid_ = 0;
};

Error failure(const std::string& agent_path, int err) {
  if (err == ENOENT) return Error{ErrorCode::not_found, fmt::format("{}: no such file", agent_path)};
  if (err == EXDEV || err == ELOOP)
    return Error{ErrorCode::forbidden, fmt::format("{}: leads outside the work dir", agent_path)};
  if (err == EISDIR || err == ENOTDIR || err == ENXIO)
    return Error{ErrorCode::invalid, fmt::format("{}: not a regular file", agent_path)};
  if (err == EACCES || err == EPERM) return Error{ErrorCode::forbidden, fmt::format("{}: permission denied", agent_path)};
  return Error{ErrorCode::unavailable, fmt::format("{}: {}", agent_path, std::strerror(err))};
}

}  // namespace

WorkdirFs::WorkdirFs(std::filesystem::path host_root, std::string agent_root, SandboxUser user)
    : host_root_(std::move(host_root)), agent_root_(std::move(agent_root)), user_(user) {
  while (agent_root_.size() > 1 && agent_root_.back() == '/') agent_root_.pop_back();
}

Result<std::string> WorkdirFs::relative(const std::string& agent_path) const {
  if (agent_path.find('\0') != std::string::npos) return Error{ErrorCode::invalid, "the path holds a NUL byte"};
  std::filesystem::path p(agent_path);
  if (!p.is_absolute()) return Error{ErrorCode::invalid, fmt::format("{}: the path must be absolute", agent_path)};
  auto rel = p.lexically_normal().lexically_relative(agent_root_);
  if (rel.empty() || *rel.begin() == ".." || rel == ".")
    return Error{ErrorCode::forbidden, fmt::format("{}: outside the work dir {}", agent_path, agent_root_)};
  return rel.string();
}

Result<std::string> WorkdirFs::read(const std::string& agent_path, std::optional<std::int64_t> line,
                                    std::optional<std::int64_t> limit) const {
  auto rel = relative(agent_path);
  if (!rel) return rel.error();
  // The work dir as the server (the way to it is the server's), what is in it as the sandbox's user.
  Fd root(::open(host_root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failure(agent_path, errno);
  AsUser as(user_);
  // O_NONBLOCK: opening a FIFO returns at once (and is refused below) instead of
  // waiting for a writer forever; it changes nothing for a regular file.
  Fd file(open_beneath(root.get(), *rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!file) return failure(agent_path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return failure(agent_path, EISDIR);
  if (static_cast<std::size_t>(st.st_size) > kMaxReadBytes)
    return Error{ErrorCode::invalid, fmt::format("{}: larger than {} bytes", agent_path, kMaxReadBytes)};
  std::string text;
  char buf[65536];
  for (;;) {
    auto n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(agent_path, errno);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxReadBytes)
      return Error{ErrorCode::invalid, fmt::format("{}: larger than {} bytes", agent_path, kMaxReadBytes)};
  }
  if (!line && !limit) return text;
  // Lines [line, line + limit), 1-based.
  std::int64_t first = std::max<std::int64_t>(line.value_or(1), 1);
  std::int64_t count = limit ? std::max<std::int64_t>(*limit, 0) : INT64_MAX;
  std::string out;
  std::int64_t n = 1;
  std::size_t start = 0;
  while (start < text.size() && count > 0) {
    auto end = text.find('\n', start);
    auto next = end == std::string::npos ? text.size() : end + 1;
    if (n >= first) {
      out.append(text, start, next - start);
      --count;
    }
    ++n;
    start = next;
  }
  return out;
}

Status WorkdirFs::write(const std::string& agent_path, const std::string& content) const {
  auto rel = relative(agent_path);
  if (!rel) return rel.error();
  Fd root(::open(host_root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failure(agent_path, errno);
  AsUser as(user_);
  if (auto st = make_dirs(root.get(), std::filesystem::path(*rel).parent_path(), 0755, agent_path); !st) return st;
  // Not truncated before it is known to be a regular file; a FIFO without a reader is
  // refused by the kernel at once (ENXIO), one with a reader by the check below.
  Fd file(open_beneath(root.get(), *rel, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY, 0644));
  if (!file) return failure(agent_path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return failure(agent_path, EISDIR);
  if (::ftruncate(file.get(), 0) != 0) return failure(agent_path, errno);
  std::string_view rest(content);
  while (!rest.empty()) {
    auto n = ::write(file.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(agent_path, errno);
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status WorkdirFs::make_dir(const std::string& agent_path) const {
  auto rel = relative(agent_path);
  if (!rel) return rel.error();
  Fd root(::open(host_root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failure(agent_path, errno);
  AsUser as(user_);
  return make_dirs(root.get(), *rel, 0700, agent_path);
}

Status WorkdirFs::make_dirs(int root, const std::filesystem::path& rel, mode_t mode, const std::string& agent_path) const {
  // One step at a time, each resolved beneath the root: a symlink the sandbox planted
  // on the way is refused, never followed.
  std::filesystem::path prefix;
  for (const auto& part : rel) {
    prefix /= part;
    Fd dir(open_beneath(root, prefix.string(), O_PATH | O_DIRECTORY));
    if (dir) continue;
    if (errno != ENOENT) return failure(agent_path, errno);
    Fd up(prefix.has_parent_path() ? open_beneath(root, prefix.parent_path().string(), O_PATH | O_DIRECTORY)
                                   : ::dup(root));
    if (!up) return failure(agent_path, errno);
    if (::mkdirat(up.get(), part.c_str(), mode) != 0 && errno != EEXIST) return failure(agent_path, errno);
  }
  return {};
}

}  // namespace hearth::sandbox
