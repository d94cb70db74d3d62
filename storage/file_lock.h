// An exclusive advisory lock on a file (flock), held for the object's lifetime. The
// server holds `<data-dir>/hearth.lock` while it runs; offline admin commands take the
// same lock, so that they never write a data dir a live server is using.
#pragma once

#include <filesystem>

#include "storage/error.h"

namespace hearth::storage {

class FileLock {
 public:
  // Fails with unavailable (naming the file) when another process holds it.
  static Result<FileLock> acquire(const std::filesystem::path& path);
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace hearth::storage
