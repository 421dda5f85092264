// fuzz_index.cpp: feeds arbitrary bytes to the index loader (from memory, sometimes via a temp file).
// Any outcome but a clean IndexError or a usable index is a bug; ASan/UBSan catch the rest.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crc32c.h"
#include "index.h"

using crossgate::FlatIndex;
using crossgate::IndexError;

namespace {

void exercise(FlatIndex& idx) {
  // A loaded index must be fully usable: search, remove, search again.
  std::vector<float> q(idx.dim(), 0.5f);
  auto hits = idx.search(q.data(), 3);
  if (hits.size() > idx.count()) std::abort();
  if (!hits.empty()) {
    const uint64_t id = hits[0].id;
    if (idx.remove(&id, 1) != 1) std::abort();
    idx.search_batch(q.data(), 1, 2);
  }
}

void try_load(const std::vector<uint8_t>& bytes, bool via_file) {
  try {
    std::unique_ptr<FlatIndex> idx;
    if (via_file) {
      char path[] = "/tmp/cg_fuzz_index_XXXXXX";
      const int fd = mkstemp(path);
      if (fd < 0) return;
      if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        close(fd);
        unlink(path);
        return;
      }
      close(fd);
      try {
        idx = FlatIndex::load(path);
      } catch (...) {
        unlink(path);
        throw;
      }
      unlink(path);
    } else {
      idx = FlatIndex::load_from_memory(bytes.data(), bytes.size(), "fuzz-input");
    }
    exercise(*idx);
  } catch (const IndexError& e) {
    if (std::strstr(e.what(), "crossgate index file") == nullptr) {
      std::fprintf(stderr, "error does not name the file: %s\n", e.what());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  try_load(bytes, size > 0 && data[0] % 64 == 1);
  // Random bytes almost never pass the magic and checksums, so also try them as the body of a
  // file with a valid magic/version and recomputed checksums: that reaches the size and content checks.
  if (size >= 24) {
    const uint32_t storage = data[0] % 4;  // 3 is invalid on purpose
    const uint32_t dim = data[4] % 70;     // mostly plausible, sometimes 0
    const size_t body = size - 24;
    const uint64_t elem = storage == 0 ? 4 : storage == 1 ? 2 : 1;
    const uint64_t per_row = 8 + (storage == 2 ? 4 : 0) + elem * (dim ? dim : 1);
    uint64_t count;
    std::memcpy(&count, data + 8, 8);           // anything at all...
    if (data[16] & 1) count = body / per_row;   // ...or a count that fits the body
    std::vector<uint8_t> f(40 + body + 4, 0);
    std::memcpy(f.data(), "CGVECIDX", 8);
    const uint32_t version = 1;
    std::memcpy(f.data() + 8, &version, 4);
    std::memcpy(f.data() + 12, &storage, 4);
    std::memcpy(f.data() + 16, &dim, 4);
    std::memcpy(f.data() + 24, &count, 8);
    const uint32_t hcrc = crossgate::crc32c_update(0, f.data(), 32);
    std::memcpy(f.data() + 32, &hcrc, 4);
    std::memcpy(f.data() + 40, data + 24, body);
    if ((data[16] & 2) && count <= body / 8) {  // keep ids below 2^53 so the content checks run
      for (uint64_t r = 0; r < count; ++r) f[40 + r * 8 + 6] = f[40 + r * 8 + 7] = 0;
    }
    const uint32_t pcrc = crossgate::crc32c_update(0, f.data() + 40, body);
    std::memcpy(f.data() + f.size() - 4, &pcrc, 4);
    try_load(f, false);
  }
  return 0;
}
