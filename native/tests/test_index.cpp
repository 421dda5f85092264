// test_index.cpp: FlatIndex behaviour: exact top-k against brute force, batch == single, ties,
// remove, validation messages, save/load round trips, corrupt files, failed saves, concurrency.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "crc32c.h"
#include "index.h"
#include "kernels.h"

using namespace crossgate;

namespace {

std::vector<float> random_unit(std::mt19937& rng, size_t n, size_t dim) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n * dim);
  for (size_t r = 0; r < n; ++r) {
    double norm = 0;
    for (size_t c = 0; c < dim; ++c) {
      v[r * dim + c] = g(rng);
      norm += double(v[r * dim + c]) * v[r * dim + c];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t c = 0; c < dim; ++c) v[r * dim + c] *= inv;
  }
  return v;
}

std::vector<uint64_t> iota_ids(size_t n, uint64_t start = 0, uint64_t step = 1) {
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = start + i * step;
  return ids;
}

// Brute-force top-k in double precision over (id, vector) pairs.
std::vector<std::pair<double, uint64_t>> brute(const std::vector<uint64_t>& ids, const std::vector<float>& vecs,
                                               const float* q, size_t dim, size_t k) {
  std::vector<std::pair<double, uint64_t>> all;
  for (size_t r = 0; r < ids.size(); ++r) {
    double s = 0;
    for (size_t c = 0; c < dim; ++c) s += double(q[c]) * vecs[r * dim + c];
    all.push_back({s, ids[r]});
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  all.resize(std::min(k, all.size()));
  return all;
}

std::string expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const IndexError& e) {
    return e.what();
  }
  throw cgtest::Failure{"expected an IndexError, none was thrown"};
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
#define CHECK_MSG(msg, needle)                                                                      \
  do {                                                                                              \
    if (!contains(msg, needle)) throw cgtest::Failure{"message \"" + (msg) + "\" lacks \"" + (needle) + "\""}; \
  } while (0)

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/cg_index_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) {
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ::unlink((path + "/" + e->d_name).c_str());
      }
      closedir(d);
    }
    ::rmdir(path.c_str());
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) {
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
      }
      closedir(d);
    }
    return out;
  }
};

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

const Storage kAllStorages[] = {Storage::F32, Storage::F16, Storage::Int8};

}  // namespace

TEST(index_f32_topk_matches_brute_force) {
  std::mt19937 rng(1);
  for (size_t dim : {1u, 7u, 16u, 33u, 384u}) {
    const size_t n = 1500;
    auto vecs = random_unit(rng, n, dim);
    auto ids = iota_ids(n, 1000, 3);
    FlatIndex idx(static_cast<uint32_t>(dim), Storage::F32);
    idx.add(ids.data(), vecs.data(), n);
    CHECK_EQ(idx.count(), n);
    auto qs = random_unit(rng, 20, dim);
    for (size_t q = 0; q < 20; ++q) {
      auto hits = idx.search(&qs[q * dim], 10);
      auto ref = brute(ids, vecs, &qs[q * dim], dim, 10);
      CHECK_EQ(hits.size(), ref.size());
      for (size_t i = 0; i < hits.size(); ++i) {
        CHECK(std::fabs(hits[i].score - ref[i].first) < 1e-5);
        // Ids agree unless two reference scores are within float rounding of each other.
        if (hits[i].id != ref[i].second) {
          const double gap_prev = i > 0 ? std::fabs(ref[i].first - ref[i - 1].first) : 1;
          const double gap_next = i + 1 < ref.size() ? std::fabs(ref[i].first - ref[i + 1].first) : 1;
          CHECK(std::min(gap_prev, gap_next) < 1e-6);
        }
        if (i) CHECK(hits[i - 1].score >= hits[i].score);
      }
    }
  }
}

