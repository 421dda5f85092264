// analyzer.h: the keyword analyzer, a pipeline of small named steps (tokenize, possessive, lowercase+fold,
// stop, stem) in the order Lucene's EnglishAnalyzer runs them; each step is a free function testable alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace crossgate {
namespace analysis {

namespace tables {
struct WordRange {
  char32_t lo, hi;
};
extern const WordRange word_ranges[];
extern const std::size_t word_range_count;
}  // namespace tables

// Limits, each with its reason:
// Lucene's StandardTokenizer splits tokens longer than 255 chars; a "word" that long is data, not language.
constexpr std::size_t kMaxTokenChars = 255;
// A custom stop list bigger than this is a mistake (a vocabulary, not stop words); it also bounds the file.
constexpr std::size_t kMaxStopWords = 65536;

// Thrown for bad analyzer options; the binding maps it to a RangeError.
class AnalyzerError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// True for a letter, number or mark (Unicode L*, N*, M*): the characters a term is made of.
bool is_word_char(char32_t cp);

// Step "tokenize": splits UTF-8 text into maximal runs of word characters. An apostrophe (' U+2019 U+FF07)
// between two word characters stays inside the token ("don't", "o'neil's"), as UAX#29 keeps it; CJK
// ideographs are one token each; runs longer than kMaxTokenChars code points are cut into pieces.
// Ill-formed UTF-8 (and NUL) separates tokens, so arbitrary bytes are safe. Calls emit(token bytes).
void tokenize(std::string_view text, const std::function<void(std::string_view)>& emit);

// Step "possessive": drops a trailing 's / 'S / ’s / ＇s (Lucene's EnglishPossessiveFilter).
void strip_possessive(std::string& token);

// Step "lowercase" (+ "fold" when fold_accents): full Unicode lowercase; with folding also NFD with the
// combining marks removed (é -> e, Å -> a) and the Latin letters that have no decomposition spelled out
// (ß -> ss, æ -> ae, ø -> o, œ -> oe, ł -> l, đ/ð -> d, þ -> th, ı -> i), as Lucene's ASCIIFoldingFilter does.
void lowercase_fold(std::string_view token, bool fold_accents, std::string* out);

// Lucene's English stop set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET), 33 words.
const std::vector<std::string>& english_stop_words();

enum class StopWords : uint8_t { None = 0, Default = 1, Custom = 2 };

struct AnalyzerOptions {
  // "english" (Porter stemmer, English stop set, possessive filter) or "none" (no language-specific steps:
  // no stemming, no possessive filter, no default stop words). Room for more languages later.
  std::string language = "english";
  bool stem = true;               // step "stem" (english only)
  bool fold_accents = true;       // step "fold"
  bool possessive = true;         // step "possessive" (english only)
  StopWords stop = StopWords::Default;
  std::vector<std::string> stop_words;  // StopWords::Custom only; analysed by lowercase+fold, not stemmed
};

// Checks options, naming the bad field and the fix; throws AnalyzerError.
void check_options(const AnalyzerOptions& opts);

class Analyzer {
 public:
  explicit Analyzer(AnalyzerOptions opts);
  const AnalyzerOptions& options() const { return opts_; }

  // Runs every configured step over text; calls emit(term) for each surviving term, in order.
  void analyze(std::string_view text, const std::function<void(const std::string&)>& emit) const;
  std::vector<std::string> terms(std::string_view text) const;

 private:
  bool is_stop(const std::string& term) const;

  AnalyzerOptions opts_;
  bool english_;
  std::unordered_set<std::string> stop_;
  // Cheap pre-checks before hashing: stop words' lengths (bit n = length n, 64+ in bit 63) and first bytes.
  uint64_t stop_lengths_ = 0;
  bool stop_first_[256] = {};
};

}  // namespace analysis
}  // namespace crossgate
