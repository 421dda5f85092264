// analyzer.cpp: the keyword analyzer's steps (tokenize, possessive, lowercase+fold, stop, stem) and the chain.
// Unicode classes come from analyzer_tables.cpp (word characters) and unicode.h (NFD, lowercase, marks, CJK).
#include "analyzer.h"

#include <algorithm>

#include "stemmer.h"
#include "unicode.h"

namespace crossgate {
namespace analysis {

namespace {

// Decodes one well-formed UTF-8 sequence at p[0..n); returns its length, or 0 when it is ill-formed
// (overlong, surrogate, past U+10FFFF, truncated), in which case the caller skips one byte.
std::size_t decode(const unsigned char* p, std::size_t n, char32_t* cp) {
  const unsigned char c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
    *cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    *cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    *cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < need + 1) return 0;
  for (std::size_t k = 1; k <= need; ++k) {
    const unsigned char t = p[k];
    if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xBF)) return 0;
    *cp = (*cp << 6) | (t & 0x3F);
  }
  return need + 1;
}

bool is_apostrophe(char32_t cp) { return cp == 0x27 || cp == 0x2019 || cp == 0xFF07; }

// ASCII word characters, looked up without a search.
struct AsciiClass {
  bool word[128];
  constexpr AsciiClass() : word() {
    for (int c = '0'; c <= '9'; ++c) word[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) word[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) word[c] = true;
  }
};
constexpr AsciiClass kAscii;

// Latin letters that NFD leaves whole but Lucene's ASCIIFoldingFilter spells out (already lowercased).
const char* fold_special(char32_t cp) {
  switch (cp) {
    case 0xDF: return "ss";    // ß
    case 0xE6: return "ae";    // æ
    case 0xF8: return "o";     // ø
    case 0x153: return "oe";   // œ
    case 0x142: return "l";    // ł
    case 0x111: return "d";    // đ
    case 0xF0: return "d";     // ð
    case 0xFE: return "th";    // þ
    case 0x131: return "i";    // ı
    case 0x127: return "h";    // ħ
    case 0x167: return "t";    // ŧ
    case 0x14B: return "n";    // ŋ
    case 0x1E9E: return "ss";  // ẞ (lowercases to ß first, kept for safety)
    default: return nullptr;
  }
}

}  // namespace

bool is_word_char(char32_t cp) {
  if (cp < 128) return kAscii.word[cp];
  const auto* end = tables::word_ranges + tables::word_range_count;
  const auto* it = std::upper_bound(tables::word_ranges, end, cp,
                                    [](char32_t c, const tables::WordRange& r) { return c < r.lo; });
  if (it == tables::word_ranges) return false;
  --it;
  return cp <= it->hi;
}

namespace {

// The tokenizer loop, inlined into both callers (a std::function call per token costs ~10% of indexing).
template <class Emit>
void tokenize_each(std::string_view text, Emit&& emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t start = 0, chars = 0;
  bool in_token = false;
  auto flush = [&](std::size_t end) {
    if (in_token && end > start) emit(text.substr(start, end - start));
    in_token = false;
    chars = 0;
  };
  std::size_t i = 0;
  while (i < n) {
    char32_t cp;
    std::size_t len;
    if (p[i] < 0x80) {
      cp = p[i];
      len = 1;
    } else {
      len = decode(p + i, n - i, &cp);
      if (len == 0) {  // ill-formed byte: a separator
        flush(i);
        ++i;
        continue;
      }
    }
    const bool word = is_word_char(cp);
    if (word) {
      if (cp >= 0x2E80 && (unicode::flags(cp) & unicode::kCjk)) {  // one token per ideograph
        flush(i);
        emit(text.substr(i, len));
        i += len;
        continue;
      }
      if (!in_token) {
        in_token = true;
        start = i;
      } else if (chars == kMaxTokenChars) {
        flush(i);
        in_token = true;
        start = i;
      }
      ++chars;
      i += len;
      continue;
    }
    if (in_token && is_apostrophe(cp) && i + len < n) {
      // Keep the apostrophe when a word character follows (don't, o'neil's).
      char32_t next = 0;
      std::size_t nlen = p[i + len] < 0x80 ? 1 : decode(p + i + len, n - i - len, &next);
      if (p[i + len] < 0x80) next = p[i + len];
      if (nlen > 0 && is_word_char(next) && !(next >= 0x2E80 && (unicode::flags(next) & unicode::kCjk)) &&
          chars + 1 < kMaxTokenChars) {
        ++chars;
        i += len;
        continue;
      }
    }
    flush(i);
    i += len;
  }
  flush(n);
}

}  // namespace

void tokenize(std::string_view text, const std::function<void(std::string_view)>& emit) { tokenize_each(text, emit); }

void strip_possessive(std::string& t) {
  const std::size_t n = t.size();
  if (n >= 2 && (t[n - 1] == 's' || t[n - 1] == 'S') && t[n - 2] == '\'') {
    t.resize(n - 2);
  } else if (n >= 4 && (t[n - 1] == 's' || t[n - 1] == 'S') &&
             (t.compare(n - 4, 3, "\xE2\x80\x99") == 0 || t.compare(n - 4, 3, "\xEF\xBC\x87") == 0)) {
    t.resize(n - 4);
  }
}