TEST(index_batch_equals_single_bitwise) {
  std::mt19937 rng(2);
  for (Storage st : kAllStorages) {
    const size_t dim = 96, n = 3000, nq = 70;  // 70 queries: one full chunk of 64 plus a tail
    auto vecs = random_unit(rng, n, dim);
    auto ids = iota_ids(n);
    FlatIndex idx(dim, st);
    idx.add(ids.data(), vecs.data(), n);
    auto qs = random_unit(rng, nq, dim);
    BatchHits b = idx.search_batch(qs.data(), nq, 7);
    CHECK_EQ(b.nq, nq);
    CHECK_EQ(b.k, 7u);
    for (size_t q = 0; q < nq; ++q) {
      auto single = idx.search(&qs[q * dim], 7);
      for (size_t i = 0; i < 7; ++i) {
        CHECK_EQ(single[i].id, b.ids[q * 7 + i]);
        CHECK(std::memcmp(&single[i].score, &b.scores[q * 7 + i], 4) == 0);
      }
    }
  }
}

TEST(index_ties_go_to_lower_id) {
  const uint32_t dim = 4;
  FlatIndex idx(dim, Storage::F32);
  std::vector<float> same = {1, 0, 0, 0};
  // Insert in descending id order so row order and id order disagree.
  for (uint64_t id : {50u, 40u, 30u, 20u, 10u}) idx.add(&id, same.data(), 1);
  uint64_t rm = 30;
  idx.remove(&rm, 1);  // swap-remove moves row 4 (id 10) into row 2
  auto hits = idx.search(same.data(), 3);
  CHECK_EQ(hits.size(), 3u);
  CHECK_EQ(hits[0].id, 10u);
  CHECK_EQ(hits[1].id, 20u);
  CHECK_EQ(hits[2].id, 40u);
}

TEST(index_f16_storage_has_no_subnormals) {
  FlatIndex idx(4, Storage::F16);
  // Halves below 2^-14 are subnormal; they round to 0 below 2^-15 and to 2^-14 from 2^-15 up.
  std::vector<float> v = {1e-7f, -2e-5f, 4e-5f, 0.5f};
  uint64_t id = 1;
  idx.add(&id, v.data(), 1);
  const float tiny = std::ldexp(1.0f, -14);
  std::vector<float> e0 = {1, 0, 0, 0}, e1 = {0, 1, 0, 0}, e2 = {0, 0, 1, 0};
  CHECK_EQ(idx.search(e0.data(), 1)[0].score, 0.0f);
  CHECK_EQ(idx.search(e1.data(), 1)[0].score, 0.0f);
  CHECK_EQ(idx.search(e2.data(), 1)[0].score, tiny);
}

TEST(index_k_above_count_and_empty) {
  FlatIndex idx(3, Storage::F32);
  std::vector<float> q = {1, 2, 3};
  CHECK_EQ(idx.search(q.data(), 5).size(), 0u);
  CHECK_EQ(idx.search_batch(q.data(), 1, 5).k, 0u);
  std::vector<float> v = {1, 0, 0, 0, 1, 0};
  std::vector<uint64_t> ids = {7, 8};
  idx.add(ids.data(), v.data(), 2);
  auto hits = idx.search(q.data(), 1000000000);
  CHECK_EQ(hits.size(), 2u);
  CHECK_EQ(hits[0].id, 8u);
  CHECK_EQ(hits[0].score, 2.0f);
  CHECK_MSG(expect_error([&] { idx.search(q.data(), 0); }), "k is 0");
}

TEST(index_remove_keeps_rows_dense_and_findable) {
  std::mt19937 rng(4);
  for (Storage st : kAllStorages) {
    const uint32_t dim = 24;
    const size_t n = 400;
    auto vecs = random_unit(rng, n, dim);
    auto ids = iota_ids(n, 5);
    FlatIndex idx(dim, st);
    idx.add(ids.data(), vecs.data(), n);
    std::vector<uint64_t> gone;
    for (size_t i = 0; i < n; i += 3) gone.push_back(ids[i]);
    gone.push_back(999999);  // unknown: skipped, not an error
    gone.push_back(ids[0]);  // repeated: already removed
    CHECK_EQ(idx.remove(gone.data(), gone.size()), (n + 2) / 3);
    CHECK_EQ(idx.count(), n - (n + 2) / 3);
    CHECK_EQ(idx.vector_bytes(), idx.count() * (8 + dim * (st == Storage::F32 ? 4 : st == Storage::F16 ? 2 : 1) +
                                                (st == Storage::Int8 ? 4 : 0)));
    for (size_t i = 0; i < n; ++i) {
      const bool removed = i % 3 == 0;
      CHECK_EQ(idx.has(ids[i]), !removed);
      // Every surviving row is still its own best match, wherever swap-remove moved it.
      if (!removed) {
        auto hits = idx.search(&vecs[i * dim], 1);
        CHECK_EQ(hits[0].id, ids[i]);
      }
    }
    auto all = idx.search(&vecs[0], n);
    CHECK_EQ(all.size(), idx.count());
    for (auto& h : all) CHECK((h.id - 5) % 3 != 0);  // no removed id comes back
  }
}

