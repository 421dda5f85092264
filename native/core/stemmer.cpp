// stemmer.cpp: Porter (1980) suffix stripping, step for step the reference implementation that Lucene's
// PorterStemmer.java ports (including "bli"->"ble", "logi"->"log" and no stemming of words under 3 letters).
#include "stemmer.h"

#include <cstring>

#include "unicode.h"

namespace crossgate {
namespace analysis {

namespace {

// State of one stemming run: b holds the word, k is the index of its last code unit, j a suffix boundary.
// Str is std::string for ASCII words (a byte is a char) and std::u16string otherwise: Lucene's stemmer
// walks UTF-16 code units, so a multi-byte letter must count as one consonant, not as two or three equal
// ones (a byte-wise "double consonant" would cut a character in half).
template <class Str>
class Porter {
 public:
  using Unit = typename Str::value_type;
  explicit Porter(Str& w) : b_(w) {}

  bool run() {
    if (b_.size() <= 2) return false;
    k_ = static_cast<int>(b_.size()) - 1;
    step1ab();
    if (k_ > 0) {
      step1c();
      step2();
      step3();
      step4();
      step5();
    }
    changed_ |= static_cast<size_t>(k_ + 1) != b_.size();
    b_.resize(static_cast<size_t>(k_ + 1));
    return changed_;
  }

 private:
  bool cons(int i) const {
    switch (b_[static_cast<size_t>(i)]) {
      case 'a': case 'e': case 'i': case 'o': case 'u': return false;
      case 'y': return i == 0 ? true : !cons(i - 1);
      default: return true;
    }
  }

  // The number of VC sequences in b[0..j].
  int m() const {
    int n = 0, i = 0;
    for (;;) {
      if (i > j_) return n;
      if (!cons(i)) break;
      ++i;
    }
    ++i;
    for (;;) {
      for (;;) {
        if (i > j_) return n;
        if (cons(i)) break;
        ++i;
      }
      ++i;
      ++n;
      for (;;) {
        if (i > j_) return n;
        if (!cons(i)) break;
        ++i;
      }
      ++i;
    }
  }

  bool vowel_in_stem() const {
    for (int i = 0; i <= j_; ++i)
      if (!cons(i)) return true;
    return false;
  }

  bool doublec(int i) const {
    if (i < 1) return false;
    if (b_[static_cast<size_t>(i)] != b_[static_cast<size_t>(i - 1)]) return false;
    return cons(i);
  }

  // consonant-vowel-consonant ending at i, the last consonant not w, x or y.
  bool cvc(int i) const {
    if (i < 2 || !cons(i) || cons(i - 1) || !cons(i - 2)) return false;
    const Unit ch = b_[static_cast<size_t>(i)];
    return !(ch == 'w' || ch == 'x' || ch == 'y');
  }

  bool ends(const char* s) {
    const int len = static_cast<int>(std::strlen(s));
    if (len > k_ + 1) return false;
    for (int t = 0; t < len; ++t)
      if (b_[static_cast<size_t>(k_ - len + 1 + t)] != static_cast<Unit>(static_cast<unsigned char>(s[t]))) return false;
    j_ = k_ - len;
    return true;
  }

  void setto(const char* s) {
    const int len = static_cast<int>(std::strlen(s));
    changed_ = true;  // conservative: "ize" -> "ize" counts as a change
    b_.resize(static_cast<size_t>(j_ + 1));
    for (int t = 0; t < len; ++t) b_.push_back(static_cast<Unit>(s[t]));
    k_ = j_ + len;
  }

  void r(const char* s) {
    if (m() > 0) setto(s);
  }

  // Plurals and -ed / -ing.
  void step1ab() {
    if (b_[static_cast<size_t>(k_)] == 's') {
      if (ends("sses")) {
        k_ -= 2;
      } else if (ends("ies")) {
        setto("i");
      } else if (b_[static_cast<size_t>(k_ - 1)] != 's') {
        --k_;
      }
    }
    if (ends("eed")) {
      if (m() > 0) --k_;
    } else if ((ends("ed") || ends("ing")) && vowel_in_stem()) {
      k_ = j_;
      if (ends("at")) {
        setto("ate");
      } else if (ends("bl")) {
        setto("ble");
      } else if (ends("iz")) {
        setto("ize");
      } else if (doublec(k_)) {
        --k_;
        const Unit ch = b_[static_cast<size_t>(k_)];
        if (ch == 'l' || ch == 's' || ch == 'z') ++k_;
      } else if (m() == 1 && cvc(k_)) {
        setto("e");
      }
    }
  }

  // Terminal y -> i when there is another vowel in the stem.
  void step1c() {
    if (ends("y") && vowel_in_stem()) {
      b_.resize(static_cast<size_t>(k_ + 1));
      b_[static_cast<size_t>(k_)] = 'i';
      changed_ = true;
    }
  }

