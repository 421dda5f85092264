// fuzz_tokenizer.cpp: fuzz harness for the core tokenizer. Byte 0 picks a mode: random bytes as text through a
// fixed small tokenizer (single, pair, several limits, with and without offsets), raw bytes as tokenizer.json, or bytes spliced into a valid one.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer.h"

using namespace crossgate;

namespace {

const char* kJson = R"({"version":"1.0","truncation":null,"padding":null,
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

const WordPieceTokenizer& fixed() {
  static std::unique_ptr<WordPieceTokenizer> t = WordPieceTokenizer::from_json(kJson, "fuzz");
  return *t;
}

void encode_all(const WordPieceTokenizer& t, std::string_view a, std::string_view b) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      std::size_t cut = rest.empty() ? 0 : data[0] % (rest.size() + 1);
      encode_all(fixed(), rest.substr(0, cut), rest.substr(cut));
      break;
    }
    case 1: {
      try {
        auto t = WordPieceTokenizer::from_json(rest, "fuzz");
        encode_all(*t, rest, "a b");
      } catch (const TokenizerLoadError&) {
      }
      break;
    }
    default: {
      // Splice the input into a valid file so the loader's checks past the JSON syntax get exercised.
      std::string json = kJson;
      std::size_t at = rest.empty() ? 0 : (static_cast<std::size_t>(data[0]) * 131 + rest.size() * 7) % json.size();
      std::size_t len = std::min<std::size_t>(rest.size() % 9, json.size() - at);
      json.replace(at, len, rest.substr(0, 16));
      try {
        auto t = WordPieceTokenizer::from_json(json, "fuzz");
        encode_all(*t, rest, rest.substr(rest.size() / 2));
      } catch (const TokenizerLoadError&) {
      }
      break;
    }
  }
  return 0;
}
