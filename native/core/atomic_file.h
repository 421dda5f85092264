// atomic_file.h: the one atomic file save both indexes use. A unique temporary beside the target
// (<path>.tmp-<pid>-<hex>, the name src/index/atomic-dir.ts recognises and cleans up once its process is
// gone) is written, fsynced and renamed over the target, and then the folder is fsynced, so a crash at any
// point leaves either the old file or the new one. A failed save removes its temporary.
//
// Fault injection for tests: CROSSGATE_FAULT_SAVE_AFTER_BYTES=<n> makes the write fail after n bytes;
// "<n>:pause" writes n bytes, says "crossgate-fault: <what> save paused after <n> bytes in <tmp>" on
// stderr and blocks, so a test can kill the process mid-write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace crossgate::atomic_file {

/** `<path>.tmp-<pid>-<hex>`: unique per process and call, so concurrent saves never share a temporary. */
std::string temp_name(const std::string& path);

/** The folder holding `path` (fsynced after the rename so the new entry is durable). */
std::string dir_of(const std::string& path);

/** Where a save's bytes go: the temporary's descriptor, in chunks, with the fault-injection hook. */
class Sink {
 public:
  Sink(int fd, std::string tmp, std::string target, const char* what);
  void write(const void* data, size_t n);
  uint64_t written() const { return written_; }

 private:
  int fd_;
  std::string tmp_, target_;
  const char* what_;
  uint64_t written_ = 0;
  uint64_t fault_after_ = std::numeric_limits<uint64_t>::max();
  bool pause_at_fault_ = false;
};

/**
 * Saves `path` atomically with the bytes `fill` writes to the sink. `what` names the file in errors
 * ("index", "keyword index"): "cannot save <what> to '<path>': ...". Errors are IndexError (Io, or Type
 * for an empty path); whatever `fill` throws propagates after the temporary is removed.
 */
void save(const std::string& path, const char* what, const std::function<void(Sink&)>& fill);

}  // namespace crossgate::atomic_file
