// tokenizer.cpp: WordPiece tokenizer core: tokenizer.json loading, added-token splitting, BertNormalizer,
// BertPreTokenizer, WordPiece, truncation and template post-processing, each step as the reference does it.
#include "tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tokenizer_json.h"
#include "unicode.h"

namespace crossgate {

namespace {

// ---- vocabulary: open addressing over string_views into one arena --------------------------------

inline std::uint64_t load_partial(const char* p, std::size_t n) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

inline std::uint64_t hash_bytes(const char* p, std::size_t n) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = n * kMul ^ 0x2545F4914F6CDD1Dull;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    h = (h ^ load_partial(p, n)) * kMul;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

class VocabTable {
 public:
  void build(const std::vector<std::pair<std::string, std::int32_t>>& entries) {
    std::size_t cap = 16;
    while (cap < entries.size() * 2 + 1) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    arena_.clear();
    std::size_t total = 0;
    for (const auto& e : entries) total += e.first.size();
    arena_.reserve(total);
    for (const auto& e : entries) insert(e.first, e.second);
  }
  std::int32_t find(std::string_view key) const {
    if (key.size() > max_len_) return -1;
    std::uint64_t h = hash_bytes(key.data(), key.size());
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() && std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0)
        return s.id;
    }
  }
  std::size_t max_len() const { return max_len_; }
  bool empty() const { return count_ == 0; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t off = 0;
    std::uint32_t len = 0;
    std::int32_t id = -1;
  };
  void insert(std::string_view key, std::int32_t id) {
    std::uint64_t h = hash_bytes(key.data(), key.size());
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.hash = h;
        s.off = static_cast<std::uint32_t>(arena_.size());
        s.len = static_cast<std::uint32_t>(key.size());
        s.id = id;
        arena_.append(key);
        max_len_ = std::max(max_len_, key.size());
        ++count_;
        return;
      }
      if (s.hash == h && s.len == key.size() && std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0) {
        s.id = id;  // a later duplicate key wins, as with serde's HashMap
        return;
      }
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t mask_ = 0;
  std::size_t max_len_ = 0;
  std::size_t count_ = 0;
};

// ---- added tokens ----------------------------------------------------------------------------------

struct AddedPattern {
  std::string text;
  std::int32_t id;
  bool lstrip;
  bool rstrip;
  bool special;
};

// Leftmost-longest matching like the reference's aho-corasick; patterns are few and short.
class PatternSet {
 public:
  void add(AddedPattern p) {
    if (p.text.empty()) return;
    for (const auto& q : pats_)
      if (q.text == p.text) return;  // the reference keeps the first registration
    pats_.push_back(std::move(p));
  }
  void finish() {
    for (auto& b : by_first_) b.clear();
    for (std::uint32_t i = 0; i < pats_.size(); ++i)
      by_first_[static_cast<unsigned char>(pats_[i].text[0])].push_back(i);
    for (auto& b : by_first_)
      std::stable_sort(b.begin(), b.end(), [&](std::uint32_t x, std::uint32_t y) {
        return pats_[x].text.size() > pats_[y].text.size();
      });
  }
  bool empty() const { return pats_.empty(); }
  const std::vector<AddedPattern>& patterns() const { return pats_; }

  // Splits s the way AddedVocabulary::find_matches does: calls seg(view) for plain text and
  // tok(pattern, start, stop) for each added token, in order; [start, stop) includes what lstrip/rstrip took.
  template <class Seg, class Tok>
  void split(std::string_view s, Seg&& seg, Tok&& tok) const {
    const std::size_t n = s.size();
    std::size_t start_offset = 0, pos = 0;
    while (pos < n) {
      const auto& bucket = by_first_[static_cast<unsigned char>(s[pos])];
      const AddedPattern* hit = nullptr;
      for (std::uint32_t idx : bucket) {
        const auto& p = pats_[idx];
        if (p.text.size() <= n - pos && std::memcmp(s.data() + pos, p.text.data(), p.text.size()) == 0) {
          hit = &p;
          break;
        }
      }
      if (!hit) {
        ++pos;
        continue;
      }
      std::size_t start = pos, stop = pos + hit->text.size();
      const std::size_t match_end = stop;
      if (hit->lstrip) start = std::max(start - trailing_space(s.substr(0, start)), start_offset);
      if (hit->rstrip) stop += leading_space(s.substr(stop));
      if (start_offset < start) seg(s.substr(start_offset, start - start_offset));
      tok(*hit, start, stop);
      start_offset = stop;
      pos = match_end;
    }
    if (start_offset < n) seg(s.substr(start_offset));
  }

 private:
  static std::size_t leading_space(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t j = i;
      if (!(unicode::flags(unicode::next_utf8(s, j)) & unicode::kSpace)) break;
      i = j;
    }
    return i;
  }
  static std::size_t trailing_space(std::string_view s) {
    std::size_t end = s.size();
    while (end > 0) {
      std::size_t b = end - 1;
      while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
      std::size_t j = b;
      if (!(unicode::flags(unicode::next_utf8(s, j)) & unicode::kSpace)) break;
      end = b;
    }
    return s.size() - end;
  }
  std::vector<AddedPattern> pats_;
  std::vector<std::uint32_t> by_first_[256];
};

