// fuzz_tokenizer_json.cpp: fuzz harness for the tokenizer.json loader. Byte 0 picks a mode: the rest as a
// whole tokenizer.json, or spliced into a valid one (so that checks past the JSON syntax, such as vocab,
// added tokens, normalizer and post-processor fields, get exercised). Whatever loads is then used to encode
// every way (encode_all), so a file that loads but leaves the tokenizer inconsistent is caught too.
#include <algorithm>
#include <cstdint>
#include <string>

#include "fuzz_tokenizer_common.h"

using namespace crossgate;
using namespace fuzzcommon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    try {
      auto t = WordPieceTokenizer::from_json(rest, "fuzz");
      encode_all(*t, rest, "a b");
    } catch (const TokenizerLoadError&) {
    }
    return 0;
  }
  std::string json = kJson;
  const std::size_t at = rest.empty() ? 0 : (static_cast<std::size_t>(data[0]) * 131 + rest.size() * 7) % json.size();
  const std::size_t len = std::min<std::size_t>(rest.size() % 9, json.size() - at);
  json.replace(at, len, rest.substr(0, 16));
  try {
    auto t = WordPieceTokenizer::from_json(json, "fuzz");
    encode_all(*t, rest, rest.substr(rest.size() / 2));
  } catch (const TokenizerLoadError&) {
  }
  return 0;
}
