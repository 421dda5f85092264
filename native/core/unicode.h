// unicode.h: the Unicode classes and mappings the BERT tokenizer needs, plus a lossless-or-replacing UTF-8 reader.
// The tables (unicode_tables.cpp) are generated from the reference `tokenizers` package so both agree char for char.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossgate {
namespace unicode {

// Per-code-point flag bits (keep in sync with gen_unicode_tables.mjs).
enum : std::uint16_t {
  kRemove = 1,        // clean_text drops it: NUL, U+FFFD, controls/format/private-use (not \t \n \r)
  kNormSpace = 2,     // clean_text turns it into ' '
  kCjk = 4,           // handle_chinese_chars pads it with spaces
  kHasNfd = 8,        // NFD changes it
  kHasLower = 16,     // lowercase changes it
  kSpace = 32,        // the pre-tokenizer splits on it (White_Space)
  kPunct = 64,        // the pre-tokenizer isolates it (ASCII punctuation or P*)
  kNonStarter = 128,  // canonical combining class != 0 (takes part in canonical reordering)
  kMark = 256,        // strip_accents removes it after NFD (Mn)
};

constexpr std::size_t kMaxDecomposition = 4;
constexpr std::size_t kMaxLowercase = 3;

namespace tables {
struct MapEntry {
  char32_t cp;
  std::uint32_t offset;
  std::uint32_t len;
};
struct RankEntry {
  char32_t cp;
  std::uint32_t rank;
};
extern const std::uint16_t block_index[];
extern const std::uint16_t blocks[];
extern const MapEntry decomp_entries[];
extern const std::size_t decomp_count;
extern const char32_t decomp_pool[];
extern const MapEntry lower_entries[];
extern const std::size_t lower_count;
extern const char32_t lower_pool[];
extern const RankEntry rank_entries[];
extern const std::size_t rank_count;
}  // namespace tables

inline std::uint16_t flags(char32_t cp) {
  if (cp >= 0x110000) return 0;
  return tables::blocks[static_cast<std::size_t>(tables::block_index[cp >> 8]) * 256 + (cp & 0xFF)];
}

// Canonical decomposition (NFD) of one code point into out[]; returns the count (1 when unchanged).
std::size_t decompose(char32_t cp, char32_t* out);
// Full lowercase mapping of one code point into out[]; returns the count (1 when unchanged).
std::size_t to_lower(char32_t cp, char32_t* out);
// Relative canonical-combining-class rank of a non-starter that survives accent stripping.
std::uint32_t reorder_rank(char32_t cp);

// Appends cp as UTF-8.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    char b[2] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 2);
  } else if (cp < 0x10000) {
    char b[3] = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                 static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 3);
  } else {
    char b[4] = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                 static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 4);
  }
}

// Decodes one code point at s[i] from well-formed UTF-8 and advances i.
inline char32_t next_utf8(std::string_view s, std::size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned char c = p[i];
  if (c < 0x80) {
    ++i;
    return c;
  }
  if (c < 0xE0) {
    char32_t cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
    i += 2;
    return cp;
  }
  if (c < 0xF0) {
    char32_t cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    i += 3;
    return cp;
  }
  char32_t cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
  i += 4;
  return cp;
}

// True when s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Replaces every ill-formed subsequence with U+FFFD exactly as the WHATWG decoder does
// (Node's Buffer#toString('utf8')): one replacement per maximal subpart.
std::string to_valid_utf8(std::string_view s);
// The same, and orig_at[k] = the byte of s that byte k of the result came from (the start of the replaced
// subpart inside a U+FFFD); orig_at has result.size() + 1 entries, the last one s.size().
std::string to_valid_utf8(std::string_view s, std::vector<std::uint32_t>& orig_at);

}  // namespace unicode
}  // namespace crossgate
