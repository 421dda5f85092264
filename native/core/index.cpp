// index.cpp: FlatIndex storage, blocked top-k scan, swap-remove, and the checksummed file format.
// File: 40-byte header (magic, version, storage, dim, count, header CRC) + ids [+ scales] + rows + CRC32C.
#include "index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include "crc32c.h"
#include "atomic_file.h"
#include "kernels.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file format is written with the host byte order, which must be little-endian"
#endif

namespace crossgate {

namespace {

constexpr char kMagic[8] = {'C', 'G', 'V', 'E', 'C', 'I', 'D', 'X'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 40;
constexpr size_t kHeaderCrcOffset = 32;
// Far above any index that fits in memory; rejects absurd counts before any size arithmetic.
constexpr uint64_t kMaxRows = uint64_t{1} << 40;
// Rows per scan block: about 256 KiB of row data, so a block stays in L2 while every query of a
// batch chunk reads it. Queries per chunk: 64 keeps the chunk's queries (<= 96 KiB at 384-d) cached.
constexpr size_t kBlockBytes = 256 * 1024;
constexpr size_t kQueryChunk = 64;
constexpr size_t kIoChunk = size_t{4} << 20;

size_t elem_bytes(Storage s) {
  switch (s) {
    case Storage::F32: return 4;
    case Storage::F16: return 2;
    case Storage::Int8: return 1;
  }
  return 4;
}

std::string fmt_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

[[noreturn]] void corrupt(const std::string& name, const std::string& what) {
  throw IndexError(IndexError::Kind::Corrupt, "crossgate index file '" + name + "': " + what);
}

[[noreturn]] void io_error(const std::string& what, int err) {
  throw IndexError(IndexError::Kind::Io, what + ": " + std::strerror(err));
}

void put32(unsigned char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(unsigned char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool better(const SearchHit& a, const SearchHit& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); }
struct Better {
  bool operator()(const SearchHit& a, const SearchHit& b) const { return better(a, b); }
};

// Bounded selection: a heap of the k best so far with the worst on top. Scores below the worst
// are rejected by one compare, so the common case in a long scan is a predictable branch.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  void offer_block(const float* scores, const uint64_t* ids, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (scores[i] < thr_) continue;
      offer(scores[i], ids[i]);
    }
  }

  void finish(std::vector<SearchHit>* out) {
    std::sort_heap(heap_.begin(), heap_.end(), Better());
    *out = std::move(heap_);
  }

 private:
  void offer(float s, uint64_t id) {
    // Finite inputs can still overflow to NaN (inf - inf); rank such a score last, deterministically.
    if (s != s) s = -std::numeric_limits<float>::infinity();
    const SearchHit h{id, s};
    if (heap_.size() < k_) {
      heap_.push_back(h);
      std::push_heap(heap_.begin(), heap_.end(), Better());
      if (heap_.size() == k_) thr_ = heap_.front().score;
      return;
    }
    if (!better(h, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), Better());
    heap_.back() = h;
    std::push_heap(heap_.begin(), heap_.end(), Better());
    thr_ = heap_.front().score;
  }

  size_t k_;
  float thr_ = -std::numeric_limits<float>::infinity();
  std::vector<SearchHit> heap_;
};

}  // namespace

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::F32: return "f32";
    case Storage::F16: return "f16";
    case Storage::Int8: return "int8";
  }
  return "unknown";
}

