// test_tokenizer.cpp: unit tests for the core WordPiece tokenizer: normalizer, pre-tokenizer, WordPiece,
// added tokens, truncation, post-processing, UTF-8 repair and rejection of unsupported tokenizer.json files.
#include <string>
#include <vector>

#include "check.h"
#include "tokenizer.h"
#include "tokenizer_json.h"
#include "unicode.h"

using namespace crossgate;

namespace {

std::string bert_json(const std::string& normalizer, const std::string& extra_added = "",
                      const std::string& post = "") {
  std::string post_processor = post.empty() ? R"({"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
      "pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},
              {"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
      "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}})"
                                            : post;
  return R"({"version":"1.0","truncation":null,"padding":null,
    "added_tokens":[{"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                    {"id":1,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                    {"id":2,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                    {"id":3,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true})" +
         extra_added + R"(],
    "normalizer":)" + normalizer + R"(,
    "pre_tokenizer":{"type":"BertPreTokenizer"},
    "post_processor":)" + post_processor + R"(,
    "decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
    "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":9,
      "vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"un":4,"##aff":5,"##able":6,"hello":7,",":8,"!":9,"world":10,
               "a":11,"##a":12,"中":13,"cafe":14,"café":15,"[":16,"]":17,"sep":18,"b":19,"##b":20}}})";
}

const std::string kUncased =
    R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true})";
const std::string kCased =
    R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":false})";

std::unique_ptr<WordPieceTokenizer> load(const std::string& json) { return WordPieceTokenizer::from_json(json, "test"); }

std::vector<std::int32_t> encode(const WordPieceTokenizer& t, std::string_view a, const std::string_view* b = nullptr,
                                 std::size_t max_length = 1000) {
  RaggedBatch out;
  EncodeOptions o;
  o.max_length = max_length;
  t.encode_batch(&a, b, 1, o, out);
  return out.ids;
}

std::string load_error(const std::string& json) {
  try {
    load(json);
  } catch (const TokenizerLoadError& e) {
    return e.what();
  }
  return "";
}

// A string literal with embedded NULs, sized by the compiler.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST(tokenizer_normalizer_lowercase_strips_accents_when_null) {
  auto t = load(bert_json(kUncased));
  CHECK_EQ(t->normalize("Héllo WÖRLD Ångström"), std::string("hello world angstrom"));
  CHECK_EQ(t->normalize("ΣΊΣΥΦΟΣ"), std::string("σισυφοσ"));  // per-char lowercase: no final sigma
}

TEST(tokenizer_normalizer_cased_keeps_accents_when_null) {
  auto t = load(bert_json(kCased));
  CHECK_EQ(t->normalize("Héllo"), std::string("Héllo"));
  auto s = load(bert_json(R"({"type":"BertNormalizer","lowercase":false,"strip_accents":true})"));
  CHECK_EQ(s->normalize("Héllo e\xCC\x81"), std::string("Hello e"));
}

TEST(tokenizer_normalizer_clean_text_and_chinese_chars) {
  auto t = load(bert_json(kUncased));
  // NUL, U+200B (Cf) and U+FFFD are dropped; \t \r \n and U+3000 become spaces; CJK is padded.
  CHECK_EQ(t->normalize(lit("a\0b\xE2\x80\x8B" "c\td\r\ne\xE3\x80\x80" "f\xEF\xBF\xBD")), std::string("abc d  e f"));
  CHECK_EQ(t->normalize("x中y"), std::string("x 中 y"));
  auto raw = load(bert_json(R"({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,"lowercase":false,"strip_accents":false})"));
  CHECK_EQ(raw->normalize(lit("a\0\t中")), lit("a\0\t中"));
}

TEST(tokenizer_normalizer_reorders_surviving_marks_like_nfd) {
  auto t = load(bert_json(R"({"type":"BertNormalizer","lowercase":false,"strip_accents":true})"));
  // U+08D4 (ccc 230) then U+1B44 (ccc 9): both survive stripping in the reference's tables and NFD swaps them.
  CHECK_EQ(t->normalize("\xE0\xA3\x94\xE1\xAD\x84"), std::string("\xE1\xAD\x84\xE0\xA3\x94"));
  // A starter between them blocks reordering.
  CHECK_EQ(t->normalize("\xE0\xA3\x94" "a\xE1\xAD\x84"), std::string("\xE0\xA3\x94" "a\xE1\xAD\x84"));
}

TEST(tokenizer_pre_tokenizer_splits_space_and_isolates_punctuation) {
  auto t = load(bert_json(kUncased));
  std::vector<std::string> want = {"hello", ",", "world", "!", "!", "x", "$", "1"};
  CHECK(t->pre_tokenize("hello,  world!!\u00a0x$1") == want);
  CHECK(t->pre_tokenize("   ").empty());
  CHECK(t->pre_tokenize("").empty());
}

