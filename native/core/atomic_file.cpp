// atomic_file.cpp: see atomic_file.h.
#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "index.h"  // IndexError

namespace crossgate::atomic_file {

namespace {

constexpr size_t kIoChunk = size_t{4} << 20;

[[noreturn]] void io_error(const std::string& what, int err) {
  throw IndexError(IndexError::Kind::Io, what + ": " + std::strerror(err));
}

}  // namespace

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  x ^= (counter.fetch_add(1) + 1) * 0x9E3779B97F4A7C15ull;
  x ^= reinterpret_cast<uintptr_t>(&x);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  char buf[64];
  std::snprintf(buf, sizeof buf, ".tmp-%ld-%08x", static_cast<long>(::getpid()), static_cast<uint32_t>(x));
  return path + buf;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Sink::Sink(int fd, std::string tmp, std::string target, const char* what)
    : fd_(fd), tmp_(std::move(tmp)), target_(std::move(target)), what_(what) {
  if (const char* f = std::getenv("CROSSGATE_FAULT_SAVE_AFTER_BYTES")) {
    if (*f) fault_after_ = std::strtoull(f, nullptr, 10);
    pause_at_fault_ = std::strstr(f, ":pause") != nullptr;
  }
}

void Sink::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    size_t chunk = std::min(n, kIoChunk);
    if (written_ + chunk > fault_after_) {
      chunk = fault_after_ > written_ ? static_cast<size_t>(fault_after_ - written_) : 0;
      if (chunk == 0 && pause_at_fault_) {
        std::fprintf(stderr, "crossgate-fault: %s save paused after %llu bytes in %s\n", what_,
                     static_cast<unsigned long long>(written_), tmp_.c_str());
        std::fflush(stderr);
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      }
      if (chunk == 0) {
        throw IndexError(IndexError::Kind::Io, std::string("cannot save ") + what_ + " to '" + target_ + "': writing '" + tmp_ +
                                                   "' failed after " + std::to_string(written_) +
                                                   " bytes (injected by CROSSGATE_FAULT_SAVE_AFTER_BYTES)");
      }
    }
    const ssize_t w = ::write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_error(std::string("cannot save ") + what_ + " to '" + target_ + "': writing '" + tmp_ + "' failed", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

void save(const std::string& path, const char* what, const std::function<void(Sink&)>& fill) {
  if (path.empty()) throw IndexError(IndexError::Kind::Type, std::string("path is empty; pass the file to save the ") + what + " to");
  const std::string cannot = std::string("cannot save ") + what + " to '" + path + "': ";
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    tmp = temp_name(path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) io_error(cannot + "cannot create '" + tmp + "'", errno);
  }
  if (fd < 0) io_error(cannot + "cannot create a unique temp file", EEXIST);
  try {
    Sink sink(fd, tmp, path, what);
    fill(sink);
    if (::fsync(fd) != 0) io_error(cannot + "fsync of '" + tmp + "' failed", errno);
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0) io_error(cannot + "closing '" + tmp + "' failed", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) io_error(cannot + "renaming '" + tmp + "' over it failed", errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable. Some filesystems refuse fsync on a directory (EINVAL); the data is
  // already safe there, so only real I/O errors are reported.
  const std::string dir = dir_of(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL && err != EROFS) {
      io_error(std::string("saved ") + what + " to '" + path + "' but fsync of directory '" + dir + "' failed", err);
    }
  }
}

}  // namespace crossgate::atomic_file