TEST(index_validation_messages) {
  FlatIndex idx(3, Storage::F32);
  std::vector<float> v = {1, 2, 3, 4, NAN, 6};
  std::vector<uint64_t> ids = {1, 2};
  CHECK_MSG(expect_error([&] { idx.add(ids.data(), v.data(), 2); }), "vectors[1][1] is NaN");
  v[4] = -INFINITY;
  CHECK_MSG(expect_error([&] { idx.add(ids.data(), v.data(), 2); }), "vectors[1][1] is -Infinity");
  v[4] = 5;
  ids = {4, 4};
  CHECK_MSG(expect_error([&] { idx.add(ids.data(), v.data(), 2); }), "ids[1] = 4 repeats ids[0]");
  ids = {1, uint64_t{1} << 53};
  CHECK_MSG(expect_error([&] { idx.add(ids.data(), v.data(), 2); }), "ids[1] is 9007199254740992");
  CHECK_EQ(idx.count(), 0u);
  ids = {1, 2};
  idx.add(ids.data(), v.data(), 2);
  ids = {3, 2};
  CHECK_MSG(expect_error([&] { idx.add(ids.data(), v.data(), 2); }), "ids[1] = 2 is already in the index");
  CHECK_EQ(idx.count(), 2u);  // all-or-nothing: id 3 was not added either
  CHECK(!idx.has(3));
  std::vector<float> q = {0, INFINITY, 0};
  CHECK_MSG(expect_error([&] { idx.search(q.data(), 1); }), "query[1] is Infinity");
  std::vector<float> qs = {0, 0, 0, 0, 0, NAN};
  CHECK_MSG(expect_error([&] { idx.search_batch(qs.data(), 2, 1); }), "queries[1][2] is NaN");
  FlatIndex h(2, Storage::F16);
  std::vector<float> big = {1, 70000};
  uint64_t id = 1;
  CHECK_MSG(expect_error([&] { h.add(&id, big.data(), 1); }), "vectors[0][1] is 70000, outside the f16 range");
  CHECK_MSG(expect_error([] { FlatIndex bad(0, Storage::F32); }), "dim is 0");
  CHECK_MSG(expect_error([] { FlatIndex bad(70000, Storage::F32); }), "between 1 and 65536");
}

TEST(index_save_load_round_trip_every_storage) {
  TempDir dir;
  std::mt19937 rng(6);
  for (Storage st : kAllStorages) {
    const uint32_t dim = 37;
    const size_t n = 321;
    auto vecs = random_unit(rng, n, dim);
    auto ids = iota_ids(n, 1ull << 40, 977);
    FlatIndex idx(dim, st);
    idx.add(ids.data(), vecs.data(), n);
    uint64_t rm[] = {ids[3], ids[100]};
    idx.remove(rm, 2);
    const std::string path = dir.path + "/idx_" + storage_name(st) + ".cgvi";
    idx.save(path);
    auto back = FlatIndex::load(path);
    CHECK_EQ(back->dim(), dim);
    CHECK(back->storage() == st);
    CHECK_EQ(back->count(), idx.count());
    CHECK(!back->has(ids[3]));
    auto qs = random_unit(rng, 5, dim);
    BatchHits a = idx.search_batch(qs.data(), 5, 12), b = back->search_batch(qs.data(), 5, 12);
    CHECK(a.ids == b.ids);
    CHECK(a.scores == b.scores);
    // Saving the loaded index reproduces the file byte for byte.
    back->save(path + ".again");
    CHECK(read_all(path) == read_all(path + ".again"));
  }
  FlatIndex empty(5, Storage::Int8);
  empty.save(dir.path + "/empty");
  CHECK_EQ(FlatIndex::load(dir.path + "/empty")->count(), 0u);
  for (auto& e : dir.entries()) CHECK(!contains(e, ".tmp-"));
}