TEST(tokenizer_wordpiece_greedy_longest_match) {
  auto t = load(bert_json(kUncased));
  CHECK(t->tokenize_word("unaffable") == (std::vector<std::int32_t>{4, 5, 6}));
  CHECK(t->tokenize_word("unaffablex") == (std::vector<std::int32_t>{1}));  // any unmatched piece: whole word is [UNK]
  CHECK(t->tokenize_word("aaaaaaaa") == (std::vector<std::int32_t>{11, 12, 12, 12, 12, 12, 12, 12}));
  CHECK(t->tokenize_word("aaaaaaaaaa") == (std::vector<std::int32_t>{1}));  // 10 chars > max_input_chars_per_word 9
  CHECK(t->tokenize_word("café") == (std::vector<std::int32_t>{15}));
}

TEST(tokenizer_special_tokens_in_text_split_before_normalization) {
  auto t = load(bert_json(kUncased));
  CHECK(encode(*t, "hello[SEP]world") == (std::vector<std::int32_t>{2, 7, 3, 10, 3}));
  // Lowercased "[sep]" is not the special token: it goes through the pre-tokenizer.
  CHECK(encode(*t, "[sep]") == (std::vector<std::int32_t>{2, 16, 18, 17, 3}));
  CHECK(encode(*t, "") == (std::vector<std::int32_t>{2, 3}));
  CHECK(encode(*t, lit(" \t\0 ")) == (std::vector<std::int32_t>{2, 3}));
}

TEST(tokenizer_added_token_lstrip_rstrip_and_normalized) {
  std::string extra =
      R"(,{"id":21,"content":"[MASK]","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true},
         {"id":22,"content":"Hello World","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false})";
  auto t = load(bert_json(kUncased, extra));
  CHECK(encode(*t, "a  [MASK]  b") == (std::vector<std::int32_t>{2, 11, 21, 19, 3}));
  CHECK(encode(*t, "a HELLO WORLD b") == (std::vector<std::int32_t>{2, 11, 22, 19, 3}));
}

TEST(tokenizer_pair_template_type_ids_and_bert_processing) {
  auto t = load(bert_json(kUncased));
  std::string_view a = "hello", b = "world";
  RaggedBatch out;
  EncodeOptions o;
  t->encode_batch(&a, &b, 1, o, out);
  CHECK(out.ids == (std::vector<std::int32_t>{2, 7, 3, 10, 3}));
  CHECK(out.type_ids == (std::vector<std::uint8_t>{0, 0, 0, 1, 1}));
  CHECK_EQ(t->special_token_count(true), std::size_t(3));
  auto bp = load(bert_json(kUncased, "", R"({"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]})"));
  RaggedBatch out2;
  bp->encode_batch(&a, &b, 1, o, out2);
  CHECK(out2.ids == out.ids);
  CHECK(out2.type_ids == out.type_ids);
}

TEST(tokenizer_truncation_longest_first_and_only_second) {
  auto seq = [](int n, int base) {
    std::vector<std::int32_t> v;
    for (int i = 0; i < n; ++i) v.push_back(base + i);
    return v;
  };
  auto a = seq(10, 0), b = seq(3, 100);
  CHECK(truncate_pair(a, &b, 8, TruncationStrategy::LongestFirst, TruncationSide::Right, 10, 3));
  CHECK_EQ(a.size(), std::size_t(5));
  CHECK_EQ(b.size(), std::size_t(3));
  a = seq(10, 0), b = seq(9, 100);
  CHECK(truncate_pair(a, &b, 7, TruncationStrategy::LongestFirst, TruncationSide::Left, 10, 9));
  CHECK_EQ(a.size(), std::size_t(4));  // the longer text gets the odd token when both are halved
  CHECK_EQ(b.size(), std::size_t(3));
  CHECK_EQ(a.front(), 6);  // left side keeps the tail
  a = seq(4, 0), b = seq(10, 100);
  CHECK(truncate_pair(a, &b, 6, TruncationStrategy::OnlySecond, TruncationSide::Right, 4, 10));
  CHECK_EQ(a.size(), std::size_t(4));
  CHECK_EQ(b.size(), std::size_t(2));
  a = seq(8, 0), b = seq(2, 100);
  CHECK_THROWS(truncate_pair(a, &b, 6, TruncationStrategy::OnlySecond, TruncationSide::Right, 8, 2));
  a = seq(3, 0), b = seq(2, 100);
  CHECK(!truncate_pair(a, &b, 6, TruncationStrategy::LongestFirst, TruncationSide::Right, 3, 2));
}