// ---- post-processing template ------------------------------------------------------------------------

struct Piece {
  enum class Kind { A, B, Special } kind;
  std::uint8_t type_id;
  std::vector<std::int32_t> ids;  // Special only
};

// One token's byte range in its text; -1 for special and unknown tokens.
struct Span {
  std::int32_t start, stop;
};
constexpr Span kNoSpan{-1, -1};

// A normalized byte's source: the byte range of the input character it came from.
using Origin = std::pair<std::uint32_t, std::uint32_t>;

struct Pending {
  char32_t c;
  Origin from;
};

struct Scratch {
  std::string fixed;  // input with ill-formed UTF-8 replaced
  std::string norm;   // normalized segment
  std::vector<Pending> pending;  // non-starters awaiting canonical reordering
  Origin cur{0, 0};              // the input character being normalized
  std::vector<Origin> pending_from;  // offsets only: pending's sources in reading order
  std::vector<Origin> align;     // offsets only: per byte of norm, its source in the (fixed) input
  std::vector<std::uint32_t> fix_map;  // offsets only: fixed byte -> input byte, when the input was ill-formed
  std::vector<std::int32_t> a, b;
  std::vector<std::uint32_t> units_a, units_b;  // per word / added token: (end index << 1) | is_added
  std::vector<Span> spans_a, spans_b;
};

// Where WordPiece reports its pieces' spans: words are views into `norm`, whose bytes `align` maps back.
struct SpanSink {
  const char* norm;
  const std::vector<Origin>* align;
  std::vector<Span>* spans;
  Span of(const char* begin, const char* end) const {
    const std::size_t b = static_cast<std::size_t>(begin - norm), e = static_cast<std::size_t>(end - norm);
    return {static_cast<std::int32_t>((*align)[b].first), static_cast<std::int32_t>((*align)[e - 1].second)};
  }
};

[[noreturn]] void load_fail(std::string_view source, const std::string& msg) {
  throw TokenizerLoadError(std::string(source) + ": " + msg);
}

const char* json_type(const json::Value* v) { return v ? json::type_name(v->type) : "missing"; }

}  // namespace

// ---- the pipeline ----------------------------------------------------------------------------------------

struct WordPieceTokenizer::Impl {
  bool has_normalizer = false;
  BertNormalizerConfig norm;
  bool bert_pretokenizer = false;
  VocabTable vocab;
  VocabTable cont_storage;
  const VocabTable* cont = nullptr;  // pieces after the first, keyed without continuing_subword_prefix
  std::int32_t unk_id = 0;
  std::size_t max_input_chars_per_word = 100;
  PatternSet raw_added, normalized_added;
  std::vector<Piece> single_tpl, pair_tpl;
  std::size_t single_added = 0, pair_added = 0;
  std::int16_t ascii_out[128];         // normalizer result per ASCII byte, -1 = removed
  std::uint16_t ascii_flags[128];      // pre-tokenizer classes per ASCII byte

  void setup_ascii() {
    for (int c = 0; c < 128; ++c) {
      std::uint16_t f = unicode::flags(static_cast<char32_t>(c));
      ascii_flags[c] = f;
      std::int16_t o = static_cast<std::int16_t>(c);
      if (has_normalizer) {
        if (norm.clean_text && (f & unicode::kRemove)) o = -1;
        else if (norm.clean_text && (f & unicode::kNormSpace)) o = ' ';
        if (o >= 0 && norm.lowercase && o >= 'A' && o <= 'Z') o = static_cast<std::int16_t>(o - 'A' + 'a');
      }
      ascii_out[c] = o;
    }
  }

  void emit_lower(char32_t cp, std::uint16_t f, std::string& out) const {
    if (norm.lowercase && (f & unicode::kHasLower)) {
      char32_t buf[unicode::kMaxLowercase];
      std::size_t k = unicode::to_lower(cp, buf);
      for (std::size_t j = 0; j < k; ++j) unicode::append_utf8(out, buf[j]);
    } else {
      unicode::append_utf8(out, cp);
    }
  }

  // With kAlign, every byte appended to out gets an entry in sc.align: the current character's bytes
  // before the pending marks are written, then each mark's own source.
  template <bool kAlign>
  void flush_pending(Scratch& sc, std::string& out) const {
    if (sc.pending.empty()) return;
    if (sc.pending.size() > 1) {
      // The reference's alignments stay by position when NFD reorders marks: the k-th mark written keeps the
      // source of the k-th mark read.
      if constexpr (kAlign) {
        sc.pending_from.clear();
        for (const Pending& p : sc.pending) sc.pending_from.push_back(p.from);
      }
      std::stable_sort(sc.pending.begin(), sc.pending.end(), [](const Pending& x, const Pending& y) {
        return unicode::reorder_rank(x.c) < unicode::reorder_rank(y.c);
      });
      if constexpr (kAlign)
        for (std::size_t k = 0; k < sc.pending.size(); ++k) sc.pending[k].from = sc.pending_from[k];
    }
    if constexpr (kAlign) sc.align.resize(out.size(), sc.cur);
    for (const Pending& p : sc.pending) {
      emit_lower(p.c, unicode::flags(p.c), out);
      if constexpr (kAlign) sc.align.resize(out.size(), p.from);
    }
    sc.pending.clear();
  }

