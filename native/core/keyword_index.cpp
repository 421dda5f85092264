// keyword_index.cpp: KeywordIndex postings (delta + varint), term-at-a-time BM25 scoring with a top-k heap,
// compaction on remove, and the file: 48-byte header (magic, version, sizes, header CRC) + body + CRC32C.
#include "keyword_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include "crc32c.h"
#include "atomic_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the keyword index file format is written with the host byte order, which must be little-endian"
#endif

namespace crossgate {

namespace {

constexpr char kMagic[8] = {'C', 'G', 'K', 'E', 'Y', 'I', 'D', 'X'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 48;
constexpr size_t kHeaderCrcOffset = 40;
constexpr size_t kIoChunk = size_t{4} << 20;

[[noreturn]] void corrupt(const std::string& name, const std::string& what) {
  throw IndexError(IndexError::Kind::Corrupt, "crossgate keyword index file '" + name + "': " + what);
}
[[noreturn]] void io_error(const std::string& what, int err) {
  throw IndexError(IndexError::Kind::Io, what + ": " + std::strerror(err));
}
[[noreturn]] void range_error(const std::string& what) { throw IndexError(IndexError::Kind::Range, what); }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

inline void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Unchecked decode for postings the index wrote itself (the loader validates files before they get here).
inline uint32_t get_varint32(const uint8_t*& p) {
  uint32_t v = *p & 0x7F;
  if (!(*p++ & 0x80)) return v;
  int shift = 7;
  for (;;) {
    const uint8_t c = *p++;
    v |= static_cast<uint32_t>(c & 0x7F) << shift;
    if (!(c & 0x80)) return v;
    shift += 7;
  }
}

// One posting, decoded.
struct Posting {
  uint32_t doc, tf_text, tf_title;
};

// Walks a posting list the index wrote.
class PostingReader {
 public:
  PostingReader(const std::vector<uint8_t>& bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  bool next(Posting* out) {
    if (p_ >= end_) return false;
    doc_ += get_varint32(p_);
    out->doc = doc_;
    ++doc_;
    const uint32_t combo = get_varint32(p_);
    out->tf_text = combo >> 1;
    out->tf_title = (combo & 1) ? get_varint32(p_) : 0;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t doc_ = 0;
};

void append_posting(std::vector<uint8_t>& out, uint32_t gap, uint32_t tf_text, uint32_t tf_title) {
  put_varint(out, gap);
  put_varint(out, (static_cast<uint64_t>(tf_text) << 1) | (tf_title ? 1u : 0u));
  if (tf_title) put_varint(out, tf_title);
}

double combined_length(const bm25::Params& p, uint32_t title, uint32_t text) {
  return p.title_weight * static_cast<double>(title) + static_cast<double>(text);
}

uint8_t norm_byte(const bm25::Params& p, uint32_t title, uint32_t text) {
  const double l = std::round(combined_length(p, title, text));
  return bm25::int_to_byte4(l >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(l));
}

struct Hit {
  uint32_t doc;
  float score;
};
inline bool better(const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.doc < b.doc); }
struct Better {
  bool operator()(const Hit& a, const Hit& b) const { return better(a, b); }
};

}  // namespace

KeywordIndex::KeywordIndex(analysis::AnalyzerOptions analyzer, bm25::Params params)
    : analyzer_((analysis::check_options(analyzer), std::move(analyzer))), params_(params) {
  const std::string bad = bm25::check_params(params_);
  if (!bad.empty()) range_error(bad);
}

size_t KeywordIndex::count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return ids_.size();
}

bool KeywordIndex::has(uint64_t id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return doc_of_.count(id) != 0;
}

KeywordStats KeywordIndex::stats() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  KeywordStats s;
  s.docs = ids_.size();
  s.terms = terms_.size();
  s.postings = postings_;
  for (const auto& t : terms_) {
    s.postings_bytes += t.postings.size();
    s.memory_bytes += t.postings.capacity() + sizeof(Term) + t.text.capacity() + 48;  // + map node
  }
  s.memory_bytes += ids_.size() * (8 + 4 + 4 + 1 + 1 + 32);
  const double n = static_cast<double>(nonempty_);
  s.avg_length = n > 0 ? (params_.title_weight * static_cast<double>(sum_title_) + static_cast<double>(sum_text_)) / n : 0;
  return s;
}

void KeywordIndex::add(const KeywordDocument* docs, size_t n) {
  if (n == 0) return;
  std::vector<std::pair<uint64_t, size_t>> sorted(n);
  for (size_t i = 0; i < n; ++i) {
    if (docs[i].id > kMaxId) {
      range_error("ids[" + std::to_string(i) + "] is " + std::to_string(docs[i].id) + "; ids must be integers from 0 to 2^53 - 1");
    }
    sorted[i] = {docs[i].id, i};
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < n; ++i) {
    if (sorted[i].first == sorted[i - 1].first) {
      range_error("ids[" + std::to_string(sorted[i].second) + "] = " + std::to_string(sorted[i].first) + " repeats ids[" +
                  std::to_string(sorted[i - 1].second) + "]; ids must be unique");
    }
  }

  // Analyse outside the lock: searches keep running while a large batch is tokenized.
  struct Analysed {
    std::vector<std::pair<std::string, std::pair<uint32_t, uint32_t>>> tfs;  // term -> (tf_text, tf_title), first-seen order
    uint32_t len_title = 0, len_text = 0;
  };
  std::vector<Analysed> analysed(n);
  std::unordered_map<std::string, uint32_t> slot;
  for (size_t i = 0; i < n; ++i) {
    Analysed& a = analysed[i];
    slot.clear();
    auto count_field = [&](std::string_view text, bool title) {
      uint64_t len = 0;
      analyzer_.analyze(text, [&](const std::string& term) {
        ++len;
        // find() first: emplace() would build a node (and copy the term) for every token, even repeats.
        auto it = slot.find(term);
        if (it == slot.end()) {
          it = slot.emplace(term, static_cast<uint32_t>(a.tfs.size())).first;
          a.tfs.push_back({term, {0, 0}});
        }
        auto& tf = a.tfs[it->second].second;
        if (title) {
          if (tf.second < 0xFFFFFFFFu) ++tf.second;
        } else {
          if (tf.first < 0x7FFFFFFFu) ++tf.first;
        }
      });
      if (len > 0x7FFFFFFFu) {
        range_error("documents[" + std::to_string(i) + "] has " + std::to_string(len) + " terms in its " +
                    (title ? "title" : "text") + "; the limit is 2^31 - 1; split the document");
      }
      return static_cast<uint32_t>(len);
    };
    a.len_title = count_field(docs[i].title, true);
    a.len_text = count_field(docs[i].text, false);
  }

  std::unique_lock<std::shared_mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    if (doc_of_.count(docs[i].id)) {
      range_error("ids[" + std::to_string(i) + "] = " + std::to_string(docs[i].id) +
                  " is already in the index; remove it first or use a new id");
    }
  }
  if (ids_.size() + n > kMaxKeywordDocs) {
    range_error("adding " + std::to_string(n) + " documents would exceed the limit of " + std::to_string(kMaxKeywordDocs));
  }
  // Undo log: every term's state before its first change in this call, and the terms this call created.
  struct Undo {
    uint32_t term;
    size_t bytes;
    uint32_t df, next_doc;
  };
  std::vector<Undo> undo;
  std::vector<uint8_t> touched(terms_.size(), 0);
  const size_t old_docs = ids_.size(), old_terms = terms_.size();
  const uint64_t old_postings = postings_, old_title = sum_title_, old_text = sum_text_, old_nonempty = nonempty_;
  try {
    ids_.reserve(old_docs + n);
    len_title_.reserve(old_docs + n);
    len_text_.reserve(old_docs + n);
    norm_.reserve(old_docs + n);
    dead_.reserve(old_docs + n);
    doc_of_.reserve(old_docs + n);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t doc = static_cast<uint32_t>(ids_.size());
      const Analysed& a = analysed[i];
      for (const auto& [text, tf] : a.tfs) {
        auto it = term_of_.find(text);
        uint32_t t;
        if (it == term_of_.end()) {
          t = static_cast<uint32_t>(terms_.size());
          terms_.push_back(Term{text, {}, 0, 0});
          term_of_.emplace(text, t);
        } else {
          t = it->second;
          if (t < old_terms && !touched[t]) {
            touched[t] = 1;
            undo.push_back({t, terms_[t].postings.size(), terms_[t].df, terms_[t].next_doc});
          }
        }
        Term& term = terms_[t];
        append_posting(term.postings, doc - term.next_doc, tf.first, tf.second);
        term.next_doc = doc + 1;
        ++term.df;
        ++postings_;
      }
      ids_.push_back(docs[i].id);
      len_title_.push_back(a.len_title);
      len_text_.push_back(a.len_text);
      norm_.push_back(norm_byte(params_, a.len_title, a.len_text));
      dead_.push_back(0);
      doc_of_.emplace(docs[i].id, doc);
      sum_title_ += a.len_title;
      sum_text_ += a.len_text;
      if (a.len_title + uint64_t{a.len_text} > 0) ++nonempty_;
    }
  } catch (...) {
    for (const Undo& u : undo) {
      terms_[u.term].postings.resize(u.bytes);
      terms_[u.term].df = u.df;
      terms_[u.term].next_doc = u.next_doc;
    }
    for (size_t t = old_terms; t < terms_.size(); ++t) term_of_.erase(terms_[t].text);
    terms_.resize(old_terms);
    for (size_t d = old_docs; d < ids_.size(); ++d) doc_of_.erase(ids_[d]);
    ids_.resize(old_docs);
    len_title_.resize(old_docs);
    len_text_.resize(old_docs);
    norm_.resize(old_docs);
    dead_.resize(old_docs);
    postings_ = old_postings;
    sum_title_ = old_title;
    sum_text_ = old_text;
    nonempty_ = old_nonempty;
    throw;
  }
}

