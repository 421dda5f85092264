// test_keyword.cpp: the keyword analyzer's steps each alone, the Porter stemmer on the paper's examples,
// SmallFloat, BM25 scores against hand-computed values, add/remove/save/load of KeywordIndex.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "analyzer.h"
#include "bm25.h"
#include "check.h"
#include "keyword_index.h"
#include "stemmer.h"
#include "unicode.h"

using namespace crossgate;
using namespace crossgate::analysis;

namespace {

std::vector<std::string> toks(std::string_view s) {
  std::vector<std::string> out;
  tokenize(s, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "|" : "") + v[i];
  return s;
}
std::string stem(std::string w) {
  porter_stem(w);
  return w;
}
std::string fold(std::string_view s, bool f = true) {
  std::string out;
  lowercase_fold(s, f, &out);
  return out;
}
AnalyzerOptions plain() {
  AnalyzerOptions o;
  o.language = "none";
  o.stop = StopWords::None;
  return o;
}
bool close(double a, double b) { return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b)); }
std::string temp_path(const char* tag) { return "/tmp/cg_kw_" + std::string(tag) + "_" + std::to_string(::getpid()); }

}  // namespace

TEST(keyword_tokenize_splits_on_non_word_chars) {
  CHECK_EQ(join(toks("Hello, world! foo-bar_baz 3.14")), std::string("Hello|world|foo|bar|baz|3|14"));
  CHECK_EQ(join(toks("  ")), std::string(""));
  CHECK_EQ(join(toks("")), std::string(""));
  // Apostrophes between word characters stay; elsewhere they split.
  CHECK_EQ(join(toks("don't 'quoted' O'Neil's rock'n'roll'")), std::string("don't|quoted|O'Neil's|rock'n'roll"));
  CHECK_EQ(join(toks("John\xE2\x80\x99s")), std::string("John\xE2\x80\x99s"));
  // Letters of any script, marks inside words, CJK one ideograph a token.
  CHECK_EQ(join(toks("caf\xC3\xA9 \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0")), std::string("caf\xC3\xA9|\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"));
  CHECK_EQ(join(toks("\xE4\xB8\xAD\xE6\x96\x87" "ab")), std::string("\xE4\xB8\xAD|\xE6\x96\x87|ab"));
  // Symbols (euro sign, emoji) and NUL separate.
  CHECK_EQ(join(toks(std::string("a\xE2\x82\xAC" "b\xF0\x9F\x98\x80" "c\0d", 13))), std::string("a|b|c|d"));
}

TEST(keyword_tokenize_is_safe_on_ill_formed_utf8) {
  // Lone continuation bytes, an overlong NUL, a surrogate (ED A0 80), a truncated 4-byte sequence.
  const std::string bad = "ab\x80" "cd\xC0\x80" "ef\xED\xA0\x80gh\xF0\x9F";
  CHECK_EQ(join(toks(bad)), std::string("ab|cd|ef|gh"));
  for (const auto& t : toks(bad)) CHECK(unicode::is_valid_utf8(t));
}

TEST(keyword_tokenize_cuts_overlong_tokens) {
  const std::string longword(600, 'x');
  auto t = toks(longword);
  CHECK_EQ(t.size(), size_t{3});
  CHECK_EQ(t[0].size(), kMaxTokenChars);
  CHECK_EQ(t[2].size(), size_t{600 - 2 * kMaxTokenChars});
}

TEST(keyword_possessive_step) {
  std::string a = "John's", b = "dogs'", c = "JAMES'S", d = "O\xE2\x80\x99Neil\xE2\x80\x99s", e = "s";
  strip_possessive(a);
  strip_possessive(b);
  strip_possessive(c);
  strip_possessive(d);
  strip_possessive(e);
  CHECK_EQ(a, std::string("John"));
  CHECK_EQ(b, std::string("dogs'"));
  CHECK_EQ(c, std::string("JAMES"));
  CHECK_EQ(d, std::string("O\xE2\x80\x99Neil"));
  CHECK_EQ(e, std::string("s"));
}

