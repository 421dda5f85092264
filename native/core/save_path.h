// Paths for the atomic file saves of both indexes: the unique temporary beside the target and its folder.
// The temporary's name (<path>.tmp-<pid>-<hex>) is what src/index/atomic-dir.ts recognises and cleans up.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace crossgate::save_path {

/** `<path>.tmp-<pid>-<hex>`: unique per process and call, so concurrent saves never share a temporary. */
inline std::string temp_name(const std::string& path) {
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

/** The folder holding `path` (fsynced after the rename so the new entry is durable). */
inline std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace crossgate::save_path