  // strip_accents = NFD, then drop Mn. Canonical reordering only matters among the non-starters that survive,
  // so only those wait in `pending`; any starter (kept or dropped) ends the run.
  template <bool kAlign>
  void stage_strip(char32_t cp, std::uint16_t f, Scratch& sc, std::string& out) const {
    if (!norm.strip_accents) {
      emit_lower(cp, f, out);
      return;
    }
    char32_t buf[unicode::kMaxDecomposition];
    std::size_t k = 1;
    buf[0] = cp;
    if (f & unicode::kHasNfd) k = unicode::decompose(cp, buf);
    for (std::size_t j = 0; j < k; ++j) {
      char32_t d = buf[j];
      std::uint16_t fd = k == 1 ? f : unicode::flags(d);
      if (fd & unicode::kNonStarter) {
        if (!(fd & unicode::kMark)) sc.pending.push_back({d, sc.cur});
        continue;
      }
      flush_pending<kAlign>(sc, out);
      if (fd & unicode::kMark) continue;
      emit_lower(d, fd, out);
    }
  }

  // kAlign also records in sc.align the source of every output byte, as input byte ranges shifted by base
  // (the segment's place in the whole text); the reference's alignments, in bytes.
  template <bool kAlign>
  void normalize_into(std::string_view in, Scratch& sc, std::string& out, std::uint32_t base = 0) const {
    out.clear();
    if constexpr (kAlign) sc.align.clear();
    if (!has_normalizer) {
      out.assign(in.data(), in.size());
      if constexpr (kAlign)
        for (std::uint32_t k = 0; k < static_cast<std::uint32_t>(in.size()); ++k) sc.align.push_back({base + k, base + k + 1});
      return;
    }
    sc.pending.clear();
    const std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n) {
      unsigned char b = static_cast<unsigned char>(in[i]);
      if (b < 0x80) {
        if (!sc.pending.empty()) flush_pending<kAlign>(sc, out);
        std::int16_t o = ascii_out[b];
        if (o >= 0) {
          out.push_back(static_cast<char>(o));
          if constexpr (kAlign) sc.align.push_back({base + static_cast<std::uint32_t>(i), base + static_cast<std::uint32_t>(i) + 1});
        }
        ++i;
        continue;
      }
      const std::size_t char_start = i;
      char32_t cp = unicode::next_utf8(in, i);
      sc.cur = {base + static_cast<std::uint32_t>(char_start), base + static_cast<std::uint32_t>(i)};
      std::uint16_t f = unicode::flags(cp);
      if (norm.clean_text) {
        if (f & unicode::kRemove) continue;
        if (f & unicode::kNormSpace) {
          cp = ' ';
          f = unicode::flags(cp);
        }
      }
      if (norm.handle_chinese_chars && (f & unicode::kCjk)) {
        std::uint16_t fs = unicode::flags(' ');
        stage_strip<kAlign>(' ', fs, sc, out);
        stage_strip<kAlign>(cp, f, sc, out);
        stage_strip<kAlign>(' ', fs, sc, out);
      } else {
        stage_strip<kAlign>(cp, f, sc, out);
      }
      if constexpr (kAlign) sc.align.resize(out.size(), sc.cur);
    }
    flush_pending<kAlign>(sc, out);
  }

  void wordpiece(std::string_view w, std::vector<std::int32_t>& out, const SpanSink* sink) const {
    const std::size_t mark = out.size(), n = w.size();
    std::size_t start = 0;
    while (start < n) {
      const VocabTable& table = start == 0 ? vocab : *cont;
      std::size_t end = n;
      if (end - start > table.max_len()) {
        end = start + table.max_len();
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      }
      std::int32_t id = -1;
      while (end > start) {
        id = table.find(w.substr(start, end - start));
        if (id >= 0) break;
        --end;
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      }
      if (id < 0) {
        out.resize(mark);
        out.push_back(unk_id);
        if (sink) {
          sink->spans->resize(mark);
          sink->spans->push_back(kNoSpan);
        }
        return;
      }
      out.push_back(id);
      if (sink) sink->spans->push_back(sink->of(w.data() + start, w.data() + end));
      start = end;
    }
  }

  void word(std::string_view w, std::size_t chars, std::vector<std::int32_t>& out, const SpanSink* sink = nullptr) const {
    if (chars > max_input_chars_per_word) {
      out.push_back(unk_id);
      if (sink) sink->spans->push_back(kNoSpan);
    } else {
      wordpiece(w, out, sink);
    }
  }

  template <class OnWord>
  void for_each_word(std::string_view s, OnWord&& on_word) const {
    if (!bert_pretokenizer) {
      if (s.empty()) return;
      std::size_t chars = 0;
      for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
      on_word(s, chars);
      return;
    }
    const std::size_t n = s.size();
    std::size_t i = 0, word_start = 0, chars = 0;
    bool in_word = false;
    while (i < n) {
      const std::size_t at = i;
      unsigned char b = static_cast<unsigned char>(s[i]);
      std::uint16_t f;
      if (b < 0x80) {
        f = ascii_flags[b];
        ++i;
      } else {
        f = unicode::flags(unicode::next_utf8(s, i));
      }
      if (f & (unicode::kSpace | unicode::kPunct)) {
        if (in_word) on_word(s.substr(word_start, at - word_start), chars);
        in_word = false;
        if (f & unicode::kPunct) on_word(s.substr(at, i - at), 1);
      } else {
        if (!in_word) {
          in_word = true;
          word_start = at;
          chars = 0;
        }
        ++chars;
      }
    }
    if (in_word) on_word(s.substr(word_start), chars);
  }

  void model_segment(std::string_view normalized, std::vector<std::int32_t>& out,
                     std::vector<std::uint32_t>* units, const SpanSink* sink) const {
    for_each_word(normalized, [&](std::string_view w, std::size_t chars) {
      word(w, chars, out, sink);
      if (units) units->push_back(static_cast<std::uint32_t>(out.size()) << 1);
    });
  }

  // units (optional) receives one entry per word or added token, for the reference's pair-length estimate.
  void encode_sequence(std::string_view text, Scratch& sc, std::vector<std::int32_t>& out,
                       std::vector<std::uint32_t>* units = nullptr) const {
    if (!unicode::is_valid_utf8(text)) {
      sc.fixed = unicode::to_valid_utf8(text);
      text = sc.fixed;
    }
    auto push_id = [&](const AddedPattern& p, std::size_t, std::size_t) {
      out.push_back(p.id);
      if (units) units->push_back((static_cast<std::uint32_t>(out.size()) << 1) | 1u);
    };
    auto segment = [&](std::string_view seg) {
      normalize_into<false>(seg, sc, sc.norm);
      if (normalized_added.empty()) model_segment(sc.norm, out, units, nullptr);
      else normalized_added.split(sc.norm, [&](std::string_view p) { model_segment(p, out, units, nullptr); }, push_id);
    };
    if (raw_added.empty()) segment(text);
    else raw_added.split(text, segment, push_id);
  }

  // encode_sequence that also gives each token its byte range in text (spans, parallel to out). Kept apart so
  // that the batch path above stays as it was; the two share every stage.
  void encode_sequence_spans(std::string_view text, Scratch& sc, std::vector<std::int32_t>& out,
                             std::vector<std::uint32_t>* units, std::vector<Span>& spans) const {
    const bool repaired = !unicode::is_valid_utf8(text);
    if (repaired) {
      sc.fixed = unicode::to_valid_utf8(text, sc.fix_map);
      text = sc.fixed;
    }
    const std::size_t first = spans.size();
    auto added = [&](const AddedPattern& p, Span span) {
      out.push_back(p.id);
      spans.push_back(p.special ? kNoSpan : span);
      if (units) units->push_back((static_cast<std::uint32_t>(out.size()) << 1) | 1u);
    };
    auto segment = [&](std::string_view seg) {
      normalize_into<true>(seg, sc, sc.norm, static_cast<std::uint32_t>(seg.data() - text.data()));
      const SpanSink sink{sc.norm.data(), &sc.align, &spans};
      if (normalized_added.empty()) {
        model_segment(sc.norm, out, units, &sink);
        return;
      }
      normalized_added.split(
          sc.norm, [&](std::string_view p) { model_segment(p, out, units, &sink); },
          [&](const AddedPattern& p, std::size_t b, std::size_t e) {
            added(p, sink.of(sc.norm.data() + b, sc.norm.data() + e));
          });
    };
    auto raw = [&](const AddedPattern& p, std::size_t b, std::size_t e) {
      added(p, {static_cast<std::int32_t>(b), static_cast<std::int32_t>(e)});
    };
    if (raw_added.empty()) segment(text);
    else raw_added.split(text, segment, raw);
    if (repaired)
      for (std::size_t k = first; k < spans.size(); ++k)
        if (spans[k].start >= 0)
          spans[k] = {static_cast<std::int32_t>(sc.fix_map[spans[k].start]), static_cast<std::int32_t>(sc.fix_map[spans[k].stop])};
  }
};

