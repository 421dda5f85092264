// keyword_index.h: KeywordIndex, a BM25 inverted index (title + text) over the keyword analyzer, with
// incremental add/remove by id, exact top-k search, and an atomic, versioned, checksummed file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analyzer.h"
#include "bm25.h"
#include "index.h"  // SearchHit, IndexError, kMaxId

namespace crossgate {

// Limits, each with its reason:
// Document numbers are 32-bit inside the index (postings stay small); 4 billion documents is past any one machine.
constexpr uint64_t kMaxKeywordDocs = 0xFFFFFFF0u;
// A query analysed into more terms than this is a document, not a query; it also bounds one search's work.
constexpr size_t kMaxQueryTerms = 10000;

struct KeywordDocument {
  uint64_t id;
  std::string_view title;  // may be empty
  std::string_view text;   // may be empty
};

struct KeywordStats {
  uint64_t docs = 0;
  uint64_t terms = 0;
  uint64_t postings = 0;        // (term, document) pairs
  uint64_t postings_bytes = 0;  // delta + varint encoded
  uint64_t memory_bytes = 0;    // estimate: postings, dictionary, per-document arrays, id map
  double avg_length = 0;        // average combined field length over documents with a term (tokens after stop words)
};

class KeywordIndex {
 public:
  KeywordIndex(analysis::AnalyzerOptions analyzer, bm25::Params params);
  KeywordIndex(const KeywordIndex&) = delete;
  KeywordIndex& operator=(const KeywordIndex&) = delete;

  const analysis::Analyzer& analyzer() const { return analyzer_; }
  const bm25::Params& params() const { return params_; }
  size_t count() const;
  bool has(uint64_t id) const;
  KeywordStats stats() const;

  // Analyses and adds n documents. All-or-nothing: ids above kMaxId, repeated in the call or already
  // stored fail before anything changes.
  void add(const KeywordDocument* docs, size_t n);
  // Removes the given ids (unknown ones are skipped); returns how many were removed. Statistics (N, df,
  // average length) are exact afterwards: the postings are rewritten without the removed documents, so one
  // call costs a pass over the postings; remove in batches.
  size_t remove(const uint64_t* ids, size_t n);

  // Exact top-k by BM25 (Lucene's formula, query terms OR-ed, a repeated query term counted again),
  // best first, ties to the earlier-added document. Only documents matching at least one term are returned.
  std::vector<SearchHit> search(std::string_view query, size_t k) const;

  // Same as save()/load() of FlatIndex: temp file, fsync, rename, directory fsync; CROSSGATE_FAULT_SAVE_AFTER_BYTES.
  void save(const std::string& path) const;
  static std::unique_ptr<KeywordIndex> load(const std::string& path);
  static std::unique_ptr<KeywordIndex> load_from_memory(const void* data, size_t size, const std::string& name);
  // The file bytes save() would write.
  std::string serialize() const;

 private:
  struct Term {
    std::string text;
    std::vector<uint8_t> postings;  // per doc: varint(doc gap), varint(tf_text << 1 | has_title) [, varint(tf_title)]
    uint32_t df = 0;
    uint32_t next_doc = 0;  // last doc + 1: the base of the next gap
  };
  void compact();  // drops dead documents from every posting list and renumbers the rest

  analysis::Analyzer analyzer_;
  bm25::Params params_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t> term_of_;
  std::vector<Term> terms_;
  std::vector<uint64_t> ids_;        // doc -> id
  std::vector<uint32_t> len_title_;  // doc -> title tokens
  std::vector<uint32_t> len_text_;   // doc -> text tokens
  std::vector<uint8_t> norm_;        // doc -> SmallFloat of the combined length
  std::vector<uint8_t> dead_;        // doc -> 1 while a remove() is compacting
  std::unordered_map<uint64_t, uint32_t> doc_of_;
  uint64_t sum_title_ = 0, sum_text_ = 0;
  // Documents with at least one term: Lucene's docCount for the field (N in idf, the divisor of avgdl).
  uint64_t nonempty_ = 0;
  uint64_t postings_ = 0;
};

}  // namespace crossgate