bool parse_storage(const std::string& name, Storage* out) {
  for (Storage s : {Storage::F32, Storage::F16, Storage::Int8}) {
    if (name == storage_name(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

FlatIndex::FlatIndex(uint32_t dim, Storage storage) : dim_(dim), storage_(storage) {
  if (dim == 0 || dim > kMaxDim) {
    throw IndexError(IndexError::Kind::Range, "dim is " + std::to_string(dim) + "; it must be between 1 and " +
                                                  std::to_string(kMaxDim));
  }
  if (storage != Storage::F32 && storage != Storage::F16 && storage != Storage::Int8) {
    throw IndexError(IndexError::Kind::Range, "storage code " + std::to_string(static_cast<uint32_t>(storage)) +
                                                  " is unknown; use f32, f16 or int8");
  }
  active_kernels();  // surfaces a bad CROSSGATE_SIMD now rather than at the first search
}

size_t FlatIndex::count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return ids_.size();
}

bool FlatIndex::has(uint64_t id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return row_of_.count(id) != 0;
}

size_t FlatIndex::vector_bytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return ids_.size() * (8 + size_t{dim_} * elem_bytes(storage_) + (storage_ == Storage::Int8 ? 4 : 0));
}

void FlatIndex::append_rows(const float* v, size_t n) {
  const size_t d = dim_;
  switch (storage_) {
    case Storage::F32:
      f32_.insert(f32_.end(), v, v + n * d);
      break;
    case Storage::F16:
      f16_.reserve(f16_.size() + n * d);
      for (size_t i = 0; i < n * d; ++i) {
        // Subnormal halves are rounded to 0 or to the smallest normal, 2^-14: x86 F16C conversions
        // of subnormals take a microcode assist that made the f16 scan ~1.5x slower on unit vectors.
        uint16_t h = f32_to_f16(v[i]);
        if ((h & 0x7c00u) == 0 && (h & 0x3ffu) != 0) h = static_cast<uint16_t>((h & 0x8000u) | ((h & 0x3ffu) >= 0x200u ? 0x400u : 0u));
        f16_.push_back(h);
      }
      break;
    case Storage::Int8:
      i8_.reserve(i8_.size() + n * d);
      scales_.reserve(scales_.size() + n);
      for (size_t r = 0; r < n; ++r) {
        const float* row = v + r * d;
        double maxabs = 0;
        for (size_t c = 0; c < d; ++c) maxabs = std::max(maxabs, static_cast<double>(std::fabs(row[c])));
        // Symmetric per-row scale; double keeps 127/maxabs finite even for subnormal rows.
        const double inv = maxabs > 0 ? 127.0 / maxabs : 0.0;
        for (size_t c = 0; c < d; ++c) {
          long q = std::lrint(static_cast<double>(row[c]) * inv);
          q = std::min(127L, std::max(-127L, q));
          i8_.push_back(static_cast<int8_t>(q));
        }
        scales_.push_back(static_cast<float>(maxabs / 127.0));
      }
      break;
  }
}

void FlatIndex::truncate_rows(size_t n) {
  const size_t d = dim_;
  ids_.resize(n);
  if (f32_.size() > n * d) f32_.resize(n * d);
  if (f16_.size() > n * d) f16_.resize(n * d);
  if (i8_.size() > n * d) i8_.resize(n * d);
  if (scales_.size() > n) scales_.resize(n);
}

void FlatIndex::move_row(size_t from, size_t to) {
  const size_t d = dim_;
  switch (storage_) {
    case Storage::F32: std::memcpy(&f32_[to * d], &f32_[from * d], d * sizeof(float)); break;
    case Storage::F16: std::memcpy(&f16_[to * d], &f16_[from * d], d * sizeof(uint16_t)); break;
    case Storage::Int8:
      std::memcpy(&i8_[to * d], &i8_[from * d], d);
      scales_[to] = scales_[from];
      break;
  }
  ids_[to] = ids_[from];
  row_of_[ids_[to]] = to;
}

void FlatIndex::add(const uint64_t* ids, const float* vectors, size_t n) {
  if (n == 0) return;
  const size_t d = dim_;
  // Validate everything before taking the lock, so a bad call never blocks searches.
  for (size_t r = 0; r < n; ++r) {
    const float* row = vectors + r * d;
    for (size_t c = 0; c < d; ++c) {
      const float x = row[c];
      if (!std::isfinite(x)) {
        throw IndexError(IndexError::Kind::Range, "vectors[" + std::to_string(r) + "][" + std::to_string(c) + "] is " +
                                                      fmt_float(x) + "; every value must be finite");
      }
      if (storage_ == Storage::F16 && std::fabs(x) > 65504.0f) {
        throw IndexError(IndexError::Kind::Range,
                         "vectors[" + std::to_string(r) + "][" + std::to_string(c) + "] is " + fmt_float(x) +
                             ", outside the f16 range (|x| <= 65504); normalise the vectors or use storage 'f32'");
      }
    }
  }
  std::vector<std::pair<uint64_t, size_t>> sorted(n);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] > kMaxId) {
      throw IndexError(IndexError::Kind::Range, "ids[" + std::to_string(i) + "] is " + std::to_string(ids[i]) +
                                                    "; ids must be integers from 0 to 2^53 - 1");
    }
    sorted[i] = {ids[i], i};
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < n; ++i) {
    if (sorted[i].first == sorted[i - 1].first) {
      throw IndexError(IndexError::Kind::Range, "ids[" + std::to_string(sorted[i].second) + "] = " +
                                                    std::to_string(sorted[i].first) + " repeats ids[" +
                                                    std::to_string(sorted[i - 1].second) + "]; ids must be unique");
    }
  }

  std::unique_lock<std::shared_mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    if (row_of_.count(ids[i])) {
      throw IndexError(IndexError::Kind::Range, "ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                                    " is already in the index; remove it first or use a new id");
    }
  }
  const size_t old = ids_.size();
  if (old + n > kMaxRows) {
    throw IndexError(IndexError::Kind::Range, "adding " + std::to_string(n) + " rows would exceed the limit of " +
                                                  std::to_string(kMaxRows) + " rows");
  }
  try {
    row_of_.reserve(old + n);
    ids_.insert(ids_.end(), ids, ids + n);
    append_rows(vectors, n);
    for (size_t i = 0; i < n; ++i) row_of_.emplace(ids[i], old + i);
  } catch (...) {
    // All-or-nothing: none of these ids was stored before, so erasing them is exact.
    for (size_t i = 0; i < n; ++i) row_of_.erase(ids[i]);
    truncate_rows(old);
    throw;
  }
}