WordPieceTokenizer::WordPieceTokenizer() : impl_(new Impl) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;

std::size_t WordPieceTokenizer::special_token_count(bool pair) const {
  return pair ? impl_->pair_added : impl_->single_added;
}

std::int32_t WordPieceTokenizer::token_to_id(std::string_view token) const { return impl_->vocab.find(token); }

std::string WordPieceTokenizer::normalize(std::string_view text) const {
  Scratch sc;
  std::string out;
  std::string_view t = text;
  if (!unicode::is_valid_utf8(t)) {
    sc.fixed = unicode::to_valid_utf8(t);
    t = sc.fixed;
  }
  impl_->normalize_into<false>(t, sc, out);
  return out;
}

std::vector<std::string> WordPieceTokenizer::pre_tokenize(std::string_view normalized) const {
  std::vector<std::string> words;
  std::string fixed;
  if (!unicode::is_valid_utf8(normalized)) {
    fixed = unicode::to_valid_utf8(normalized);
    normalized = fixed;
  }
  impl_->for_each_word(normalized, [&](std::string_view w, std::size_t) { words.emplace_back(w); });
  return words;
}

std::vector<std::int32_t> WordPieceTokenizer::tokenize_word(std::string_view word) const {
  std::vector<std::int32_t> out;
  std::string fixed;
  if (!unicode::is_valid_utf8(word)) {
    fixed = unicode::to_valid_utf8(word);
    word = fixed;
  }
  std::size_t chars = 0;
  for (unsigned char c : word) chars += (c & 0xC0) != 0x80;
  if (!word.empty()) impl_->word(word, chars, out, nullptr);
  return out;
}