TEST(keyword_lowercase_fold_step) {
  CHECK_EQ(fold("HeLLo"), std::string("hello"));
  CHECK_EQ(fold("Caf\xC3\xA9"), std::string("cafe"));                      // é
  CHECK_EQ(fold("Caf\xC3\xA9", false), std::string("caf\xC3\xA9"));        // lowercase only
  CHECK_EQ(fold("\xC3\x85ngstr\xC3\xB6m"), std::string("angstrom"));       // Å ö
  CHECK_EQ(fold("Stra\xC3\x9F" "e"), std::string("strasse"));              // ß
  CHECK_EQ(fold("\xC3\x86sir \xC3\x98re \xC5\x81\xC3\xB3" "d\xC5\xBA"), std::string("aesir ore lodz"));
  CHECK_EQ(fold("\xC4\xB0stanbul"), std::string("istanbul"));              // İ
  CHECK_EQ(fold("\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x8A\xCE\x91"), std::string("\xCF\x83\xCE\xBF\xCF\x86\xCE\xB9\xCE\xB1"));  // ΣΟΦΊΑ -> σοφια
}

TEST(keyword_stop_words_are_lucenes_english_set) {
  CHECK_EQ(english_stop_words().size(), size_t{33});
  Analyzer a{AnalyzerOptions{}};
  CHECK_EQ(join(a.terms("The cat is on the mat, and it was not THERE")), std::string("cat|mat"));
  AnalyzerOptions none;
  none.stop = StopWords::None;
  none.stem = false;
  CHECK_EQ(join(Analyzer(none).terms("the cat")), std::string("the|cat"));
  AnalyzerOptions custom = none;
  custom.stop = StopWords::Custom;
  custom.stop_words = {"CAT", "Caf\xC3\xA9"};
  CHECK_EQ(join(Analyzer(custom).terms("the cat caf\xC3\xA9 cafe dog")), std::string("the|dog"));
}

// Lucene stems UTF-16 code units: a letter beyond a-z is one consonant, however many UTF-8 bytes it takes.
// Expected stems are Lucene's (and npm `stemmer`'s, checked in test/22). Before, the byte-wise stemmer cut
// "subc\uD000ed" to "subc" + 2 bytes of a 3-byte letter (a "double consonant" of two equal continuation
// bytes), found by libFuzzer (native/tests/corpus/analyzer/crash-4bfad01e...).
TEST(keyword_porter_stemmer_counts_letters_not_bytes) {
  const char* cases[][2] = {
      {"subc\xED\x80\x80" "ed", "subc\xED\x80\x80"},  // U+D000: one consonant, not a double
      {"\xC3\xA9s", "\xC3\xA9s"},                        // "és": two letters, never stemmed
      {"ho\xC4\x9F" "e", "ho\xC4\x9F" "e"},              // "hoğe": ğ ends a cvc, so the e stays
      {"a\xF0\x9D\x94\xB8\xF0\x9D\x94\xB8ing", "a\xF0\x9D\x94\xB8\xF0\x9D\x94\xB8"},  // a surrogate pair stays whole
      {"na\xC3\xAFveness", "na\xC3\xAFv"},               // "naïveness"
      {"r\xC3\xA9sum\xC3\xA9s", "r\xC3\xA9sum\xC3\xA9"},  // "résumés"
  };
  for (auto& c : cases) {
    const std::string got = stem(c[0]);
    if (got != c[1]) throw cgtest::Failure{std::string("porter_stem(") + c[0] + ") = " + got + ", expected " + c[1]};
    CHECK(crossgate::unicode::is_valid_utf8(got));
  }
}

