// bm25.cpp: SmallFloat's byte4 length encoding (org.apache.lucene.util.SmallFloat) and parameter checks.
// Reference: Lucene 9 BM25Similarity; Robertson & Zaragoza, "The Probabilistic Relevance Framework" (2009).
#include "bm25.h"

namespace crossgate {
namespace bm25 {

namespace {

int long_to_int4(uint64_t i) {
  int bits = 0;
  for (uint64_t v = i; v; v >>= 1) ++bits;
  if (bits < 4) return static_cast<int>(i);  // subnormal
  const int shift = bits - 4;
  int encoded = static_cast<int>(i >> shift) & 0x07;  // the top bit is implicit
  encoded |= (shift + 1) << 3;
  return encoded;
}

uint64_t int4_to_long(int i) {
  const uint64_t bits = static_cast<uint64_t>(i & 0x07);
  const int shift = (i >> 3) - 1;
  return shift == -1 ? bits : (bits | 0x08) << shift;
}

const int kMaxInt4 = long_to_int4(0x7fffffffu);
const int kNumFreeValues = 255 - kMaxInt4;  // 24

}  // namespace

uint8_t int_to_byte4(uint32_t i) {
  if (i > 0x7fffffffu) i = 0x7fffffffu;
  if (static_cast<int64_t>(i) < kNumFreeValues) return static_cast<uint8_t>(i);
  return static_cast<uint8_t>(kNumFreeValues + long_to_int4(i - static_cast<uint32_t>(kNumFreeValues)));
}

uint32_t byte4_to_int(uint8_t b) {
  if (b < kNumFreeValues) return b;
  return static_cast<uint32_t>(kNumFreeValues + int4_to_long(b - kNumFreeValues));
}

std::string check_params(const Params& p) {
  if (!(p.k1 >= 0) || !std::isfinite(p.k1)) return "k1 is " + std::to_string(p.k1) + "; k1 must be a finite number >= 0 (Lucene default 1.2)";
  if (!(p.b >= 0 && p.b <= 1)) return "b is " + std::to_string(p.b) + "; b must be between 0 and 1 (Lucene default 0.75)";
  if (!(p.title_weight > 0) || !std::isfinite(p.title_weight) || p.title_weight > 1000) {
    return "titleWeight is " + std::to_string(p.title_weight) + "; it must be a number above 0 and at most 1000 (default 1)";
  }
  return "";
}

}  // namespace bm25
}  // namespace crossgate
