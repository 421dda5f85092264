// unicode.cpp: lookups over the generated tables and the UTF-8 validation/replacement used on Buffer input.
// Hangul syllables decompose algorithmically, so they are not in the table.
#include "unicode.h"

#include <algorithm>

namespace crossgate {
namespace unicode {

namespace {
const tables::MapEntry* find_entry(const tables::MapEntry* entries, std::size_t count, char32_t cp) {
  const auto* end = entries + count;
  const auto* it = std::lower_bound(entries, end, cp, [](const tables::MapEntry& e, char32_t c) { return e.cp < c; });
  return (it != end && it->cp == cp) ? it : nullptr;
}
}  // namespace

std::size_t decompose(char32_t cp, char32_t* out) {
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
  constexpr char32_t kSCount = 11172, kNCount = 588, kTCount = 28;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    char32_t si = cp - kSBase;
    out[0] = kLBase + si / kNCount;
    out[1] = kVBase + (si % kNCount) / kTCount;
    if (si % kTCount == 0) return 2;
    out[2] = kTBase + si % kTCount;
    return 3;
  }
  const auto* e = find_entry(tables::decomp_entries, tables::decomp_count, cp);
  if (!e) {
    out[0] = cp;
    return 1;
  }
  std::copy(tables::decomp_pool + e->offset, tables::decomp_pool + e->offset + e->len, out);
  return e->len;
}

std::size_t to_lower(char32_t cp, char32_t* out) {
  const auto* e = find_entry(tables::lower_entries, tables::lower_count, cp);
  if (!e) {
    out[0] = cp;
    return 1;
  }
  std::copy(tables::lower_pool + e->offset, tables::lower_pool + e->offset + e->len, out);
  return e->len;
}

std::uint32_t reorder_rank(char32_t cp) {
  const auto* end = tables::rank_entries + tables::rank_count;
  const auto* it = std::lower_bound(tables::rank_entries, end, cp,
                                    [](const tables::RankEntry& e, char32_t c) { return e.cp < c; });
  return (it != end && it->cp == cp) ? it->rank : 0;
}

namespace {
// Length of the well-formed sequence starting at p[0], or 0 with `bad` = the length of the maximal
// ill-formed subpart to replace (at least 1), following Unicode's "U+FFFD substitution of maximal subparts".
std::size_t scan(const unsigned char* p, std::size_t n, std::size_t& bad) {
  unsigned char c = p[0];
  bad = 1;
  if (c < 0x80) return 1;
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (k >= n) {
      bad = k;
      return 0;
    }
    unsigned char b = p[k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      bad = k;
      return 0;
    }
  }
  return need + 1;
}
}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0, bad;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = scan(p + i, n - i, bad);
    if (!len) return false;
    i += len;
  }
  return true;
}

namespace {
// Both to_valid_utf8 overloads: orig_at, when given, gets the source byte of every output byte (+ the end).
std::string repair(std::string_view s, std::vector<std::uint32_t>* orig_at) {
  std::string out;
  out.reserve(s.size() + 8);
  if (orig_at) {
    orig_at->clear();
    orig_at->reserve(s.size() + 9);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0, bad;
  while (i < n) {
    std::size_t len = scan(p + i, n - i, bad);
    if (len) {
      out.append(s.data() + i, len);
      if (orig_at)
        for (std::size_t k = 0; k < len; ++k) orig_at->push_back(static_cast<std::uint32_t>(i + k));
      i += len;
    } else {
      append_utf8(out, 0xFFFD);
      if (orig_at) orig_at->insert(orig_at->end(), 3, static_cast<std::uint32_t>(i));
      i += bad;
    }
  }
  if (orig_at) orig_at->push_back(static_cast<std::uint32_t>(n));
  return out;
}
}  // namespace

std::string to_valid_utf8(std::string_view s) { return repair(s, nullptr); }

std::string to_valid_utf8(std::string_view s, std::vector<std::uint32_t>& orig_at) { return repair(s, &orig_at); }

}  // namespace unicode
}  // namespace crossgate
