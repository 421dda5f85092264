// stemmer.h: the Porter stemmer exactly as Lucene's PorterStemFilter applies it (org.tartarus PorterStemmer,
// Martin Porter's reference implementation with its three documented departures), over lowercase bytes.
#pragma once
#include <string>

namespace crossgate {
namespace analysis {

// Stems `word` in place (lowercase ASCII expected; any other byte counts as a consonant, as a non-a-z
// char does in Lucene). Words of one or two bytes are left alone, as in the reference. Returns true when
// the word may have changed (a suffix was rewritten, possibly to itself).
bool porter_stem(std::string& word);

}  // namespace analysis
}  // namespace crossgate