size_t FlatIndex::remove(const uint64_t* ids, size_t n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  size_t removed = 0;
  for (size_t i = 0; i < n; ++i) {
    auto it = row_of_.find(ids[i]);
    if (it == row_of_.end()) continue;
    const size_t row = it->second;
    row_of_.erase(it);
    const size_t last = ids_.size() - 1;
    if (row != last) move_row(last, row);
    truncate_rows(last);
    ++removed;
  }
  // Give memory back once the index has shrunk to well under its capacity.
  const size_t cnt = ids_.size();
  if (removed && ids_.capacity() > 1024 && cnt < ids_.capacity() / 4) {
    ids_.shrink_to_fit();
    f32_.shrink_to_fit();
    f16_.shrink_to_fit();
    i8_.shrink_to_fit();
    scales_.shrink_to_fit();
  }
  return removed;
}

void FlatIndex::check_query(const float* q, size_t nq) const {
  const size_t d = dim_;
  for (size_t i = 0; i < nq; ++i) {
    for (size_t c = 0; c < d; ++c) {
      const float x = q[i * d + c];
      if (std::isfinite(x)) continue;
      const std::string where = nq == 1 ? "query[" + std::to_string(c) + "]"
                                        : "queries[" + std::to_string(i) + "][" + std::to_string(c) + "]";
      throw IndexError(IndexError::Kind::Range, where + " is " + fmt_float(x) + "; every value must be finite");
    }
  }
}