TEST(keyword_porter_stemmer_matches_the_paper) {
  const char* cases[][2] = {
      {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"}, {"cats", "cat"},
      {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"}, {"bled", "bled"}, {"motoring", "motor"},
      {"sing", "sing"}, {"conflated", "conflat"}, {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"},
      {"tanned", "tan"}, {"falling", "fall"}, {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
      {"filing", "file"}, {"happy", "happi"}, {"sky", "sky"}, {"relational", "relat"}, {"conditional", "condit"},
      {"rational", "ration"}, {"valenci", "valenc"}, {"hesitanci", "hesit"}, {"digitizer", "digit"},
      {"conformabli", "conform"}, {"radicalli", "radic"}, {"differentli", "differ"}, {"vileli", "vile"},
      {"analogousli", "analog"}, {"vietnamization", "vietnam"}, {"predication", "predic"}, {"operator", "oper"},
      {"feudalism", "feudal"}, {"decisiveness", "decis"}, {"hopefulness", "hope"}, {"callousness", "callous"},
      {"formaliti", "formal"}, {"sensitiviti", "sensit"}, {"sensibiliti", "sensibl"}, {"triplicate", "triplic"},
      {"formative", "form"}, {"formalize", "formal"}, {"electriciti", "electr"}, {"electrical", "electr"},
      {"hopeful", "hope"}, {"goodness", "good"}, {"revival", "reviv"}, {"allowance", "allow"}, {"inference", "infer"},
      {"airliner", "airlin"}, {"gyroscopic", "gyroscop"}, {"adjustable", "adjust"}, {"defensible", "defens"},
      {"irritant", "irrit"}, {"replacement", "replac"}, {"adjustment", "adjust"}, {"dependent", "depend"},
      {"adoption", "adopt"}, {"homologou", "homolog"}, {"communism", "commun"}, {"activate", "activ"},
      {"angulariti", "angular"}, {"homologous", "homolog"}, {"effective", "effect"}, {"bowdlerize", "bowdler"},
      {"probate", "probat"}, {"rate", "rate"}, {"cease", "ceas"}, {"controll", "control"}, {"roll", "roll"},
      // The reference implementation's departures, which Lucene keeps: -bli -> -ble, -logi -> -log.
      {"archaeology", "archaeolog"}, {"possibly", "possibl"},
      // Two letters or fewer are never stemmed.
      {"as", "as"}, {"is", "is"}, {"ies", "i"},
  };
  for (auto& c : cases) {
    if (stem(c[0]) != c[1]) {
      throw cgtest::Failure{std::string("porter_stem(") + c[0] + ") = " + stem(c[0]) + ", expected " + c[1]};
    }
  }
}

TEST(keyword_analyzer_chain_in_lucene_order) {
  Analyzer a{AnalyzerOptions{}};
  // possessive -> lowercase/fold -> stop -> stem
  CHECK_EQ(join(a.terms("The Computer's memories are RUNNING at Caf\xC3\xA9s")), std::string("comput|memori|run|cafe"));
  AnalyzerOptions nostem;
  nostem.stem = false;
  CHECK_EQ(join(Analyzer(nostem).terms("running computers")), std::string("running|computers"));
  CHECK_EQ(join(Analyzer(plain()).terms("John's running")), std::string("john's|running"));
  AnalyzerOptions bad;
  bad.language = "klingon";
  CHECK_THROWS(Analyzer{bad});
}

TEST(keyword_smallfloat_matches_lucene) {
  for (uint32_t i = 0; i < 24; ++i) CHECK_EQ(bm25::byte4_to_int(bm25::int_to_byte4(i)), i);
  CHECK_EQ(static_cast<int>(bm25::int_to_byte4(100)), 57);
  CHECK_EQ(bm25::byte4_to_int(57), 96u);
  uint32_t prev = 0;
  for (uint32_t i = 1; i < 200000; i = i * 9 / 8 + 1) {
    const uint32_t d = bm25::byte4_to_int(bm25::int_to_byte4(i));
    CHECK(d <= i);
    CHECK(int64_t{d} * 8 >= int64_t{i} * 7);
    CHECK(d >= prev);
    prev = d;
  }
  CHECK_EQ(static_cast<int>(bm25::int_to_byte4(0xFFFFFFFFu)), 255);
}

TEST(keyword_bm25_scores_match_hand_computation) {
  KeywordIndex idx(plain(), bm25::Params{});
  const KeywordDocument docs[] = {{10, "", "apple banana apple"}, {20, "", "banana cherry"}, {30, "", "cherry"}};
  idx.add(docs, 3);
  // N = 3, avgdl = 2. "apple": df 1, idf = ln(1 + 2.5 / 1.5) = 0.98082925; doc 10: tf 2, dl 3:
  // 0.98082925 * 2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2)) = 0.53744069.
  auto hits = idx.search("apple", 10);
  CHECK_EQ(hits.size(), size_t{1});
  CHECK_EQ(hits[0].id, uint64_t{10});
  CHECK(close(hits[0].score, 0.53744069));
  // "banana cherry": banana df 2 idf = ln(1 + 1.5/2.5) = 0.47000363, cherry likewise.
  // doc 20 (dl 2 = avgdl): 2 * 0.47000363 * 1 / (1 + 1.2) = 0.42727603
  // doc 30 (dl 1): 0.47000363 / (1 + 1.2 * (0.25 + 0.375)) = 0.26857350
  // doc 10 (dl 3): 0.47000363 / (1 + 1.65) = 0.17735986
  hits = idx.search("banana cherry", 10);
  CHECK_EQ(hits.size(), size_t{3});
  CHECK_EQ(hits[0].id, uint64_t{20});
  CHECK(close(hits[0].score, 0.42727603));
  CHECK_EQ(hits[1].id, uint64_t{30});
  CHECK(close(hits[1].score, 0.26857350));
  CHECK_EQ(hits[2].id, uint64_t{10});
  CHECK(close(hits[2].score, 0.17735986));
  // A repeated query term counts twice (Lucene's BooleanQuery sums its clauses); unknown terms add nothing.
  CHECK(close(idx.search("apple apple zzz", 1)[0].score, 2 * 0.53744069));
  CHECK_EQ(idx.search("zzz", 5).size(), size_t{0});
  CHECK_EQ(idx.search("", 5).size(), size_t{0});
  CHECK_EQ(idx.search("banana cherry", 2).size(), size_t{2});
  // Documents without a single term do not count in N or avgdl (Lucene's docCount is per field).
  const KeywordDocument empty[] = {{40, "", ""}, {50, "", "   ...   "}};
  idx.add(empty, 2);
  CHECK(close(idx.search("apple", 1)[0].score, 0.53744069));
  CHECK_THROWS(idx.search("apple", 0));
}

TEST(keyword_bm25_parameters_and_lucene_lengths) {
  // 1 long doc (100 tokens, SmallFloat 96) + 1 short doc: the long doc's score uses dl 96 with Lucene norms.
  std::string longdoc = "target";
  for (int i = 0; i < 99; ++i) longdoc += " w" + std::to_string(i);
  const KeywordDocument docs[] = {{1, "", longdoc}, {2, "", "other words"}};
  bm25::Params lucene;
  bm25::Params exact;
  exact.lucene_norms = false;
  KeywordIndex a(plain(), lucene), b(plain(), exact);
  a.add(docs, 2);
  b.add(docs, 2);
  const double idf = std::log(1 + 1.5 / 1.5), avgdl = 51.0;
  auto expect = [&](double dl) { return idf * 1 / (1 + 1.2 * (0.25 + 0.75 * dl / avgdl)); };
  CHECK(close(a.search("target", 1)[0].score, expect(96)));
  CHECK(close(b.search("target", 1)[0].score, expect(100)));
  bm25::Params custom;
  custom.k1 = 2.0;
  custom.b = 0.0;
  KeywordIndex c(plain(), custom);
  c.add(docs, 2);
  CHECK(close(c.search("target", 1)[0].score, idf * 1 / (1 + 2.0)));
  bm25::Params badb;
  badb.b = 1.5;
  CHECK_THROWS(KeywordIndex(plain(), badb));
}

TEST(keyword_title_is_indexed_as_part_of_one_field) {
  KeywordIndex one(plain(), bm25::Params{}), split(plain(), bm25::Params{});
  const KeywordDocument a[] = {{1, "", "alpha beta gamma"}, {2, "", "beta delta"}};
  const KeywordDocument b[] = {{1, "alpha", "beta gamma"}, {2, "beta", "delta"}};
  one.add(a, 2);
  split.add(b, 2);
  for (const char* q : {"alpha", "beta", "gamma delta"}) {
    auto x = one.search(q, 5), y = split.search(q, 5);
    CHECK_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      CHECK_EQ(x[i].id, y[i].id);
      CHECK_EQ(x[i].score, y[i].score);
    }
  }
  bm25::Params boosted;
  boosted.title_weight = 3;
  KeywordIndex t(plain(), boosted);
  const KeywordDocument c[] = {{1, "alpha", "beta"}, {2, "beta", "alpha"}};
  t.add(c, 2);
  CHECK_EQ(t.search("alpha", 2)[0].id, uint64_t{1});  // the title match wins
  CHECK_EQ(t.search("beta", 2)[0].id, uint64_t{2});
}

TEST(keyword_remove_leaves_scores_of_a_fresh_index) {
  KeywordIndex idx(AnalyzerOptions{}, bm25::Params{}), fresh(AnalyzerOptions{}, bm25::Params{});
  const KeywordDocument all[] = {{1, "Searching", "Search engines rank documents"},
                                 {2, "", "Ranking with BM25 and search"},
                                 {3, "Cooking", "Recipes for bread"},
                                 {4, "", "search search search"}};
  idx.add(all, 4);
  const uint64_t gone[] = {3, 4, 99};
  CHECK_EQ(idx.remove(gone, 3), size_t{2});
  fresh.add(all, 2);
  CHECK_EQ(idx.count(), size_t{2});
  CHECK(!idx.has(3));
  CHECK_EQ(idx.stats().terms, fresh.stats().terms);
  auto x = idx.search("search ranking bread", 10), y = fresh.search("search ranking bread", 10);
  CHECK_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK_EQ(x[i].id, y[i].id);
    CHECK_EQ(x[i].score, y[i].score);
  }
  // Re-adding a removed id works; adding a present or repeated id fails and changes nothing.
  const KeywordDocument again[] = {{3, "", "bread again"}};
  idx.add(again, 1);
  CHECK_EQ(idx.search("bread", 5)[0].id, uint64_t{3});
  const KeywordDocument dup[] = {{7, "", "x"}, {1, "", "y"}};
  CHECK_THROWS(idx.add(dup, 2));
  const KeywordDocument rep[] = {{8, "", "x"}, {8, "", "y"}};
  CHECK_THROWS(idx.add(rep, 2));
  const KeywordDocument big[] = {{uint64_t{1} << 53, "", "x"}};
  CHECK_THROWS(idx.add(big, 1));
  CHECK_EQ(idx.count(), size_t{3});
  CHECK(!idx.has(7));
}

TEST(keyword_save_load_roundtrip_and_defects) {
  AnalyzerOptions ao;
  ao.stop = StopWords::Custom;
  ao.stop_words = {"the", "of"};
  bm25::Params p;
  p.k1 = 0.9;
  p.b = 0.4;
  p.title_weight = 2;
  KeywordIndex idx(ao, p);
  const KeywordDocument docs[] = {{5, "Title of five", "the body of document five"}, {9, "", "another document"}, {12, "", ""}};
  idx.add(docs, 3);
  const std::string path = temp_path("rt");
  idx.save(path);
  auto back = KeywordIndex::load(path);
  CHECK_EQ(back->count(), size_t{3});
  CHECK_EQ(back->params().k1, 0.9);
  CHECK_EQ(back->params().title_weight, 2.0);
  CHECK_EQ(back->analyzer().options().stop_words.size(), size_t{2});
  auto x = idx.search("five document of", 5), y = back->search("five document of", 5);
  CHECK_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK_EQ(x[i].id, y[i].id);
    CHECK_EQ(x[i].score, y[i].score);
  }
  CHECK_EQ(back->serialize(), idx.serialize());

  const std::string bytes = idx.serialize();
  auto expect_corrupt = [&](const std::string& b, const char* needle) {
    try {
      KeywordIndex::load_from_memory(b.data(), b.size(), "x.cgki");
    } catch (const IndexError& e) {
      CHECK(e.kind() == IndexError::Kind::Corrupt);
      if (!std::strstr(e.what(), needle)) throw cgtest::Failure{std::string("message lacks '") + needle + "': " + e.what()};
      return;
    }
    throw cgtest::Failure{std::string("no error for a file with ") + needle};
  };
  expect_corrupt(bytes.substr(0, 20), "shorter than the 48-byte header");
  expect_corrupt(bytes.substr(0, bytes.size() - 7), "truncated");
  std::string flipped = bytes;
  flipped[60] ^= 0x10;
  expect_corrupt(flipped, "checksum mismatch");
  std::string ver = bytes;
  ver[8] = 9;
  expect_corrupt(ver, "format version 9");
  std::string magic = bytes;
  magic[0] = 'X';
  expect_corrupt(magic, "bad magic");
  // A truncated file on disk is a Corrupt error naming the file.
  { std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), 100); }
  try {
    KeywordIndex::load(path);
    CHECK(false);
  } catch (const IndexError& e) {
    CHECK(std::strstr(e.what(), path.c_str()) != nullptr);
  }
  ::unlink(path.c_str());
  CHECK_THROWS(KeywordIndex::load(path));  // missing: an Io error
}

