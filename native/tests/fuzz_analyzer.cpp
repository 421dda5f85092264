// fuzz_analyzer.cpp: runs arbitrary bytes through every analyzer step and the whole chain under several
// configurations. Every term must be non-empty, well-formed UTF-8 and free of separators; ASan/UBSan catch the rest.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "analyzer.h"
#include "stemmer.h"
#include "unicode.h"

using namespace crossgate::analysis;

namespace {

void check_term(std::string_view t) {
  if (t.empty()) std::abort();
  if (!crossgate::unicode::is_valid_utf8(t)) std::abort();
  for (unsigned char c : t) {
    if (c == 0 || c == ' ' || c == '\n') std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tokenize(text, [](std::string_view tok) {
    check_term(tok);
    std::string s(tok);
    strip_possessive(s);
    std::string folded;
    lowercase_fold(s, true, &folded);
    lowercase_fold(s, false, &folded);
    porter_stem(folded);
  });
  // Stemming arbitrary bytes directly (the stemmer must not read out of bounds on any input).
  std::string raw(text.substr(0, 64));
  porter_stem(raw);
  const uint8_t cfg = size ? data[0] : 0;
  AnalyzerOptions o;
  o.language = (cfg & 1) ? "none" : "english";
  o.stem = cfg & 2;
  o.fold_accents = cfg & 4;
  o.possessive = cfg & 8;
  o.stop = (cfg & 16) ? StopWords::Custom : (cfg & 32) ? StopWords::None : StopWords::Default;
  if (o.stop == StopWords::Custom) o.stop_words = {"the", "\xC3\x89t\xC3\xA9", "x"};
  Analyzer a(o);
  a.analyze(text, [](const std::string& t) { check_term(t); });
  return 0;
}