size_t KeywordIndex::remove(const uint64_t* ids, size_t n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  size_t removed = 0;
  for (size_t i = 0; i < n; ++i) {
    auto it = doc_of_.find(ids[i]);
    if (it == doc_of_.end()) continue;
    dead_[it->second] = 1;
    doc_of_.erase(it);
    ++removed;
  }
  if (removed) compact();
  return removed;
}

void KeywordIndex::compact() {
  const uint32_t n = static_cast<uint32_t>(ids_.size());
  std::vector<uint32_t> renumber(n);
  uint32_t live = 0;
  for (uint32_t d = 0; d < n; ++d) renumber[d] = dead_[d] ? 0xFFFFFFFFu : live++;
  std::vector<Term> kept;
  kept.reserve(terms_.size());
  uint64_t postings = 0;
  for (Term& t : terms_) {
    Term nt{std::move(t.text), {}, 0, 0};
    PostingReader r(t.postings);
    Posting p;
    while (r.next(&p)) {
      const uint32_t nd = renumber[p.doc];
      if (nd == 0xFFFFFFFFu) continue;
      append_posting(nt.postings, nd - nt.next_doc, p.tf_text, p.tf_title);
      nt.next_doc = nd + 1;
      ++nt.df;
    }
    if (nt.df == 0) continue;  // the term lived only in removed documents
    nt.postings.shrink_to_fit();
    postings += nt.df;
    kept.push_back(std::move(nt));
  }
  terms_ = std::move(kept);
  term_of_.clear();
  term_of_.reserve(terms_.size());
  for (uint32_t t = 0; t < terms_.size(); ++t) term_of_.emplace(terms_[t].text, t);
  postings_ = postings;
  uint32_t w = 0;
  sum_title_ = sum_text_ = nonempty_ = 0;
  for (uint32_t d = 0; d < n; ++d) {
    if (dead_[d]) continue;
    ids_[w] = ids_[d];
    len_title_[w] = len_title_[d];
    len_text_[w] = len_text_[d];
    norm_[w] = norm_[d];
    dead_[w] = 0;
    doc_of_[ids_[w]] = w;
    sum_title_ += len_title_[w];
    sum_text_ += len_text_[w];
    if (len_title_[w] + uint64_t{len_text_[w]} > 0) ++nonempty_;
    ++w;
  }
  ids_.resize(w);
  len_title_.resize(w);
  len_text_.resize(w);
  norm_.resize(w);
  dead_.resize(w);
}