TEST(keyword_failed_save_keeps_the_old_file) {
  KeywordIndex idx(AnalyzerOptions{}, bm25::Params{});
  const KeywordDocument docs[] = {{1, "", "first version"}};
  idx.add(docs, 1);
  const std::string path = temp_path("fault");
  idx.save(path);
  const KeywordDocument more[] = {{2, "", "second version"}};
  idx.add(more, 1);
  setenv("CROSSGATE_FAULT_SAVE_AFTER_BYTES", "30", 1);
  CHECK_THROWS(idx.save(path));
  unsetenv("CROSSGATE_FAULT_SAVE_AFTER_BYTES");
  CHECK_EQ(KeywordIndex::load(path)->count(), size_t{1});
  ::unlink(path.c_str());
}

TEST(keyword_large_document_and_query) {
  KeywordIndex idx(AnalyzerOptions{}, bm25::Params{});
  std::string big;
  big.reserve(10u << 20);
  while (big.size() < (10u << 20)) big += "lorem ipsum dolor sit amet ";
  const KeywordDocument docs[] = {{1, "", big}, {2, "", "dolor"}};
  idx.add(docs, 2);
  std::string q;
  for (int i = 0; i < 1000; ++i) q += "term" + std::to_string(i) + " ";
  q += "dolor";
  auto hits = idx.search(q, 5);
  // The 10 MB document says "dolor" ~400,000 times; BM25's saturation still ranks it first, finitely.
  CHECK_EQ(hits.size(), size_t{2});
  CHECK_EQ(hits[0].id, uint64_t{1});
  CHECK(std::isfinite(hits[0].score) && hits[0].score > hits[1].score);
  std::string huge;
  for (size_t i = 0; i <= kMaxQueryTerms; ++i) huge += "w ";
  CHECK_THROWS(idx.search(huge, 5));
}