std::vector<std::int32_t> WordPieceTokenizer::encode_sequence(std::string_view text) const {
  Scratch sc;
  std::vector<std::int32_t> out;
  impl_->encode_sequence(text, sc, out);
  return out;
}

// ---- truncation: utils/truncation.rs, step for step ----------------------------------------------------

namespace {
template <class T>
bool cut(std::vector<T>& v, std::size_t keep, TruncationSide side) {
  if (v.size() <= keep) return false;
  if (side == TruncationSide::Right) v.resize(keep);
  else v.erase(v.begin(), v.end() - static_cast<std::ptrdiff_t>(keep));
  return true;
}
}  // namespace

std::size_t reference_length(const std::vector<std::uint32_t>& units, std::size_t max_length, TruncationSide side) {
  std::size_t total = 0;
  const std::size_t n = units.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = side == TruncationSide::Right ? k : n - 1 - k;
    std::size_t end = units[i] >> 1;
    std::size_t begin = i == 0 ? 0 : units[i - 1] >> 1;
    total += end - begin;
    if (!(units[i] & 1u) && total >= max_length) break;
  }
  return total;
}

bool truncate_pair(std::vector<std::int32_t>& a, std::vector<std::int32_t>* b, std::size_t max_len,
                   TruncationStrategy strategy, TruncationSide side, std::size_t len_a, std::size_t len_b) {
  if (max_len == 0) {
    bool changed = cut(a, 0, side);
    if (b) changed = cut(*b, 0, side) || changed;
    return changed;
  }
  const std::size_t total = a.size() + (b ? b->size() : 0);
  if (total <= max_len) return false;
  const std::size_t to_remove = total - max_len;
  if (strategy == TruncationStrategy::LongestFirst) {
    if (!b) return cut(a, total - to_remove, side);
    std::size_t n1 = std::min(a.size(), len_a), n2 = std::min(b->size(), len_b);
    bool swapped = false;
    if (n1 > n2) {
      swapped = true;
      std::swap(n1, n2);
    }
    if (n1 > max_len) n2 = n1;
    else n2 = std::max(n1, max_len - n1);
    if (n1 + n2 > max_len) {
      n1 = max_len / 2;
      n2 = n1 + max_len % 2;
    }
    if (swapped) std::swap(n1, n2);
    bool changed = cut(a, n1, side);
    changed = cut(*b, n2, side) || changed;
    return changed;
  }
  if (!b)
    throw TokenizerEncodeError("only_second truncation needs a second text, but this single text is " +
                               std::to_string(a.size()) + " tokens over the " + std::to_string(max_len) +
                               " that max_length leaves; use truncation 'longest_first'");
  if (b->size() <= to_remove)
    throw TokenizerEncodeError("only_second truncation cannot fit it: the first text alone is " +
                               std::to_string(a.size()) + " tokens and max_length leaves " + std::to_string(max_len) +
                               " for both texts; use truncation 'longest_first' or a larger maxLength");
  return cut(*b, b->size() - to_remove, side);
}