TEST(index_load_rejects_corrupt_files_with_named_reasons) {
  TempDir dir;
  std::mt19937 rng(8);
  const uint32_t dim = 8;
  auto vecs = random_unit(rng, 10, dim);
  auto ids = iota_ids(10);
  FlatIndex idx(dim, Storage::F32);
  idx.add(ids.data(), vecs.data(), 10);
  const std::string good = dir.path + "/good";
  idx.save(good);
  const auto bytes = read_all(good);
  const std::string bad = dir.path + "/bad";
  auto load_msg = [&](const std::vector<unsigned char>& b) {
    write_all(bad, b);
    return expect_error([&] { FlatIndex::load(bad); });
  };

  std::string m = load_msg(std::vector<unsigned char>(bytes.begin(), bytes.begin() + 20));
  CHECK_MSG(m, "'" + bad + "'");
  CHECK_MSG(m, "shorter than the 40-byte header");
  CHECK_MSG(load_msg(std::vector<unsigned char>(bytes.begin(), bytes.end() - 1)), "truncated or has trailing bytes");
  auto longer = bytes;
  longer.push_back(0);
  CHECK_MSG(load_msg(longer), "truncated or has trailing bytes");
  auto b = bytes;
  b[0] = 'X';
  CHECK_MSG(load_msg(b), "bad magic");
  b = bytes;
  b[8] = 2;
  CHECK_MSG(load_msg(b), "format version 2 is not supported");
  b = bytes;
  b[24] ^= 1;  // count, without fixing the header CRC
  CHECK_MSG(load_msg(b), "header checksum mismatch");
  b = bytes;
  b[bytes.size() - 10] ^= 0x40;  // a vector byte
  CHECK_MSG(load_msg(b), "checksum mismatch (stored");
  CHECK_MSG(expect_error([&] { FlatIndex::load(dir.path + "/missing"); }), "cannot open crossgate index file");
  CHECK_MSG(expect_error([&] { FlatIndex::load(dir.path); }), "is not a regular file");
  // Every truncation of a valid file fails cleanly, from memory and from disk.
  for (size_t len = 0; len < bytes.size(); ++len) {
    expect_error([&] { FlatIndex::load_from_memory(bytes.data(), len, "mem"); });
  }
  // An absurd count with a valid header CRC is still refused before allocating.
  b = bytes;
  const uint64_t huge = uint64_t{1} << 39;
  std::memcpy(&b[24], &huge, 8);
  const uint32_t c = crc32c_update(0, b.data(), 32);  // forge the header CRC the way save() writes it
  std::memcpy(&b[32], &c, 4);
  CHECK_MSG(expect_error([&] { FlatIndex::load_from_memory(b.data(), b.size(), "forged"); }), "needs");
  // A payload that passes the checksum but holds a repeated id is still refused.
  FlatIndex two(2, Storage::F32);
  std::vector<float> v2 = {1, 2, 3, 4};
  std::vector<uint64_t> i2 = {5, 6};
  two.add(i2.data(), v2.data(), 2);
  two.save(good);
  b = read_all(good);
  std::memcpy(&b[48], &b[40], 8);  // row 1's id := row 0's id
  const uint32_t pc = crc32c_update(0, b.data() + 40, b.size() - 44);
  std::memcpy(&b[b.size() - 4], &pc, 4);
  CHECK_MSG(expect_error([&] { FlatIndex::load_from_memory(b.data(), b.size(), "dup"); }), "row 1: id 5 repeats row 0");
}

