// test_index_tsan.cpp: concurrent readers (search, search_batch, count, has, save) while writers add and
// remove rows, on every storage of the vector index and on the keyword index. Runs in the normal core suite; `npm run test:tsan` runs the
// "concurrent" cases under ThreadSanitizer (-DCROSSGATE_SANITIZE=thread), which reports any data race.
// The invariants hold whatever the interleaving: a fixed "anchor" row that equals the query and is never
// removed is always the top hit, hits are sorted and unique, and every id is one that was added.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
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

void churn(Storage storage, const char* label) {
  const uint32_t dim = 16;
  const uint64_t kAnchor = 1'000'000;
  std::mt19937 rng(77);
  std::vector<float> anchor = unit_rows(rng, 1, dim);
  FlatIndex idx(dim, storage);
  idx.add(&kAnchor, anchor.data(), 1);
  const size_t pool = 400;
  std::vector<float> rows = unit_rows(rng, pool, dim);
  // Make every churn row clearly worse than the anchor for this query: mix in the opposite direction.
  for (size_t i = 0; i < pool; ++i)
    for (uint32_t d = 0; d < dim; ++d) rows[i * dim + d] = 0.5f * rows[i * dim + d] - 0.5f * anchor[d];

  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> threads;
  auto check_hits = [&](const std::vector<SearchHit>& hits) {
    if (hits.empty() || hits[0].id != kAnchor) return false;
    std::set<uint64_t> seen;
    for (size_t i = 0; i < hits.size(); ++i) {
      if (!seen.insert(hits[i].id).second) return false;
      if (hits[i].id != kAnchor && hits[i].id >= pool) return false;
      if (i > 0 && hits[i].score > hits[i - 1].score) return false;
    }
    return true;
  };
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!done.load()) {
        if (!check_hits(idx.search(anchor.data(), 5))) bad.fetch_add(1);
        std::vector<float> two(anchor);
        two.insert(two.end(), anchor.begin(), anchor.end());
        BatchHits b = idx.search_batch(two.data(), 2, 3);
        if (b.nq != 2 || b.ids.empty() || b.ids[0] != kAnchor || b.ids[b.k] != kAnchor) bad.fetch_add(1);
        if (idx.count() < 1 || !idx.has(kAnchor) || idx.vector_bytes() == 0) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {  // a saver: save reads under the shared lock while writers wait
    const std::string path = "/tmp/cg_tsan_" + std::to_string(::getpid()) + "_" + label + ".cgvi";
    for (int i = 0; i < 5 && !done.load(); ++i) {
      idx.save(path);
      if (!FlatIndex::load(path)->has(kAnchor)) bad.fetch_add(1);
    }
    std::remove(path.c_str());
  });
  // Writers: two threads add and remove disjoint halves of the pool, over and over.
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      const size_t lo = w * pool / 2, hi = (w + 1) * pool / 2;
      for (int round = 0; round < 6; ++round) {
        for (size_t i = lo; i < hi; i += 20) {
          std::vector<uint64_t> ids;
          for (size_t j = i; j < std::min(hi, i + 20); ++j) ids.push_back(j);
          idx.add(ids.data(), &rows[i * dim], ids.size());
        }
        for (size_t i = lo; i < hi; i += 20) {
          std::vector<uint64_t> ids;
          for (size_t j = i; j < std::min(hi, i + 20); ++j) ids.push_back(j);
          if (idx.remove(ids.data(), ids.size()) != ids.size()) bad.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : threads) t.join();
  CHECK_EQ(bad.load(), 0);
  CHECK(reads.load() > 0);
  CHECK_EQ(idx.count(), 1u);
}

}  // namespace

// The keyword index under the same churn: the anchor document alone holds the rare query term "quokka"
// (and "zebra" twice), churn documents hold "zebra" once in a longer text, so whatever N, df and the
// average length are at the moment of a search, the anchor scores highest.
void keyword_churn() {
  const uint64_t kAnchor = 1'000'000;
  KeywordIndex idx(analysis::AnalyzerOptions{}, bm25::Params{});
  const KeywordDocument anchor{kAnchor, "quokka zebra", "the zebra met a quokka"};
  idx.add(&anchor, 1);
  const size_t pool = 400;
  std::vector<std::string> texts(pool);
  for (size_t i = 0; i < pool; ++i)
    texts[i] = "zebra crossing number " + std::to_string(i) + " near the river bank and the old mill road";
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  auto check_hits = [&](const std::vector<SearchHit>& hits) {
    if (hits.empty() || hits[0].id != kAnchor) return false;
    std::set<uint64_t> seen;
    for (size_t i = 0; i < hits.size(); ++i) {
      if (!seen.insert(hits[i].id).second) return false;
      if (hits[i].id != kAnchor && hits[i].id >= pool) return false;
      if (i > 0 && hits[i].score > hits[i - 1].score) return false;
    }
    return true;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!done.load()) {
        if (!check_hits(idx.search("zebra quokka", 5))) bad.fetch_add(1);
        const KeywordStats s = idx.stats();
        if (idx.count() < 1 || !idx.has(kAnchor) || s.docs < 1 || s.docs > pool + 1) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {  // a saver, as for the vector index
    const std::string path = "/tmp/cg_tsan_" + std::to_string(::getpid()) + "_kw.cgki";
    for (int i = 0; i < 5 && !done.load(); ++i) {
      idx.save(path);
      if (!KeywordIndex::load(path)->has(kAnchor)) bad.fetch_add(1);
    }
    std::remove(path.c_str());
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      const size_t lo = w * pool / 2, hi = (w + 1) * pool / 2;
      for (int round = 0; round < 4; ++round) {
        for (size_t i = lo; i < hi; i += 20) {
          std::vector<KeywordDocument> docs;
          for (size_t j = i; j < std::min(hi, i + 20); ++j) docs.push_back({j, "", texts[j]});
          idx.add(docs.data(), docs.size());
        }
        for (size_t i = lo; i < hi; i += 20) {
          std::vector<uint64_t> ids;
          for (size_t j = i; j < std::min(hi, i + 20); ++j) ids.push_back(j);
          if (idx.remove(ids.data(), ids.size()) != ids.size()) bad.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : threads) t.join();
  CHECK_EQ(bad.load(), 0);
  CHECK(reads.load() > 0);
  CHECK_EQ(idx.count(), 1u);
}

TEST(index_concurrent_churn_f32) { churn(Storage::F32, "f32"); }
TEST(index_concurrent_churn_f16) { churn(Storage::F16, "f16"); }
TEST(index_concurrent_churn_int8) { churn(Storage::Int8, "int8"); }
TEST(keyword_concurrent_churn) { keyword_churn(); }
