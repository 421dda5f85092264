// index.h: FlatIndex, an exact inner-product vector index (f32, f16 or int8 rows) with atomic save/load.
// Searches take a shared lock and may run on many threads while add/remove take an exclusive one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace crossgate {

enum class Storage : uint32_t { F32 = 0, F16 = 1, Int8 = 2 };
const char* storage_name(Storage s);
// Parses "f32" | "f16" | "int8"; false for anything else.
bool parse_storage(const std::string& name, Storage* out);

// Every failure the index reports. Kind lets the binding choose TypeError / RangeError / Error.
class IndexError : public std::runtime_error {
 public:
  enum class Kind { Type, Range, Io, Corrupt };
  IndexError(Kind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Limits, each with its reason:
// dim above 65,536 is no embedding model we know of, and bounds one row's size in a file header.
constexpr uint32_t kMaxDim = 65536;
// Ids travel through JS numbers, which are exact only up to 2^53 - 1.
constexpr uint64_t kMaxId = (uint64_t{1} << 53) - 1;

struct SearchHit {
  uint64_t id;
  float score;
};

// Results of a batch search, flattened: query q's hits are [q * k, (q + 1) * k), best first.
// k here is min(requested k, count at search time), the same for every query of one call.
struct BatchHits {
  size_t nq = 0;
  size_t k = 0;
  std::vector<uint64_t> ids;
  std::vector<float> scores;
};

class FlatIndex {
 public:
  FlatIndex(uint32_t dim, Storage storage);
  FlatIndex(const FlatIndex&) = delete;
  FlatIndex& operator=(const FlatIndex&) = delete;

  uint32_t dim() const { return dim_; }
  Storage storage() const { return storage_; }
  size_t count() const;
  bool has(uint64_t id) const;
  // Bytes held by the vectors, ids and scales (not the id map).
  size_t vector_bytes() const;

  // Adds n rows (row-major, n * dim floats). All-or-nothing: on any error nothing is added.
  // Rejects NaN/Inf (naming vectors[row][col]), values outside the f16 range for f16 storage,
  // ids above kMaxId, ids repeated within the call, and ids already stored.
  void add(const uint64_t* ids, const float* vectors, size_t n);
  // Removes the given ids; unknown ids are skipped. Returns how many rows were removed.
  // The last row moves into each hole, so storage stays dense.
  size_t remove(const uint64_t* ids, size_t n);

  // Exact top-k by inner product, best first; ties go to the lower id. k is capped at count().
  std::vector<SearchHit> search(const float* query, size_t k) const;
  // The same for nq queries (row-major), sharing each pass over the stored rows between queries.
  BatchHits search_batch(const float* queries, size_t nq, size_t k) const;

  // Writes path.tmp-<pid>-<rand>, fsyncs it, renames it over path and fsyncs the directory,
  // so a crash leaves either the old file or the new one. Test hook: CROSSGATE_FAULT_SAVE_AFTER_BYTES=N
  // makes the write fail after N bytes.
  void save(const std::string& path) const;
  // Loads a file written by save(). Any defect (short, bad magic, version, checksum, absurd sizes,
  // invalid contents) throws IndexError naming the file and the defect, before any large allocation.
  static std::unique_ptr<FlatIndex> load(const std::string& path);
  // Same parser over bytes in memory; `name` stands in for the path in messages.
  static std::unique_ptr<FlatIndex> load_from_memory(const void* data, size_t size, const std::string& name);

  class Source;  // a byte stream the loader reads (file or memory); defined in index.cpp

 private:
  static std::unique_ptr<FlatIndex> load_from(Source& src, const std::string& name);
  void check_query(const float* q, size_t nq) const;
  void scan(const float* queries, size_t nq, size_t k, std::vector<SearchHit>* out) const;
  void append_rows(const float* vectors, size_t n);
  void truncate_rows(size_t n);
  void move_row(size_t from, size_t to);

  const uint32_t dim_;
  const Storage storage_;
  mutable std::shared_mutex mu_;
  std::vector<uint64_t> ids_;                    // row -> id
  std::unordered_map<uint64_t, size_t> row_of_;  // id -> row
  std::vector<float> f32_;                       // storage F32: count * dim
  std::vector<uint16_t> f16_;                    // storage F16: count * dim binary16
  std::vector<int8_t> i8_;                       // storage Int8: count * dim
  std::vector<float> scales_;                    // storage Int8: one per row
};

}  // namespace crossgate