TEST(index_failed_save_leaves_old_file_loadable) {
  TempDir dir;
  const std::string path = dir.path + "/index.cgvi";
  FlatIndex a(4, Storage::F32);
  std::vector<float> v = {1, 2, 3, 4};
  uint64_t id = 1;
  a.add(&id, v.data(), 1);
  a.save(path);
  FlatIndex b(4, Storage::F32);
  std::vector<float> many(4 * 1000, 0.5f);
  auto ids = iota_ids(1000, 100);
  b.add(ids.data(), many.data(), 1000);
  ::setenv("CROSSGATE_FAULT_SAVE_AFTER_BYTES", "5000", 1);
  std::string m = expect_error([&] { b.save(path); });
  ::unsetenv("CROSSGATE_FAULT_SAVE_AFTER_BYTES");
  CHECK_MSG(m, "failed after 5000 bytes");
  auto back = FlatIndex::load(path);
  CHECK_EQ(back->count(), 1u);
  CHECK(back->has(1));
  CHECK_EQ(dir.entries().size(), 1u);  // the temp file was removed
  // A save into a folder that does not exist fails before touching anything.
  CHECK_MSG(expect_error([&] { b.save(dir.path + "/no/such/dir/x"); }), "cannot create");
  b.save(path);
  CHECK_EQ(FlatIndex::load(path)->count(), 1000u);
}

TEST(index_concurrent_searches_while_adding) {
  std::mt19937 rng(9);
  const uint32_t dim = 32;
  const size_t base = 2000, batches = 20, per = 100;
  auto vecs = random_unit(rng, base + batches * per, dim);
  auto ids = iota_ids(base + batches * per);
  FlatIndex idx(dim, Storage::F32);
  idx.add(ids.data(), vecs.data(), base);
  auto q = random_unit(rng, 1, dim);
  // The answer after each prefix of adds; every concurrent search must equal one of them.
  std::vector<std::vector<uint64_t>> states;
  for (size_t j = 0; j <= batches; ++j) {
    std::vector<uint64_t> pre(ids.begin(), ids.begin() + base + j * per);
    std::vector<float> pv(vecs.begin(), vecs.begin() + (base + j * per) * dim);
    FlatIndex ref(dim, Storage::F32);
    ref.add(pre.data(), pv.data(), pre.size());
    std::vector<uint64_t> top;
    for (auto& h : ref.search(q.data(), 10)) top.push_back(h.id);
    states.push_back(top);
  }
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        std::vector<uint64_t> got;
        for (auto& h : idx.search(q.data(), 10)) got.push_back(h.id);
        if (std::find(states.begin(), states.end(), got) == states.end()) bad.fetch_add(1);
        searches.fetch_add(1);
      }
    });
  }
  for (size_t j = 0; j < batches; ++j) {
    idx.add(&ids[base + j * per], &vecs[(base + j * per) * dim], per);
    std::this_thread::yield();
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK_EQ(bad.load(), 0);
  CHECK(searches.load() > 0);
  CHECK_EQ(idx.count(), base + batches * per);
}

TEST(index_recall_of_compressed_storage) {
  // recall@10 of f16 and int8 against exact f32 on random normalised 384-d vectors. Random data is
  // the hard case: its top scores are crowded, so small quantisation errors reorder them.
  std::mt19937 rng(10);
  const uint32_t dim = 384;
  const size_t n = 20000, nq = 50, k = 10;
  auto vecs = random_unit(rng, n, dim);
  auto ids = iota_ids(n);
  auto qs = random_unit(rng, nq, dim);
  FlatIndex f32(dim, Storage::F32), f16(dim, Storage::F16), i8(dim, Storage::Int8);
  f32.add(ids.data(), vecs.data(), n);
  f16.add(ids.data(), vecs.data(), n);
  i8.add(ids.data(), vecs.data(), n);
  BatchHits exact = f32.search_batch(qs.data(), nq, k);
  auto recall = [&](const FlatIndex& idx) {
    BatchHits got = idx.search_batch(qs.data(), nq, k);
    size_t hit = 0;
    for (size_t q = 0; q < nq; ++q) {
      std::set<uint64_t> truth(exact.ids.begin() + q * k, exact.ids.begin() + (q + 1) * k);
      for (size_t i = 0; i < k; ++i) hit += truth.count(got.ids[q * k + i]);
    }
    return double(hit) / double(nq * k);
  };
  const double r16 = recall(f16), r8 = recall(i8);
  std::cout << "  recall@10 vs f32 (20k x 384, 50 queries): f16 " << r16 << ", int8 " << r8 << "\n";
  CHECK(r16 >= 0.99);
  CHECK(r8 >= 0.95);
}
