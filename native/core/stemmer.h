// stemmer.h: the Porter stemmer exactly as Lucene's PorterStemFilter applies it (org.tartarus PorterStemmer,
// Martin Porter's reference implementation with its three documented departures), over UTF-8 words.
#pragma once
#include <string>

namespace crossgate {
namespace analysis {

// Stems `word` in place (lowercase expected). Like Lucene, it works on UTF-16 code units: any letter other
// than a-z is one consonant, and words of one or two units are left alone. ASCII words take a byte-wise
// fast path with the same result; the output is valid UTF-8 whenever the input is. Returns true when the
// word may have changed (a suffix was rewritten, possibly to itself).
bool porter_stem(std::string& word);

}  // namespace analysis
}  // namespace crossgate