void FlatIndex::scan(const float* queries, size_t nq, size_t k, std::vector<SearchHit>* out) const {
  if (k == 0) throw IndexError(IndexError::Kind::Range, "k is 0; k must be a positive integer");
  const KernelSet& ks = active_kernels();
  const size_t d = dim_;
  const size_t n = ids_.size();
  const size_t kk = std::min(k, n);
  for (size_t q = 0; q < nq; ++q) out[q].clear();
  if (kk == 0 || nq == 0) return;

  const size_t row_bytes = d * elem_bytes(storage_);
  size_t block = std::max<size_t>(16, std::min<size_t>(1024, kBlockBytes / row_bytes));
  block &= ~size_t{3};
  std::vector<float> scores(std::min(nq, kQueryChunk) * block);
  std::vector<TopK> tops;
  for (size_t q0 = 0; q0 < nq; q0 += kQueryChunk) {
    const size_t qn = std::min(kQueryChunk, nq - q0);
    const float* qs = queries + q0 * d;
    tops.clear();
    for (size_t i = 0; i < qn; ++i) tops.emplace_back(kk);
    for (size_t r0 = 0; r0 < n; r0 += block) {
      const size_t rn = std::min(block, n - r0);
      switch (storage_) {
        case Storage::F32: ks.dot_f32(qs, qn, f32_.data() + r0 * d, rn, d, scores.data()); break;
        case Storage::F16: ks.dot_f16(qs, qn, f16_.data() + r0 * d, rn, d, scores.data()); break;
        case Storage::Int8: ks.dot_i8(qs, qn, i8_.data() + r0 * d, scales_.data() + r0, rn, d, scores.data()); break;
      }
      for (size_t i = 0; i < qn; ++i) tops[i].offer_block(scores.data() + i * rn, ids_.data() + r0, rn);
    }
    for (size_t i = 0; i < qn; ++i) tops[i].finish(&out[q0 + i]);
  }
}

std::vector<SearchHit> FlatIndex::search(const float* query, size_t k) const {
  check_query(query, 1);
  std::vector<SearchHit> out;
  std::shared_lock<std::shared_mutex> lock(mu_);
  scan(query, 1, k, &out);
  return out;
}

BatchHits FlatIndex::search_batch(const float* queries, size_t nq, size_t k) const {
  check_query(queries, nq);
  std::vector<std::vector<SearchHit>> per(nq);
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    scan(queries, nq, k, per.data());
  }
  BatchHits b;
  b.nq = nq;
  b.k = nq ? per[0].size() : 0;
  b.ids.reserve(nq * b.k);
  b.scores.reserve(nq * b.k);
  for (auto& hits : per) {
    for (auto& h : hits) {
      b.ids.push_back(h.id);
      b.scores.push_back(h.score);
    }
  }
  return b;
}

// ---- save ------------------------------------------------------------------------------------

void FlatIndex::save(const std::string& path) const {
  atomic_file::save(path, "index", [this](atomic_file::Sink& sink) {
    // The CRC covers everything after the header, up to the CRC itself.
    uint32_t crc = 0;
    auto put = [&](const void* data, size_t n) {
      crc = crc32c_update(crc, data, n);
      sink.write(data, n);
    };
    std::shared_lock<std::shared_mutex> lock(mu_);
    const uint64_t cnt = ids_.size();
    unsigned char hdr[kHeaderBytes] = {};
    std::memcpy(hdr, kMagic, 8);
    put32(hdr + 8, kFormatVersion);
    put32(hdr + 12, static_cast<uint32_t>(storage_));
    put32(hdr + 16, dim_);
    put32(hdr + 20, 0);
    put64(hdr + 24, cnt);
    put32(hdr + kHeaderCrcOffset, crc32c_update(0, hdr, kHeaderCrcOffset));
    sink.write(hdr, kHeaderBytes);
    put(ids_.data(), ids_.size() * sizeof(uint64_t));
    switch (storage_) {
      case Storage::F32: put(f32_.data(), f32_.size() * sizeof(float)); break;
      case Storage::F16: put(f16_.data(), f16_.size() * sizeof(uint16_t)); break;
      case Storage::Int8:
        put(scales_.data(), scales_.size() * sizeof(float));
        put(i8_.data(), i8_.size());
        break;
    }
    unsigned char tail[4];
    put32(tail, crc);
    sink.write(tail, 4);
  });
}