std::vector<SearchHit> KeywordIndex::search(std::string_view query, size_t k) const {
  if (k == 0) range_error("k is 0; k must be a positive integer");
  // Query terms with their counts, in first-seen order (a repeated term weighs more, as in Lucene's BooleanQuery).
  std::vector<std::pair<std::string, uint32_t>> qterms;
  {
    std::unordered_map<std::string, size_t> seen;
    size_t total = 0;
    analyzer_.analyze(query, [&](const std::string& t) {
      if (++total > kMaxQueryTerms) return;
      auto ins = seen.emplace(t, qterms.size());
      if (ins.second) qterms.push_back({t, 0});
      ++qterms[ins.first->second].second;
    });
    if (total > kMaxQueryTerms) {
      range_error("query has " + std::to_string(total) + " terms after analysis; the limit is " +
                  std::to_string(kMaxQueryTerms) + "; shorten the query");
    }
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  const size_t n = ids_.size();
  std::vector<SearchHit> out;
  // N counts documents with at least one term, as Lucene's docCount does; with none, nothing can match.
  const uint64_t doc_count = nonempty_;
  if (doc_count == 0 || qterms.empty()) return out;

  // Lucene computes these in float: avgdl = sumTotalTermFreq / docCount, cache[b] = 1 / (k1 (1 - b + b len / avgdl)).
  const double sum_len = params_.title_weight * static_cast<double>(sum_title_) + static_cast<double>(sum_text_);
  float avgdl = static_cast<float>(sum_len / static_cast<double>(doc_count));
  if (!(avgdl > 0)) avgdl = 1;
  const float k1 = static_cast<float>(params_.k1), b = static_cast<float>(params_.b);
  float cache[256];
  for (int i = 0; i < 256; ++i) {
    cache[i] = 1.0f / (k1 * ((1 - b) + b * static_cast<float>(bm25::byte4_to_int(static_cast<uint8_t>(i))) / avgdl));
  }
  const float tw = static_cast<float>(params_.title_weight);

  // Term at a time into a dense accumulator; `touched` lists the documents to rank and reset.
  // Per-thread scratch reused across searches; only the touched entries are reset afterwards.
  thread_local std::vector<double> acc;
  thread_local std::vector<uint32_t> touched;
  if (acc.size() < n) acc.resize(n, 0.0);
  touched.clear();
  struct Reset {
    ~Reset() {
      for (uint32_t d : touched) acc[d] = 0.0;
    }
  } reset;
  for (const auto& [text, qcount] : qterms) {
    auto it = term_of_.find(text);
    if (it == term_of_.end()) continue;
    const Term& t = terms_[it->second];
    const float weight = static_cast<float>(qcount) * bm25::idf(doc_count, t.df);
    PostingReader r(t.postings);
    Posting p;
    while (r.next(&p)) {
      const float tf = static_cast<float>(p.tf_text) + tw * static_cast<float>(p.tf_title);
      float ninv;
      if (params_.lucene_norms) {
        ninv = cache[norm_[p.doc]];
      } else {
        const float dl = static_cast<float>(combined_length(params_, len_title_[p.doc], len_text_[p.doc]));
        ninv = 1.0f / (k1 * ((1 - b) + b * dl / avgdl));
      }
      if (acc[p.doc] == 0.0) touched.push_back(p.doc);
      acc[p.doc] += static_cast<double>(bm25::term_score(weight, tf, ninv));
      // A zero contribution (k1 = 0 and idf 0) must not list the document twice.
      if (acc[p.doc] == 0.0) acc[p.doc] = std::numeric_limits<double>::denorm_min();
    }
  }
  const size_t kk = std::min(k, touched.size());
  std::vector<Hit> heap;
  heap.reserve(kk);
  for (uint32_t d : touched) {
    const Hit h{d, static_cast<float>(acc[d])};
    if (heap.size() < kk) {
      heap.push_back(h);
      std::push_heap(heap.begin(), heap.end(), Better());
    } else if (kk > 0 && better(h, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), Better());
      heap.back() = h;
      std::push_heap(heap.begin(), heap.end(), Better());
    }
  }
  std::sort_heap(heap.begin(), heap.end(), Better());
  out.reserve(heap.size());
  for (const Hit& h : heap) out.push_back(SearchHit{ids_[h.doc], h.score});
  return out;
}

