// test_index_tsan.cpp: concurrent readers (search, search_batch, count, has, stats, save) while writers add
// and remove rows, on every storage of the vector index and on the keyword index. Runs in the normal core
// suite; `npm run test:tsan` runs the "concurrent" cases under ThreadSanitizer (-DCROSSGATE_SANITIZE=thread),
// which reports any data race. The invariants hold whatever the interleaving: a fixed "anchor" row that
// matches the query best and is never removed is always the top hit, hits are sorted and unique, and every
// id is one that was added.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "index.h"
#include "keyword_index.h"

using namespace crossgate;

namespace {

constexpr uint64_t kAnchor = 1'000'000;
constexpr size_t kPool = 400;  // churn ids are 0..kPool-1
constexpr size_t kBatch = 20;

// Top hit is the anchor; ids unique and known; scores never rise down the list.
bool hits_ok(const std::vector<SearchHit>& hits) {
  if (hits.empty() || hits[0].id != kAnchor) return false;
  std::set<uint64_t> seen;
  for (size_t i = 0; i < hits.size(); ++i) {
    if (!seen.insert(hits[i].id).second) return false;
    if (hits[i].id != kAnchor && hits[i].id >= kPool) return false;
    if (i > 0 && hits[i].score > hits[i - 1].score) return false;
  }
  return true;
}

// What one index kind plugs into the churn: a reader pass and a save + reload (each false on a broken
// invariant), and adding / removing one batch of churn ids.
struct ChurnOps {
  std::function<bool()> read;
  std::function<bool()> save_and_reload;
  std::function<void(const std::vector<uint64_t>&)> add;
  std::function<size_t(const std::vector<uint64_t>&)> remove;
};

// Two readers loop until the writers finish; a saver saves and reloads up to 5 times; two writers add and
// remove disjoint halves of the pool in batches, `rounds` times. No invariant may break; readers must run.
void churn(const ChurnOps& ops, int rounds) {
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!done.load()) {
        if (!ops.read()) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {  // save reads under the shared lock while writers wait
    for (int i = 0; i < 5 && !done.load(); ++i)
      if (!ops.save_and_reload()) bad.fetch_add(1);
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      const size_t lo = w * kPool / 2, hi = (w + 1) * kPool / 2;
      auto batch = [hi](size_t i) {
        std::vector<uint64_t> ids;
        for (size_t j = i; j < std::min(hi, i + kBatch); ++j) ids.push_back(j);
        return ids;
      };
      for (int round = 0; round < rounds; ++round) {
        for (size_t i = lo; i < hi; i += kBatch) ops.add(batch(i));
        for (size_t i = lo; i < hi; i += kBatch) {
          const std::vector<uint64_t> ids = batch(i);
          if (ops.remove(ids) != ids.size()) bad.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : threads) t.join();
  CHECK_EQ(bad.load(), 0);
  CHECK(reads.load() > 0);
}

std::string temp_path(const char* label) { return "/tmp/cg_tsan_" + std::to_string(::getpid()) + "_" + label; }

std::vector<float> unit_rows(std::mt19937& rng, size_t n, uint32_t dim) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (uint32_t d = 0; d < dim; ++d) s += (v[i * dim + d] = g(rng)) * v[i * dim + d];
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (uint32_t d = 0; d < dim; ++d) v[i * dim + d] *= inv;
  }
  return v;
}

void vector_churn(Storage storage, const char* label) {
  const uint32_t dim = 16;
  std::mt19937 rng(77);
  std::vector<float> anchor = unit_rows(rng, 1, dim);
  FlatIndex idx(dim, storage);
  idx.add(&kAnchor, anchor.data(), 1);
  std::vector<float> rows = unit_rows(rng, kPool, dim);
  // Make every churn row clearly worse than the anchor for this query: mix in the opposite direction.
  for (size_t i = 0; i < kPool; ++i)
    for (uint32_t d = 0; d < dim; ++d) rows[i * dim + d] = 0.5f * rows[i * dim + d] - 0.5f * anchor[d];
  std::vector<float> two(anchor);
  two.insert(two.end(), anchor.begin(), anchor.end());
  const std::string path = temp_path(label) + ".cgvi";
  churn({[&] {
           if (!hits_ok(idx.search(anchor.data(), 5))) return false;
           BatchHits b = idx.search_batch(two.data(), 2, 3);
           if (b.nq != 2 || b.ids.empty() || b.ids[0] != kAnchor || b.ids[b.k] != kAnchor) return false;
           return idx.count() >= 1 && idx.has(kAnchor) && idx.vector_bytes() > 0;
         },
         [&] {
           idx.save(path);
           return FlatIndex::load(path)->has(kAnchor);
         },
         [&](const std::vector<uint64_t>& ids) { idx.add(ids.data(), &rows[ids[0] * dim], ids.size()); },
         [&](const std::vector<uint64_t>& ids) { return idx.remove(ids.data(), ids.size()); }},
        6);
  std::remove(path.c_str());
  CHECK_EQ(idx.count(), 1u);
}

// The anchor document alone holds the rare query term "quokka" (and "zebra" twice); churn documents hold
// "zebra" once in a longer text, so whatever N, df and the average length are at the moment of a search,
// the anchor scores highest.
void keyword_churn() {
  KeywordIndex idx(analysis::AnalyzerOptions{}, bm25::Params{});
  const KeywordDocument anchor{kAnchor, "quokka zebra", "the zebra met a quokka"};
  idx.add(&anchor, 1);
  std::vector<std::string> texts(kPool);
  for (size_t i = 0; i < kPool; ++i)
    texts[i] = "zebra crossing number " + std::to_string(i) + " near the river bank and the old mill road";
  const std::string path = temp_path("kw") + ".cgki";
  churn({[&] {
           if (!hits_ok(idx.search("zebra quokka", 5))) return false;
           const KeywordStats s = idx.stats();
           return idx.count() >= 1 && idx.has(kAnchor) && s.docs >= 1 && s.docs <= kPool + 1;
         },
         [&] {
           idx.save(path);
           return KeywordIndex::load(path)->has(kAnchor);
         },
         [&](const std::vector<uint64_t>& ids) {
           std::vector<KeywordDocument> docs;
           for (uint64_t id : ids) docs.push_back({id, "", texts[id]});
           idx.add(docs.data(), docs.size());
         },
         [&](const std::vector<uint64_t>& ids) { return idx.remove(ids.data(), ids.size()); }},
        4);
  std::remove(path.c_str());
  CHECK_EQ(idx.count(), 1u);
}

}  // namespace

TEST(index_concurrent_churn_f32) { vector_churn(Storage::F32, "f32"); }
TEST(index_concurrent_churn_f16) { vector_churn(Storage::F16, "f16"); }
TEST(index_concurrent_churn_int8) { vector_churn(Storage::Int8, "int8"); }
TEST(keyword_concurrent_churn) { keyword_churn(); }