  // Double suffixes -> single ones.
  void step2() {
    if (k_ == 0) return;
    switch (b_[static_cast<size_t>(k_ - 1)]) {
      case 'a':
        if (ends("ational")) { r("ate"); break; }
        if (ends("tional")) { r("tion"); break; }
        break;
      case 'c':
        if (ends("enci")) { r("ence"); break; }
        if (ends("anci")) { r("ance"); break; }
        break;
      case 'e':
        if (ends("izer")) { r("ize"); break; }
        break;
      case 'l':
        if (ends("bli")) { r("ble"); break; }  // departure: the paper has abli -> able
        if (ends("alli")) { r("al"); break; }
        if (ends("entli")) { r("ent"); break; }
        if (ends("eli")) { r("e"); break; }
        if (ends("ousli")) { r("ous"); break; }
        break;
      case 'o':
        if (ends("ization")) { r("ize"); break; }
        if (ends("ation")) { r("ate"); break; }
        if (ends("ator")) { r("ate"); break; }
        break;
      case 's':
        if (ends("alism")) { r("al"); break; }
        if (ends("iveness")) { r("ive"); break; }
        if (ends("fulness")) { r("ful"); break; }
        if (ends("ousness")) { r("ous"); break; }
        break;
      case 't':
        if (ends("aliti")) { r("al"); break; }
        if (ends("iviti")) { r("ive"); break; }
        if (ends("biliti")) { r("ble"); break; }
        break;
      case 'g':
        if (ends("logi")) { r("log"); break; }  // departure: not in the paper
        break;
      default: break;
    }
  }

  // -ic-, -full, -ness etc.
  void step3() {
    switch (b_[static_cast<size_t>(k_)]) {
      case 'e':
        if (ends("icate")) { r("ic"); break; }
        if (ends("ative")) { r(""); break; }
        if (ends("alize")) { r("al"); break; }
        break;
      case 'i':
        if (ends("iciti")) { r("ic"); break; }
        break;
      case 'l':
        if (ends("ical")) { r("ic"); break; }
        if (ends("ful")) { r(""); break; }
        break;
      case 's':
        if (ends("ness")) { r(""); break; }
        break;
      default: break;
    }
  }

  // -ant, -ence etc. in context <c>vcvc<v>.
  void step4() {
    if (k_ == 0) return;
    switch (b_[static_cast<size_t>(k_ - 1)]) {
      case 'a':
        if (ends("al")) break;
        return;
      case 'c':
        if (ends("ance")) break;
        if (ends("ence")) break;
        return;
      case 'e':
        if (ends("er")) break;
        return;
      case 'i':
        if (ends("ic")) break;
        return;
      case 'l':
        if (ends("able")) break;
        if (ends("ible")) break;
        return;
      case 'n':
        if (ends("ant")) break;
        if (ends("ement")) break;
        if (ends("ment")) break;
        if (ends("ent")) break;
        return;
      case 'o':
        if (ends("ion") && j_ >= 0 && (b_[static_cast<size_t>(j_)] == 's' || b_[static_cast<size_t>(j_)] == 't')) break;
        if (ends("ou")) break;
        return;
      case 's':
        if (ends("ism")) break;
        return;
      case 't':
        if (ends("ate")) break;
        if (ends("iti")) break;
        return;
      case 'u':
        if (ends("ous")) break;
        return;
      case 'v':
        if (ends("ive")) break;
        return;
      case 'z':
        if (ends("ize")) break;
        return;
      default: return;
    }
    if (m() > 1) k_ = j_;
  }

  // Final -e, and -ll -> -l when m > 1.
  void step5() {
    j_ = k_;
    if (b_[static_cast<size_t>(k_)] == 'e') {
      const int a = m();
      if (a > 1 || (a == 1 && !cvc(k_ - 1))) --k_;
    }
    if (b_[static_cast<size_t>(k_)] == 'l' && doublec(k_) && m() > 1) --k_;
  }

  Str& b_;
  int k_ = 0;
  int j_ = 0;
  bool changed_ = false;
};

}  // namespace

bool porter_stem(std::string& word) {
  bool ascii = true;
  for (unsigned char c : word) ascii &= c < 0x80;
  // Invalid UTF-8 (never from the analyzer, which repairs its input) is stemmed byte by byte: memory-safe,
  // and what it makes of the broken bytes does not matter.
  if (ascii || !unicode::is_valid_utf8(word)) return Porter<std::string>(word).run();
  std::u16string units;
  units.reserve(word.size());
  for (size_t i = 0; i < word.size();) {
    const char32_t cp = unicode::next_utf8(word, i);
    if (cp < 0x10000) {
      units.push_back(static_cast<char16_t>(cp));
    } else {
      units.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      units.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    }
  }
  if (!Porter<std::u16string>(units).run()) return false;
  // Only ASCII suffixes were removed or added, and a surrogate pair's halves never match each other or a
  // letter, so no pair was split: the units convert back whole.
  word.clear();
  for (size_t i = 0; i < units.size(); ++i) {
    char32_t cp = units[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < units.size()) cp = 0x10000 + ((cp - 0xD800) << 10) + (units[++i] - 0xDC00);
    unicode::append_utf8(word, cp);
  }
  return true;
}

}  // namespace analysis
}  // namespace crossgate