// ---- file ------------------------------------------------------------------------------------

std::string KeywordIndex::serialize() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::string body;
  const auto& ao = analyzer_.options();
  put_varint(body, ao.language.size());
  body += ao.language;
  body.push_back(static_cast<char>(ao.stem));
  body.push_back(static_cast<char>(ao.fold_accents));
  body.push_back(static_cast<char>(ao.possessive));
  body.push_back(static_cast<char>(ao.stop));
  const size_t nstop = ao.stop == analysis::StopWords::Custom ? ao.stop_words.size() : 0;
  put_varint(body, nstop);
  for (size_t i = 0; i < nstop; ++i) {
    put_varint(body, ao.stop_words[i].size());
    body += ao.stop_words[i];
  }
  for (double v : {params_.k1, params_.b, params_.title_weight}) body.append(reinterpret_cast<const char*>(&v), 8);
  body.push_back(static_cast<char>(params_.lucene_norms));
  for (size_t d = 0; d < ids_.size(); ++d) {
    put_varint(body, ids_[d]);
    put_varint(body, len_title_[d]);
    put_varint(body, len_text_[d]);
  }
  // Terms sorted, so the same index always writes the same bytes and the loader can prove uniqueness cheaply.
  std::vector<uint32_t> order(terms_.size());
  for (uint32_t t = 0; t < order.size(); ++t) order[t] = t;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return terms_[a].text < terms_[b].text; });
  for (uint32_t t : order) {
    const Term& term = terms_[t];
    put_varint(body, term.text.size());
    body += term.text;
    put_varint(body, term.df);
    put_varint(body, term.postings.size());
    body.append(reinterpret_cast<const char*>(term.postings.data()), term.postings.size());
  }
  std::string file(kHeaderBytes, '\0');
  unsigned char* h = reinterpret_cast<unsigned char*>(&file[0]);
  std::memcpy(h, kMagic, 8);
  const uint32_t version = kFormatVersion, flags = 0;
  const uint64_t body_len = body.size(), docs = ids_.size(), terms = terms_.size();
  std::memcpy(h + 8, &version, 4);
  std::memcpy(h + 12, &flags, 4);
  std::memcpy(h + 16, &body_len, 8);
  std::memcpy(h + 24, &docs, 8);
  std::memcpy(h + 32, &terms, 8);
  const uint32_t hcrc = crc32c_update(0, h, kHeaderCrcOffset);
  std::memcpy(h + kHeaderCrcOffset, &hcrc, 4);
  file += body;
  const uint32_t bcrc = crc32c_update(0, body.data(), body.size());
  file.append(reinterpret_cast<const char*>(&bcrc), 4);
  return file;
}

