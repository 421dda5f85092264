// fuzz_tokenizer_common.h: what the two tokenizer harnesses share: a small valid tokenizer.json (kJson), its
// variants over the normalizer's settings, and encode_all, which encodes one input every way (single and
// pair, five limits, both strategies and sides, with and without offsets) and aborts on a broken invariant.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer.h"

using namespace crossgate;

namespace fuzzcommon {

inline const char* kJson = R"({"version":"1.0","truncation":null,"padding":null,
 "added_tokens":[{"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":1,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":2,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":3,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":4,"content":"[MASK]","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true},
  {"id":12,"content":"ab c","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false}],
 "normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
 "pre_tokenizer":{"type":"BertPreTokenizer"},
 "post_processor":{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]},
 "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":20,
  "vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"[MASK]":4,"a":5,"##a":6,"b":7,"##b":8,"ab":9,"##ab":10,"中":11,"é":13,"##é":14}}})";


inline void encode_all(const WordPieceTokenizer& t, std::string_view a, std::string_view b) {
  RaggedBatch out;
  for (std::size_t max : {std::size_t(3), std::size_t(4), std::size_t(7), std::size_t(64), static_cast<std::size_t>(-1)}) {
    for (auto strategy : {TruncationStrategy::LongestFirst, TruncationStrategy::OnlySecond}) {
      for (auto side : {TruncationSide::Right, TruncationSide::Left}) {
        EncodeOptions o{max, strategy, side};
        const std::string_view* seconds[2] = {nullptr, &b};
        for (const std::string_view* second : seconds) {
          try {
            t.encode_batch(&a, second, 1, o, out);
          } catch (const TokenizerEncodeError&) {
            continue;  // a refusal the reference also makes (only_second cannot fit, or max below specials)
          }
          const std::size_t n = out.ids.size();
          if (out.offsets.size() != 2 || out.type_ids.size() != n || static_cast<std::size_t>(out.offsets[1]) != n)
            std::abort();
          if (n > max) std::abort();  // truncation must honour max_length, specials included
          // The offsets path: same ids, and every span is -1/-1 or a non-empty range inside its text.
          const std::vector<std::int32_t> ids = out.ids;
          o.offsets = true;
          t.encode_batch(&a, second, 1, o, out);
          o.offsets = false;
          if (out.ids != ids || out.starts.size() != n || out.stops.size() != n) std::abort();
          const std::size_t bound = std::max(a.size(), second ? b.size() : std::size_t(0));
          for (std::size_t k = 0; k < n; ++k) {
            const std::int32_t s = out.starts[k], e = out.stops[k];
            if (s == -1 && e == -1) continue;
            if (s < 0 || e <= s || static_cast<std::size_t>(e) > bound) std::abort();
          }
        }
      }
    }
  }
}

// The normalizer settings a real BERT tokenizer.json can carry: uncased (the default above), cased, accents
// stripped without lowercasing, and CJK handling off. Byte `pick` chooses one.
inline const WordPieceTokenizer& variant(uint8_t pick) {
  static std::unique_ptr<WordPieceTokenizer> all[4];
  const int k = pick % 4;
  if (!all[k]) {
    std::string json = kJson;
    auto swap = [&json](const std::string& from, const std::string& to) { json.replace(json.find(from), from.size(), to); };
    if (k == 1) swap("\"lowercase\":true", "\"lowercase\":false");
    if (k == 2) { swap("\"lowercase\":true", "\"lowercase\":false"); swap("\"strip_accents\":null", "\"strip_accents\":true"); }
    if (k == 3) { swap("\"handle_chinese_chars\":true", "\"handle_chinese_chars\":false"); swap("\"clean_text\":true", "\"clean_text\":false"); }
    all[k] = WordPieceTokenizer::from_json(json, "fuzz");
  }
  return *all[k];
}

}  // namespace fuzzcommon