void WordPieceTokenizer::encode_batch(const std::string_view* first, const std::string_view* second, std::size_t n,
                                      const EncodeOptions& opts, RaggedBatch& out) const {
  const Impl& im = *impl_;
  const bool pair = second != nullptr;
  const std::size_t added = pair ? im.pair_added : im.single_added;
  if (opts.max_length < added)
    throw TokenizerEncodeError("max_length " + std::to_string(opts.max_length) + " is below the " +
                               std::to_string(added) + " special tokens every " + (pair ? "pair" : "single text") +
                               " gets; pass a larger maxLength");
  const std::size_t budget = opts.max_length - added;
  const auto& tpl = pair ? im.pair_tpl : im.single_tpl;
  out.clear();
  out.offsets.reserve(n + 1);
  out.truncated.reserve(n);
  out.offsets.push_back(0);
  Scratch sc;
  for (std::size_t i = 0; i < n; ++i) {
    sc.a.clear();
    sc.b.clear();
    sc.units_a.clear();
    sc.units_b.clear();
    if (opts.offsets) {
      sc.spans_a.clear();
      sc.spans_b.clear();
      im.encode_sequence_spans(first[i], sc, sc.a, pair ? &sc.units_a : nullptr, sc.spans_a);
      if (pair) im.encode_sequence_spans(second[i], sc, sc.b, &sc.units_b, sc.spans_b);
    } else {
      im.encode_sequence(first[i], sc, sc.a, pair ? &sc.units_a : nullptr);
      if (pair) im.encode_sequence(second[i], sc, sc.b, &sc.units_b);
    }
    bool truncated;
    try {
      std::size_t len_a = sc.a.size(), len_b = sc.b.size();
      if (pair && len_a + len_b > budget) {
        len_a = reference_length(sc.units_a, opts.max_length, opts.side);
        len_b = reference_length(sc.units_b, opts.max_length, opts.side);
      }
      truncated = truncate_pair(sc.a, pair ? &sc.b : nullptr, budget, opts.strategy, opts.side, len_a, len_b);
    } catch (const TokenizerEncodeError& e) {
      throw TokenizerEncodeError("item " + std::to_string(i) + ": " + e.what());
    }
    for (const Piece& p : tpl) {
      const std::vector<std::int32_t>& src =
          p.kind == Piece::Kind::A ? sc.a : p.kind == Piece::Kind::B ? sc.b : p.ids;
      out.ids.insert(out.ids.end(), src.begin(), src.end());
      out.type_ids.insert(out.type_ids.end(), src.size(), p.type_id);
      if (opts.offsets) {
        if (p.kind == Piece::Kind::Special) {
          out.starts.insert(out.starts.end(), src.size(), -1);
          out.stops.insert(out.stops.end(), src.size(), -1);
          continue;
        }
        std::vector<Span>& spans = p.kind == Piece::Kind::A ? sc.spans_a : sc.spans_b;
        cut(spans, src.size(), opts.side);  // truncation cut the ids; the spans follow
        for (const Span& s : spans) {
          out.starts.push_back(s.start);
          out.stops.push_back(s.stop);
        }
      }
    }
    if (out.ids.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      throw TokenizerEncodeError("the batch holds more than 2^31 tokens; encode it in smaller batches");
    out.offsets.push_back(static_cast<std::int32_t>(out.ids.size()));
    out.truncated.push_back(truncated ? 1 : 0);
  }
}

// ---- loading tokenizer.json -----------------------------------------------------------------------------

namespace {

struct Loader {
  std::string_view source;

  [[noreturn]] void fail(const std::string& msg) const { load_fail(source, msg); }

  const json::Value& object(const json::Value* v, const std::string& path) const {
    if (!v || !v->is_object()) fail(path + " must be an object (found " + json_type(v) + ")");
    return *v;
  }
  std::string str(const json::Value* v, const std::string& path) const {
    if (!v || !v->is_string()) fail(path + " must be a string (found " + json_type(v) + ")");
    return v->string;
  }
  bool boolean(const json::Value* v, const std::string& path, bool dflt) const {
    if (!v || v->is_null()) return dflt;
    if (!v->is_bool()) fail(path + " must be true or false (found " + json_type(v) + ")");
    return v->boolean;
  }
  std::int64_t integer(const json::Value* v, const std::string& path, std::int64_t lo, std::int64_t hi) const {
    if (!v || !v->is_number() || std::floor(v->number) != v->number || v->number < static_cast<double>(lo) ||
        v->number > static_cast<double>(hi))
      fail(path + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (found " +
           (v && v->is_number() ? std::to_string(v->number) : std::string(json_type(v))) + ")");
    return static_cast<std::int64_t>(v->number);
  }
  std::string type_of(const json::Value& v, const std::string& path) const {
    return str(v.get("type"), path + ".type");
  }
};

constexpr std::int64_t kMaxId = std::numeric_limits<std::int32_t>::max();

}  // namespace

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_json(std::string_view text, std::string_view source) {
  Loader L{source};
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const json::JsonError& e) {
    L.fail(std::string("not a tokenizer.json: ") + e.what());
  }
  if (!root.is_object()) L.fail(std::string("not a tokenizer.json: the top level is ") + json_type(&root) + ", not an object");

  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  Impl& im = *tok->impl_;

  // model
  const json::Value* model = root.get("model");
  if (!model) L.fail("model is missing; a tokenizer.json needs a WordPiece model");
  L.object(model, "model");
  const json::Value* mtype = model->get("type");
  if (!mtype) L.fail("model.type is missing; crossgate reads WordPiece (BERT-family) models only");
  std::string model_type = L.str(mtype, "model.type");
  if (model_type != "WordPiece")
    L.fail("model.type '" + model_type + "' is not supported; crossgate reads WordPiece (BERT-family) models only");
  const json::Value* vocab = model->get("vocab");
  if (!vocab) L.fail("model.vocab is missing; a WordPiece model needs its vocabulary");
  L.object(vocab, "model.vocab");
  if (vocab->object.empty()) L.fail("model.vocab is empty");
  std::string prefix = "##";
  if (const json::Value* p = model->get("continuing_subword_prefix"); p && !p->is_null())
    prefix = L.str(p, "model.continuing_subword_prefix");
  std::string unk = "[UNK]";
  if (const json::Value* u = model->get("unk_token"); u && !u->is_null()) unk = L.str(u, "model.unk_token");
  if (const json::Value* m = model->get("max_input_chars_per_word"); m && !m->is_null())
    im.max_input_chars_per_word =
        static_cast<std::size_t>(L.integer(m, "model.max_input_chars_per_word", 0, std::numeric_limits<std::int32_t>::max()));

  std::vector<std::pair<std::string, std::int32_t>> entries, cont_entries;
  entries.reserve(vocab->object.size());
  for (const auto& kv : vocab->object) {
    auto id = static_cast<std::int32_t>(L.integer(&kv.second, "model.vocab[\"" + kv.first + "\"]", 0, kMaxId));
    entries.emplace_back(kv.first, id);
    if (!prefix.empty() && kv.first.compare(0, prefix.size(), prefix) == 0)
      cont_entries.emplace_back(kv.first.substr(prefix.size()), id);
  }
  im.vocab.build(entries);
  if (prefix.empty()) {
    im.cont = &im.vocab;
  } else {
    im.cont_storage.build(cont_entries);
    im.cont = &im.cont_storage;
  }
  im.unk_id = im.vocab.find(unk);
  if (im.unk_id < 0) L.fail("model.unk_token '" + unk + "' is not in model.vocab; WordPiece needs it for unknown words");

  // normalizer
  const json::Value* nz = root.get("normalizer");
  if (nz && !nz->is_null()) {
    L.object(nz, "normalizer");
    std::string t = L.type_of(*nz, "normalizer");
    if (t != "BertNormalizer")
      L.fail("normalizer.type '" + t + "' is not supported; crossgate reads BertNormalizer (or null) only");
    im.has_normalizer = true;
    im.norm.clean_text = L.boolean(nz->get("clean_text"), "normalizer.clean_text", true);
    im.norm.handle_chinese_chars = L.boolean(nz->get("handle_chinese_chars"), "normalizer.handle_chinese_chars", true);
    im.norm.lowercase = L.boolean(nz->get("lowercase"), "normalizer.lowercase", true);
    // null strip_accents follows lowercase, as in the reference.
    im.norm.strip_accents = L.boolean(nz->get("strip_accents"), "normalizer.strip_accents", im.norm.lowercase);
  }

  // pre-tokenizer
  const json::Value* pt = root.get("pre_tokenizer");
  if (pt && !pt->is_null()) {
    L.object(pt, "pre_tokenizer");
    std::string t = L.type_of(*pt, "pre_tokenizer");
    if (t != "BertPreTokenizer")
      L.fail("pre_tokenizer.type '" + t + "' is not supported; crossgate reads BertPreTokenizer (or null) only");
    im.bert_pretokenizer = true;
  }

  // post-processor
  const json::Value* pp = root.get("post_processor");
  if (pp && !pp->is_null()) {
    L.object(pp, "post_processor");
    std::string t = L.type_of(*pp, "post_processor");
    if (t == "BertProcessing") {
      auto special = [&](const char* key) {
        const json::Value* v = pp->get(key);
        std::string path = std::string("post_processor.") + key;
        if (!v || !v->is_array() || v->array.size() != 2)
          L.fail(path + " must be a [token, id] pair (found " + json_type(v) + ")");
        L.str(&v->array[0], path + "[0]");
        return static_cast<std::int32_t>(L.integer(&v->array[1], path + "[1]", 0, kMaxId));
      };
      std::int32_t sep = special("sep"), cls = special("cls");
      using K = Piece::Kind;
      im.single_tpl = {{K::Special, 0, {cls}}, {K::A, 0, {}}, {K::Special, 0, {sep}}};
      im.pair_tpl = {{K::Special, 0, {cls}}, {K::A, 0, {}}, {K::Special, 0, {sep}}, {K::B, 1, {}}, {K::Special, 1, {sep}}};
    } else if (t == "TemplateProcessing") {
      const json::Value& specials = L.object(pp->get("special_tokens"), "post_processor.special_tokens");
      auto parse_tpl = [&](const char* key, bool pair) {
        std::string path = std::string("post_processor.") + key;
        const json::Value* arr = pp->get(key);
        if (!arr || !arr->is_array()) L.fail(path + " must be an array (found " + json_type(arr) + ")");
        std::vector<Piece> tpl;
        int seen_a = 0, seen_b = 0;
        for (std::size_t i = 0; i < arr->array.size(); ++i) {
          std::string ip = path + "[" + std::to_string(i) + "]";
          const json::Value& item = L.object(&arr->array[i], ip);
          if (item.object.size() != 1) L.fail(ip + " must hold exactly one of Sequence or SpecialToken");
          const std::string& kind = item.object[0].first;
          const json::Value& body = L.object(&item.object[0].second, ip + "." + kind);
          auto type_id = static_cast<std::uint8_t>(L.integer(body.get("type_id"), ip + "." + kind + ".type_id", 0, 255));
          std::string id = L.str(body.get("id"), ip + "." + kind + ".id");
          if (kind == "Sequence") {
            if (id == "A") {
              ++seen_a;
              tpl.push_back({Piece::Kind::A, type_id, {}});
            } else if (id == "B") {
              ++seen_b;
              tpl.push_back({Piece::Kind::B, type_id, {}});
            } else {
              L.fail(ip + ".Sequence.id '" + id + "' must be A or B");
            }
          } else if (kind == "SpecialToken") {
            const json::Value* sp = specials.get(id);
            std::string sp_path = "post_processor.special_tokens[\"" + id + "\"]";
            if (!sp) L.fail(ip + " names special token '" + id + "', which post_processor.special_tokens lacks");
            L.object(sp, sp_path);
            const json::Value* ids = sp->get("ids");
            if (!ids || !ids->is_array() || ids->array.empty())
              L.fail(sp_path + ".ids must be a non-empty array (found " + json_type(ids) + ")");
            Piece p{Piece::Kind::Special, type_id, {}};
            for (std::size_t k = 0; k < ids->array.size(); ++k)
              p.ids.push_back(static_cast<std::int32_t>(
                  L.integer(&ids->array[k], sp_path + ".ids[" + std::to_string(k) + "]", 0, kMaxId)));
            tpl.push_back(std::move(p));
          } else {
            L.fail(ip + " holds '" + kind + "'; only Sequence and SpecialToken are supported");
          }
        }
        if (seen_a != 1 || seen_b != (pair ? 1 : 0))
          L.fail(path + std::string(pair ? " must use $A and $B once each" : " must use $A once and not $B"));
        return tpl;
      };
      im.single_tpl = parse_tpl("single", false);
      im.pair_tpl = parse_tpl("pair", true);
    } else {
      L.fail("post_processor.type '" + t +
             "' is not supported; crossgate reads TemplateProcessing or BertProcessing (or null) only");
    }
  } else {
    im.single_tpl = {{Piece::Kind::A, 0, {}}};
    im.pair_tpl = {{Piece::Kind::A, 0, {}}, {Piece::Kind::B, 1, {}}};
  }
  for (const auto& p : im.single_tpl) im.single_added += p.ids.size();
  for (const auto& p : im.pair_tpl) im.pair_added += p.ids.size();

  im.setup_ascii();

  // added tokens: specials first, then the rest, each split on raw or normalized text as the reference does.
  const json::Value* at = root.get("added_tokens");
  if (at && !at->is_null()) {
    if (!at->is_array()) L.fail(std::string("added_tokens must be an array (found ") + json_type(at) + ")");
    std::vector<std::pair<bool, AddedPattern>> specials, others;  // (normalized, pattern)
    for (std::size_t i = 0; i < at->array.size(); ++i) {
      std::string ip = "added_tokens[" + std::to_string(i) + "]";
      const json::Value& t = L.object(&at->array[i], ip);
      AddedPattern p;
      p.text = L.str(t.get("content"), ip + ".content");
      p.id = static_cast<std::int32_t>(L.integer(t.get("id"), ip + ".id", 0, kMaxId));
      // The reference resolves an added token that the model already knows to the model's id.
      if (std::int32_t known = im.vocab.find(p.text); known >= 0) p.id = known;
      p.lstrip = L.boolean(t.get("lstrip"), ip + ".lstrip", false);
      p.rstrip = L.boolean(t.get("rstrip"), ip + ".rstrip", false);
      bool special = L.boolean(t.get("special"), ip + ".special", false);
      p.special = special;
      bool normalized = L.boolean(t.get("normalized"), ip + ".normalized", !special);
      if (L.boolean(t.get("single_word"), ip + ".single_word", false))
        L.fail(ip + ".single_word is true ('" + p.text + "'); single-word added tokens are not supported");
      (special ? specials : others).emplace_back(normalized, std::move(p));
    }
    auto add = [&](std::pair<bool, AddedPattern>& e) {
      if (e.first) {
        e.second.text = tok->normalize(e.second.text);
        im.normalized_added.add(std::move(e.second));
      } else {
        im.raw_added.add(std::move(e.second));
      }
    };
    for (auto& e : specials) add(e);
    for (auto& e : others) add(e);
    im.raw_added.finish();
    im.normalized_added.finish();
  }

  // truncation / padding: only the numbers we need.
  const json::Value* tr = root.get("truncation");
  if (tr && !tr->is_null()) {
    L.object(tr, "truncation");
    tok->max_length_ = static_cast<std::size_t>(L.integer(tr->get("max_length"), "truncation.max_length", 1, kMaxId));
  }
  tok->pad_id_ = 0;
  const json::Value* pd = root.get("padding");
  if (pd && !pd->is_null() && pd->get("pad_id")) {
    L.object(pd, "padding");
    tok->pad_id_ = static_cast<std::int32_t>(L.integer(pd->get("pad_id"), "padding.pad_id", 0, kMaxId));
  } else {
    std::int32_t pad = -1;
    for (const auto& p : im.raw_added.patterns())
      if (p.text == "[PAD]") pad = p.id;
    if (pad < 0) pad = im.vocab.find("[PAD]");
    if (pad >= 0) tok->pad_id_ = pad;
  }
  return tok;
}

}  // namespace crossgate