void KeywordIndex::save(const std::string& path) const {
  const std::string bytes = serialize();
  atomic_file::save(path, "keyword index", [&bytes](atomic_file::Sink& sink) { sink.write(bytes.data(), bytes.size()); });
}

namespace {

// A bounds-checked cursor over the body; every defect is a Corrupt error naming the file and the offset.
class Cursor {
 public:
  Cursor(const unsigned char* p, size_t n, const std::string& name, size_t base) : p_(p), n_(n), name_(name), base_(base) {}
  size_t left() const { return n_ - pos_; }
  size_t offset() const { return base_ + pos_; }
  uint64_t varint(const char* what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= n_) fail(std::string("the body ends inside ") + what);
      const uint8_t c = p_[pos_++];
      if (shift == 63 && c > 1) fail(std::string(what) + " overflows 64 bits");
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    fail(std::string(what) + " is longer than 10 bytes");
  }
  // A 32-bit value in at most 5 bytes: what the postings decoder (get_varint32) can read safely.
  uint32_t varint32(const char* what) {
    const size_t start = pos_;
    const uint64_t v = varint(what);
    if (pos_ - start > 5 || v > 0xFFFFFFFFu) fail(std::string(what) + " does not fit in 32 bits");
    return static_cast<uint32_t>(v);
  }
  uint8_t byte(const char* what) {
    if (pos_ >= n_) fail(std::string("the body ends before ") + what);
    return p_[pos_++];
  }
  double f64(const char* what) {
    if (left() < 8) fail(std::string("the body ends inside ") + what);
    double v;
    std::memcpy(&v, p_ + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string_view bytes(uint64_t len, const char* what) {
    if (len > left()) fail(std::string(what) + " is " + std::to_string(len) + " bytes but only " + std::to_string(left()) + " remain");
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  [[noreturn]] void fail(const std::string& what) const { corrupt(name_, what + " (at byte " + std::to_string(offset()) + ")"); }

 private:
  const unsigned char* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& name_;
  size_t base_;
};

}  // namespace

std::unique_ptr<KeywordIndex> KeywordIndex::load_from_memory(const void* data, size_t size, const std::string& name) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (size < kHeaderBytes) {
    corrupt(name, "the file is " + std::to_string(size) + " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                      "-byte header; it is truncated or not a crossgate keyword index");
  }
  if (std::memcmp(p, kMagic, 8) != 0) corrupt(name, "bad magic; this is not a crossgate keyword index file");
  uint32_t version, hcrc_stored;
  uint64_t body_len, doc_count, term_count;
  std::memcpy(&version, p + 8, 4);
  std::memcpy(&body_len, p + 16, 8);
  std::memcpy(&doc_count, p + 24, 8);
  std::memcpy(&term_count, p + 32, 8);
  std::memcpy(&hcrc_stored, p + kHeaderCrcOffset, 4);
  if (version != kFormatVersion) {
    corrupt(name, "format version " + std::to_string(version) + " is not supported; this build reads version " +
                      std::to_string(kFormatVersion) + "; rebuild the index");
  }
  const uint32_t hcrc = crc32c_update(0, p, kHeaderCrcOffset);
  if (hcrc != hcrc_stored) {
    corrupt(name, "header checksum mismatch (stored " + hex32(hcrc_stored) + ", computed " + hex32(hcrc) + "); the file is corrupt");
  }
  if (size < kHeaderBytes + 4 || body_len != size - kHeaderBytes - 4) {
    corrupt(name, "the file is " + std::to_string(size) + " bytes but its header says the body is " + std::to_string(body_len) +
                      " bytes (file size " + std::to_string(kHeaderBytes) + " + body + 4 expected); it is truncated or has trailing bytes");
  }
  uint32_t bcrc_stored;
  std::memcpy(&bcrc_stored, p + kHeaderBytes + body_len, 4);
  const uint32_t bcrc = crc32c_update(0, p + kHeaderBytes, static_cast<size_t>(body_len));
  if (bcrc != bcrc_stored) {
    corrupt(name, "checksum mismatch (stored " + hex32(bcrc_stored) + ", computed " + hex32(bcrc) + "); the file is corrupt");
  }
  // Each document takes at least 3 body bytes and each term at least 4, so these bound every allocation.
  if (doc_count > body_len / 3 || doc_count > kMaxKeywordDocs) corrupt(name, "document count " + std::to_string(doc_count) + " cannot fit in the body");
  if (term_count > body_len / 4) corrupt(name, "term count " + std::to_string(term_count) + " cannot fit in the body");

  Cursor c(p + kHeaderBytes, static_cast<size_t>(body_len), name, kHeaderBytes);
  analysis::AnalyzerOptions ao;
  ao.language = std::string(c.bytes(c.varint("language length"), "language"));
  const uint8_t stem = c.byte("stem flag"), fold = c.byte("fold flag"), poss = c.byte("possessive flag"), stop = c.byte("stop mode");
  if (stem > 1 || fold > 1 || poss > 1 || stop > 2) c.fail("analyzer flags are not 0/1 (or stop mode 0..2)");
  ao.stem = stem;
  ao.fold_accents = fold;
  ao.possessive = poss;
  ao.stop = static_cast<analysis::StopWords>(stop);
  const uint64_t nstop = c.varint("stop word count");
  if (nstop > analysis::kMaxStopWords || (nstop > 0 && ao.stop != analysis::StopWords::Custom)) c.fail("stop word count " + std::to_string(nstop) + " is invalid");
  for (uint64_t i = 0; i < nstop; ++i) ao.stop_words.emplace_back(c.bytes(c.varint("stop word length"), "stop word"));
  bm25::Params params;
  params.k1 = c.f64("k1");
  params.b = c.f64("b");
  params.title_weight = c.f64("title weight");
  const uint8_t lucene = c.byte("norm flag");
  if (lucene > 1) c.fail("norm flag is not 0/1");
  params.lucene_norms = lucene;
  std::unique_ptr<KeywordIndex> idx;
  try {
    idx = std::make_unique<KeywordIndex>(std::move(ao), params);
  } catch (const std::exception& e) {
    c.fail(std::string("stored settings are invalid: ") + e.what());
  }
  const size_t nd = static_cast<size_t>(doc_count);
  idx->ids_.resize(nd);
  idx->len_title_.resize(nd);
  idx->len_text_.resize(nd);
  idx->norm_.resize(nd);
  idx->dead_.assign(nd, 0);
  idx->doc_of_.reserve(nd);
  for (size_t d = 0; d < nd; ++d) {
    const uint64_t id = c.varint("document id");
    const uint64_t lt = c.varint("title length"), lx = c.varint("text length");
    if (id > kMaxId) c.fail("document " + std::to_string(d) + " has id " + std::to_string(id) + ", above 2^53 - 1");
    if (lt > 0x7FFFFFFFu || lx > 0x7FFFFFFFu) c.fail("document " + std::to_string(d) + " has a length above 2^31 - 1");
    if (!idx->doc_of_.emplace(id, static_cast<uint32_t>(d)).second) c.fail("document id " + std::to_string(id) + " repeats");
    idx->ids_[d] = id;
    idx->len_title_[d] = static_cast<uint32_t>(lt);
    idx->len_text_[d] = static_cast<uint32_t>(lx);
    idx->norm_[d] = norm_byte(params, static_cast<uint32_t>(lt), static_cast<uint32_t>(lx));
    idx->sum_title_ += lt;
    idx->sum_text_ += lx;
    if (lt + lx > 0) ++idx->nonempty_;
  }
  // Postings are re-derived lengths: every document's term frequencies must add up to its stored lengths.
  std::vector<uint64_t> seen_title(nd, 0), seen_text(nd, 0);
  idx->terms_.reserve(static_cast<size_t>(term_count));
  idx->term_of_.reserve(static_cast<size_t>(term_count));
  std::string_view prev;
  for (uint64_t t = 0; t < term_count; ++t) {
    const std::string_view text = c.bytes(c.varint("term length"), "term");
    if (text.empty()) c.fail("term " + std::to_string(t) + " is empty");
    if (t > 0 && !(prev < text)) c.fail("term " + std::to_string(t) + " is out of order or repeated");
    prev = text;
    const uint64_t df = c.varint("document frequency");
    if (df == 0 || df > doc_count) c.fail("term " + std::to_string(t) + " has document frequency " + std::to_string(df) + " of " + std::to_string(doc_count) + " documents");
    const std::string_view bytes = c.bytes(c.varint("postings length"), "postings");
    Cursor pc(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), name, c.offset() - bytes.size());
    uint64_t next = 0, got = 0;
    while (pc.left() > 0) {
      const uint64_t doc = next + pc.varint32("doc gap");
      if (doc >= doc_count) pc.fail("term " + std::to_string(t) + " lists document " + std::to_string(doc) + " of " + std::to_string(doc_count));
      const uint64_t combo = pc.varint32("term frequency");
      const uint64_t tft = combo >> 1, tfi = (combo & 1) ? pc.varint32("title frequency") : 0;
      if (tft == 0 && tfi == 0) pc.fail("term " + std::to_string(t) + " has frequency 0 in document " + std::to_string(doc));
      if ((combo & 1) && tfi == 0) pc.fail("term " + std::to_string(t) + " flags a title frequency of 0");
      seen_title[doc] += tfi;
      seen_text[doc] += tft;
      if (seen_title[doc] > idx->len_title_[doc] || seen_text[doc] > idx->len_text_[doc]) {
        pc.fail("term " + std::to_string(t) + " frequencies exceed document " + std::to_string(doc) + "'s stored length");
      }
      next = doc + 1;
      ++got;
    }
    if (got != df) c.fail("term " + std::to_string(t) + " has " + std::to_string(got) + " postings but document frequency " + std::to_string(df));
    Term term{std::string(text), std::vector<uint8_t>(bytes.begin(), bytes.end()), static_cast<uint32_t>(df), static_cast<uint32_t>(next)};
    idx->term_of_.emplace(term.text, static_cast<uint32_t>(idx->terms_.size()));
    idx->terms_.push_back(std::move(term));
    idx->postings_ += df;
  }
  if (c.left() != 0) c.fail(std::to_string(c.left()) + " bytes follow the last term");
  for (size_t d = 0; d < nd; ++d) {
    if (seen_title[d] != idx->len_title_[d] || seen_text[d] != idx->len_text_[d]) {
      corrupt(name, "document " + std::to_string(d) + " (id " + std::to_string(idx->ids_[d]) + ") has stored lengths " +
                        std::to_string(idx->len_title_[d]) + "/" + std::to_string(idx->len_text_[d]) + " but its postings add up to " +
                        std::to_string(seen_title[d]) + "/" + std::to_string(seen_text[d]));
    }
  }
  return idx;
}

std::unique_ptr<KeywordIndex> KeywordIndex::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_error("cannot open crossgate keyword index file '" + path + "'", errno);
  std::string bytes;
  try {
    struct stat st;
    if (::fstat(fd, &st) != 0) io_error("cannot stat crossgate keyword index file '" + path + "'", errno);
    if (!S_ISREG(st.st_mode)) throw IndexError(IndexError::Kind::Io, "crossgate keyword index file '" + path + "' is not a regular file");
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t r = ::read(fd, &bytes[got], std::min(bytes.size() - got, kIoChunk));
      if (r < 0) {
        if (errno == EINTR) continue;
        io_error("reading crossgate keyword index file '" + path + "' failed", errno);
      }
      if (r == 0) corrupt(path, "short read: the file ended at byte " + std::to_string(got) + " (was it truncated while loading?)");
      got += static_cast<size_t>(r);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return load_from_memory(bytes.data(), bytes.size(), path);
}

}  // namespace crossgate