void lowercase_fold(std::string_view token, bool fold_accents, std::string* out) {
  out->clear();
  bool ascii = true;
  for (unsigned char c : token) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    out->resize(token.size());
    for (std::size_t i = 0; i < token.size(); ++i) {
      const char c = token[i];
      (*out)[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  const std::size_t n = token.size();
  std::size_t i = 0;
  char32_t dec[unicode::kMaxDecomposition];
  char32_t low[unicode::kMaxLowercase];
  while (i < n) {
    char32_t cp;
    std::size_t len = decode(p + i, n - i, &cp);
    if (len == 0) {  // not reachable from tokenize(); keep the function total for direct callers
      ++i;
      continue;
    }
    i += len;
    std::size_t nd = 1;
    dec[0] = cp;
    if (fold_accents) nd = unicode::decompose(cp, dec);
    for (std::size_t d = 0; d < nd; ++d) {
      if (fold_accents && (unicode::flags(dec[d]) & unicode::kMark)) continue;
      const std::size_t nl = unicode::to_lower(dec[d], low);
      for (std::size_t l = 0; l < nl; ++l) {
        const char* sp = fold_accents ? fold_special(low[l]) : nullptr;
        if (sp) {
          out->append(sp);
        } else {
          unicode::append_utf8(*out, low[l]);
        }
      }
    }
  }
}

const std::vector<std::string>& english_stop_words() {
  static const std::vector<std::string> words = {
      "a",    "an",   "and",   "are",   "as",   "at",    "be",   "but",  "by",    "for",  "if",
      "in",   "into", "is",    "it",    "no",   "not",   "of",   "on",   "or",    "such", "that",
      "the",  "their", "then", "there", "these", "they", "this", "to",   "was",   "will", "with"};
  return words;
}

void check_options(const AnalyzerOptions& o) {
  if (o.language != "english" && o.language != "none") {
    throw AnalyzerError("language is '" + o.language + "'; supported: 'english', 'none' (no stemming or stop words)");
  }
  if (o.stop == StopWords::Custom) {
    if (o.stop_words.size() > kMaxStopWords) {
      throw AnalyzerError("stopWords has " + std::to_string(o.stop_words.size()) + " words; the limit is " +
                          std::to_string(kMaxStopWords) + "; a stop list holds function words, not a vocabulary");
    }
    for (std::size_t i = 0; i < o.stop_words.size(); ++i) {
      const std::string& w = o.stop_words[i];
      if (w.empty() || w.size() > 4 * kMaxTokenChars) {
        throw AnalyzerError("stopWords[" + std::to_string(i) + "] is " + (w.empty() ? "empty" : "over 1020 bytes") +
                            "; each stop word must be a non-empty word");
      }
    }
  } else if (o.stop != StopWords::None && o.stop != StopWords::Default) {
    throw AnalyzerError("stop mode " + std::to_string(static_cast<int>(o.stop)) + " is unknown; use none, default or a custom list");
  }
}

Analyzer::Analyzer(AnalyzerOptions opts) : opts_(std::move(opts)) {
  check_options(opts_);
  english_ = opts_.language == "english";
  if (opts_.stop == StopWords::Default && english_) {
    for (const auto& w : english_stop_words()) stop_.insert(w);
  } else if (opts_.stop == StopWords::Custom) {
    std::string folded;
    for (const auto& w : opts_.stop_words) {
      lowercase_fold(w, opts_.fold_accents, &folded);
      if (!folded.empty()) stop_.insert(folded);
    }
  }
  for (const auto& w : stop_) {
    stop_lengths_ |= uint64_t{1} << std::min<std::size_t>(w.size(), 63);
    stop_first_[static_cast<unsigned char>(w[0])] = true;
  }
}

bool Analyzer::is_stop(const std::string& term) const {
  // Most terms fail the length or first-byte check, which saves hashing them (a third of indexing time).
  if (!(stop_lengths_ >> std::min<std::size_t>(term.size(), 63) & 1)) return false;
  if (!stop_first_[static_cast<unsigned char>(term[0])]) return false;
  return stop_.count(term) != 0;
}

void Analyzer::analyze(std::string_view text, const std::function<void(const std::string&)>& emit) const {
  std::string raw, term;
  const bool possessive = english_ && opts_.possessive;
  const bool stem = english_ && opts_.stem;
  tokenize_each(text, [&](std::string_view tok) {
    raw.assign(tok.data(), tok.size());
    if (possessive) strip_possessive(raw);
    lowercase_fold(raw, opts_.fold_accents, &term);
    if (term.empty()) return;
    if (is_stop(term)) return;
    if (stem) porter_stem(term);
    emit(term);
  });
}

std::vector<std::string> Analyzer::terms(std::string_view text) const {
  std::vector<std::string> out;
  analyze(text, [&](const std::string& t) { out.push_back(t); });
  return out;
}

}  // namespace analysis
}  // namespace crossgate