// ---- load ------------------------------------------------------------------------------------

class FlatIndex::Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes or throws.
  virtual void read(void* dst, size_t n) = 0;
};

namespace {

class MemorySource : public FlatIndex::Source {
 public:
  MemorySource(const void* data, size_t size, std::string name)
      : p_(static_cast<const unsigned char*>(data)), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  void read(void* dst, size_t n) override {
    if (n > size_ - pos_) {
      corrupt(name_, "short read: wanted " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                         " but only " + std::to_string(size_ - pos_) + " remain");
    }
    if (n) std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
  }

 private:
  const unsigned char* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
};

class FileSource : public FlatIndex::Source {
 public:
  explicit FileSource(const std::string& path) : name_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) io_error("cannot open crossgate index file '" + path + "'", errno);
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      io_error("cannot stat crossgate index file '" + path + "'", err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw IndexError(IndexError::Kind::Io, "crossgate index file '" + path + "' is not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(void* dst, size_t n) override {
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t r = ::read(fd_, p, std::min(n, kIoChunk));
      if (r < 0) {
        if (errno == EINTR) continue;
        io_error("reading crossgate index file '" + name_ + "' at offset " + std::to_string(pos_) + " failed", errno);
      }
      if (r == 0) {
        corrupt(name_, "short read: the file ended at offset " + std::to_string(pos_) + " with " + std::to_string(n) +
                           " more bytes expected (was it truncated while loading?)");
      }
      p += r;
      n -= static_cast<size_t>(r);
      pos_ += static_cast<uint64_t>(r);
    }
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  std::string name_;
};

void read_crc(FlatIndex::Source& src, void* dst, size_t n, uint32_t* crc) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = std::min(n, kIoChunk);
    src.read(p, chunk);
    *crc = crc32c_update(*crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
}

}  // namespace

