// bm25.h: Lucene's BM25Similarity (Lucene 8+: no (k1 + 1) factor in the numerator) and SmallFloat, the
// one-byte document-length encoding Lucene stores as the norm, so scores can match Lucene's to the float.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

namespace crossgate {
namespace bm25 {

// Lucene's SmallFloat.intToByte4 / byte4ToInt: lengths 0..23 exactly, larger ones with 4 significant bits
// (at most 1/8 relative error). The same decode table is used for the norm cache.
uint8_t int_to_byte4(uint32_t i);
uint32_t byte4_to_int(uint8_t b);

// Scoring parameters. k1 saturates term frequency, b sets how much document length normalises it.
struct Params {
  double k1 = 1.2;
  double b = 0.75;
  // Title term frequency and length count this many times in the combined field (BM25F's field weight).
  // 1 makes title + text one field, exactly as Lucene scores a single field holding both.
  double title_weight = 1.0;
  // true: lengths go through SmallFloat as in Lucene (scores equal Lucene's); false: exact lengths.
  bool lucene_norms = true;
};

// Checks ranges, naming the field; returns an empty string when fine, else the message.
std::string check_params(const Params& p);

// idf = ln(1 + (N - df + 0.5) / (df + 0.5)), in float as Lucene computes it.
inline float idf(uint64_t doc_count, uint64_t df) {
  return static_cast<float>(std::log(1.0 + (static_cast<double>(doc_count) - static_cast<double>(df) + 0.5) /
                                               (static_cast<double>(df) + 0.5)));
}

// 1 / (k1 * (1 - b + b * dl / avgdl)): the per-document factor Lucene caches per norm byte.
inline float norm_inverse(const Params& p, double dl, double avgdl) {
  return static_cast<float>(1.0 / (p.k1 * ((1.0 - p.b) + p.b * dl / avgdl)));
}

// One term's contribution: weight * tf / (tf + k1 * (1 - b + b * dl / avgdl)), written as Lucene's
// BM25Scorer.score does (weight - weight / (1 + tf * normInverse)) so the float rounding is the same.
// weight = query boost * idf.
inline float term_score(float weight, float tf, float norm_inv) { return weight - weight / (1.0f + tf * norm_inv); }

}  // namespace bm25
}  // namespace crossgate