TEST(tokenizer_encode_batch_reports_max_length_below_specials) {
  auto t = load(bert_json(kUncased));
  std::string_view a = "hello", b = "world";
  RaggedBatch out;
  EncodeOptions o;
  o.max_length = 2;
  CHECK_THROWS(t->encode_batch(&a, &b, 1, o, out));
  o.max_length = 3;  // room for the specials only: both texts are cut to nothing, as in the reference
  t->encode_batch(&a, &b, 1, o, out);
  CHECK(out.ids == (std::vector<std::int32_t>{2, 3, 3}));
  CHECK_EQ(int(out.truncated[0]), 1);
}

TEST(tokenizer_invalid_utf8_is_replaced_per_maximal_subpart) {
  using unicode::to_valid_utf8;
  CHECK_EQ(to_valid_utf8("a\xFF" "b"), std::string("a\xEF\xBF\xBD" "b"));
  CHECK_EQ(to_valid_utf8("\xE2\x82"), std::string("\xEF\xBF\xBD"));                       // truncated sequence: one U+FFFD
  CHECK_EQ(to_valid_utf8("\xED\xA0\x80"), std::string("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));  // surrogate: three
  CHECK_EQ(to_valid_utf8("\xF0\x9F\x98" "a"), std::string("\xEF\xBF\xBD" "a"));
  CHECK(unicode::is_valid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"));
  CHECK(!unicode::is_valid_utf8("\xC0\xAF"));
  auto t = load(bert_json(kCased));
  CHECK(encode(*t, "a\xFF" "a") == encode(*t, "aa"));  // clean_text drops U+FFFD
}

TEST(tokenizer_rejects_unsupported_or_broken_json) {
  CHECK(contains(load_error("not json"), "not a tokenizer.json"));
  CHECK(contains(load_error("[1,2]"), "not an object"));
  CHECK(contains(load_error(R"({"model":{"type":"BPE","vocab":{},"merges":[]}})"), "model.type 'BPE' is not supported"));
  CHECK(contains(load_error(R"({"model":{"type":"WordPiece"}})"), "model.vocab is missing"));
  CHECK(contains(load_error(R"({"normalizer":null})"), "model is missing"));
  CHECK(contains(load_error(R"({"model":{"type":"WordPiece","vocab":{"a":0}}})"), "model.unk_token '[UNK]' is not in model.vocab"));
  std::string json = bert_json(kUncased);
  std::string meta = json;
  meta.replace(meta.find(R"({"type":"BertPreTokenizer"})"), 27, R"({"type":"Metaspace","replacement":"_"})");
  CHECK(contains(load_error(meta), "pre_tokenizer.type 'Metaspace' is not supported"));
  std::string nfkc = bert_json(R"({"type":"NFKC"})");
  CHECK(contains(load_error(nfkc), "normalizer.type 'NFKC' is not supported"));
  std::string roberta = bert_json(kUncased, "", R"({"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]})");
  CHECK(contains(load_error(roberta), "post_processor.type 'RobertaProcessing' is not supported"));
  std::string badid = json;
  badid.replace(badid.find(R"("un":4)"), 6, R"("un":-4)");
  CHECK(contains(load_error(badid), "model.vocab[\"un\"] must be an integer"));
  CHECK(contains(load_error(std::string(5000, '[')), "nesting deeper"));
  CHECK(contains(load_error(json.substr(0, json.size() / 2)), "invalid JSON at byte"));
}

namespace {

using Spans = std::vector<std::pair<int, int>>;

// Encodes with offsets; checks the ids match the plain path and returns the (start, stop) of each token.
Spans spans(const WordPieceTokenizer& t, std::string_view a, const std::string_view* b = nullptr,
            std::size_t max_length = 1000, TruncationSide side = TruncationSide::Right) {
  RaggedBatch plain, out;
  EncodeOptions o;
  o.max_length = max_length;
  o.side = side;
  t.encode_batch(&a, b, 1, o, plain);
  CHECK(plain.starts.empty());  // offsets cost nothing unless asked for
  o.offsets = true;
  t.encode_batch(&a, b, 1, o, out);
  CHECK(out.ids == plain.ids);
  CHECK(out.truncated == plain.truncated);
  CHECK_EQ(out.starts.size(), out.ids.size());
  CHECK_EQ(out.stops.size(), out.ids.size());
  Spans s;
  for (std::size_t i = 0; i < out.starts.size(); ++i) s.emplace_back(out.starts[i], out.stops[i]);
  return s;
}

const std::pair<int, int> kNone{-1, -1};

}  // namespace

TEST(tokenizer_offsets_through_lowercase_accents_and_pieces) {
  auto t = load(bert_json(kUncased));
  // "Café": é is two bytes; the token "cafe" covers it whole.
  CHECK(spans(*t, "Caf\xC3\xA9") == (Spans{kNone, {0, 5}, kNone}));
  // A combining acute the normalizer drops lies outside its letter's token, as in the reference.
  CHECK(spans(*t, "cafe\xCC\x81") == (Spans{kNone, {0, 4}, kNone}));
  // WordPiece pieces and isolated punctuation.
  CHECK(spans(*t, "Unaffable!") == (Spans{kNone, {0, 2}, {2, 5}, {5, 9}, {9, 10}, kNone}));
  // Lowercasing a two-byte letter: "ÀA" -> "aa" = a + ##a.
  CHECK(spans(*t, "\xC3\x80" "A") == (Spans{kNone, {0, 2}, {2, 3}, kNone}));
}

TEST(tokenizer_offsets_cjk_emoji_spaces_and_control) {
  auto t = load(bert_json(kUncased));
  CHECK(spans(*t, "a\xE4\xB8\xAD" "b") == (Spans{kNone, {0, 1}, {1, 4}, {4, 5}, kNone}));  // a中b: CJK padded
  // 😀 (four bytes) is not in the vocabulary: [UNK] has no offsets.
  CHECK(spans(*t, "a \xF0\x9F\x98\x80 b") == (Spans{kNone, {0, 1}, kNone, {7, 8}, kNone}));
  CHECK(spans(*t, "hello   world") == (Spans{kNone, {0, 5}, {8, 13}, kNone}));
  CHECK(spans(*t, "\t hello\r\n\xE3\x80\x80world ") == (Spans{kNone, {2, 7}, {12, 17}, kNone}));
  CHECK(spans(*t, lit("a\0b")) == (Spans{kNone, {0, 1}, {2, 3}, kNone}));  // NUL removed inside the word
}

TEST(tokenizer_offsets_unknown_and_added_tokens) {
  std::string extra =
      R"(,{"id":21,"content":"[MASK]","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true},
         {"id":22,"content":"Hello World","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false})";
  auto t = load(bert_json(kUncased, extra));
  CHECK(spans(*t, "unaffablex a") == (Spans{kNone, kNone, {11, 12}, kNone}));  // a failed piece: the word is [UNK]
  CHECK(spans(*t, "aaaaaaaaaa b") == (Spans{kNone, kNone, {11, 12}, kNone}));  // over max_input_chars_per_word
  CHECK(spans(*t, "hello[SEP]world") == (Spans{kNone, {0, 5}, kNone, {10, 15}, kNone}));  // special: no offsets
  CHECK(spans(*t, "a  [MASK]  b") == (Spans{kNone, {0, 1}, kNone, {11, 12}, kNone}));
  // A normalized, non-special added token maps back through the lowercasing to the input's bytes.
  CHECK(spans(*t, "a HELLO WORLD b") == (Spans{kNone, {0, 1}, {2, 13}, {14, 15}, kNone}));
  CHECK(spans(*t, "\xC3\xA0 Hello World") == (Spans{kNone, {0, 2}, {3, 14}, kNone}));
}

TEST(tokenizer_offsets_refer_to_the_bytes_given_even_ill_formed) {
  auto t = load(bert_json(kCased));
  // U+FFFD replaces \xFF, and clean_text drops it: "aa" = a + ##a, the second a still at byte 2.
  CHECK(spans(*t, "a\xFF" "a") == (Spans{kNone, {0, 1}, {2, 3}, kNone}));
  // A truncated three-byte sequence is one U+FFFD for two input bytes.
  CHECK(spans(*t, "\xE2\x82 a b") == (Spans{kNone, {3, 4}, {5, 6}, kNone}));
}

TEST(tokenizer_offsets_of_pairs_follow_truncation) {
  auto t = load(bert_json(kUncased));
  std::string_view a = "hello world", b = "a b";
  CHECK(spans(*t, a, &b) == (Spans{kNone, {0, 5}, {6, 11}, kNone, {0, 1}, {2, 3}, kNone}));  // each in its own text
  CHECK(spans(*t, a, &b, 6) == (Spans{kNone, {0, 5}, kNone, {0, 1}, {2, 3}, kNone}));
  CHECK(spans(*t, a, &b, 6, TruncationSide::Left) == (Spans{kNone, {6, 11}, kNone, {0, 1}, {2, 3}, kNone}));
}

TEST(tokenizer_offsets_without_normalizer) {
  auto t = load(bert_json("null"));
  CHECK(spans(*t, "hello \xE4\xB8\xAD") == (Spans{kNone, {0, 5}, {6, 9}, kNone}));
}