std::unique_ptr<FlatIndex> FlatIndex::load_from(Source& src, const std::string& name) {
  const uint64_t total = src.size();
  if (total < kHeaderBytes) {
    corrupt(name, "the file is " + std::to_string(total) + " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                      "-byte header; it is truncated or not a crossgate index");
  }
  unsigned char hdr[kHeaderBytes];
  src.read(hdr, kHeaderBytes);
  if (std::memcmp(hdr, kMagic, 8) != 0) corrupt(name, "bad magic; this is not a crossgate vector index file");
  const uint32_t version = get32(hdr + 8);
  if (version != kFormatVersion) {
    corrupt(name, "format version " + std::to_string(version) + " is not supported; this build reads version " +
                      std::to_string(kFormatVersion));
  }
  const uint32_t stored_hcrc = get32(hdr + kHeaderCrcOffset);
  const uint32_t hcrc = crc32c_update(0, hdr, kHeaderCrcOffset);
  if (stored_hcrc != hcrc) {
    corrupt(name, "header checksum mismatch (stored " + hex32(stored_hcrc) + ", computed " + hex32(hcrc) +
                      "); the file is corrupt");
  }
  const uint32_t code = get32(hdr + 12);
  const uint32_t dim = get32(hdr + 16);
  const uint64_t count = get64(hdr + 24);
  if (code > static_cast<uint32_t>(Storage::Int8)) corrupt(name, "unknown storage code " + std::to_string(code));
  const Storage storage = static_cast<Storage>(code);
  if (dim == 0 || dim > kMaxDim) {
    corrupt(name, "dim " + std::to_string(dim) + " is outside 1.." + std::to_string(kMaxDim));
  }
  if (count > kMaxRows) corrupt(name, "row count " + std::to_string(count) + " is absurd (limit 2^40)");
  // Bounded above: 2^40 rows * (8 + 4 + 65536 * 4) bytes < 2^59, so this cannot overflow.
  const uint64_t per_row = 8 + (storage == Storage::Int8 ? 4 : 0) + uint64_t{dim} * elem_bytes(storage);
  const uint64_t expected = kHeaderBytes + count * per_row + 4;
  if (total != expected) {
    corrupt(name, "the file is " + std::to_string(total) + " bytes but its header (" + std::to_string(count) +
                      " rows, dim " + std::to_string(dim) + ", " + storage_name(storage) + ") needs " +
                      std::to_string(expected) + "; it is truncated or has trailing bytes");
  }
  if (expected > std::numeric_limits<size_t>::max() / 2) corrupt(name, "the file is too large for this process");

  // Every allocation below is bounded by the file's real size, checked above.
  auto idx = std::make_unique<FlatIndex>(dim, storage);
  const size_t n = static_cast<size_t>(count);
  const size_t cells = n * dim;
  uint32_t crc = 0;
  idx->ids_.resize(n);
  read_crc(src, idx->ids_.data(), n * sizeof(uint64_t), &crc);
  switch (storage) {
    case Storage::F32:
      idx->f32_.resize(cells);
      read_crc(src, idx->f32_.data(), cells * sizeof(float), &crc);
      break;
    case Storage::F16:
      idx->f16_.resize(cells);
      read_crc(src, idx->f16_.data(), cells * sizeof(uint16_t), &crc);
      break;
    case Storage::Int8:
      idx->scales_.resize(n);
      read_crc(src, idx->scales_.data(), n * sizeof(float), &crc);
      idx->i8_.resize(cells);
      read_crc(src, idx->i8_.data(), cells, &crc);
      break;
  }
  unsigned char tail[4];
  src.read(tail, 4);
  const uint32_t stored = get32(tail);
  if (stored != crc) {
    corrupt(name, "checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(crc) +
                      "); the file is corrupt");
  }

  // A matching checksum proves the bytes are what was written, not that a writer was correct.
  auto row_msg = [](size_t r) { return "row " + std::to_string(r) + ": "; };
  idx->row_of_.reserve(n);
  for (size_t r = 0; r < n; ++r) {
    const uint64_t id = idx->ids_[r];
    if (id > kMaxId) corrupt(name, row_msg(r) + "id " + std::to_string(id) + " is above 2^53 - 1");
    auto ins = idx->row_of_.emplace(id, r);
    if (!ins.second) {
      corrupt(name, row_msg(r) + "id " + std::to_string(id) + " repeats row " + std::to_string(ins.first->second));
    }
  }
  for (size_t i = 0; i < idx->f32_.size(); ++i) {
    if (!std::isfinite(idx->f32_[i])) corrupt(name, row_msg(i / dim) + "value " + std::to_string(i % dim) + " is not finite");
  }
  for (size_t i = 0; i < idx->f16_.size(); ++i) {
    if ((idx->f16_[i] & 0x7c00u) == 0x7c00u) corrupt(name, row_msg(i / dim) + "value " + std::to_string(i % dim) + " is not finite");
  }
  for (size_t r = 0; r < idx->scales_.size(); ++r) {
    const float s = idx->scales_[r];
    if (!std::isfinite(s) || s < 0) corrupt(name, row_msg(r) + "int8 scale " + fmt_float(s) + " is not a finite non-negative number");
  }
  for (size_t i = 0; i < idx->i8_.size(); ++i) {
    if (idx->i8_[i] == -128) corrupt(name, row_msg(i / dim) + "int8 value -128 is outside the symmetric range -127..127");
  }
  return idx;
}

std::unique_ptr<FlatIndex> FlatIndex::load(const std::string& path) {
  FileSource src(path);
  return load_from(src, path);
}

std::unique_ptr<FlatIndex> FlatIndex::load_from_memory(const void* data, size_t size, const std::string& name) {
  MemorySource src(data, size, name);
  return load_from(src, name);
}

}  // namespace crossgate
