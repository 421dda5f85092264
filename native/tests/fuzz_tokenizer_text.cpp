// fuzz_tokenizer_text.cpp: fuzz harness for the text path of the core tokenizer: the normalizer (clean-up,
// lowercase, accent stripping, CJK spacing, the per-byte alignment map behind offsets), the BERT
// pre-tokenizer, added tokens and WordPiece. Byte 0 picks one of four normalizer settings and where the
// rest splits into a pair; the texts go through every encode path (single and pair, five limits, both
// truncation strategies and sides, with and without offsets), and the stages one by one: normalize, then
// pre-tokenize (never an empty word), then WordPiece on each word. The loader has its own harness (fuzz_tokenizer_json).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_tokenizer_common.h"

using namespace crossgate;
using namespace fuzzcommon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const WordPieceTokenizer& t = variant(data[0]);
  const std::size_t cut = rest.empty() ? 0 : (data[0] >> 2) % (rest.size() + 1);
  encode_all(t, rest.substr(0, cut), rest.substr(cut));
  const std::string once = t.normalize(rest);
  for (const std::string& word : t.pre_tokenize(once)) {
    if (word.empty()) std::abort();  // the pre-tokenizer never yields an empty word
    t.tokenize_word(word);
  }
  return 0;
}
