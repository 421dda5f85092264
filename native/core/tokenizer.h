// tokenizer.h: a Node-free BERT WordPiece tokenizer loaded from a Hugging Face tokenizer.json.
// Mirrors the reference `tokenizers` pipeline: added tokens -> BertNormalizer -> BertPreTokenizer -> WordPiece -> template.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crossgate {

// Thrown for a tokenizer.json we cannot read or do not support; the message names the JSON path.
class TokenizerLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Thrown when an item cannot be encoded under the given options (e.g. only_second cannot shorten enough).
class TokenizerEncodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class TruncationStrategy { LongestFirst, OnlySecond };
enum class TruncationSide { Right, Left };

struct EncodeOptions {
  std::size_t max_length = 512;  // counts the special tokens, as in the reference
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  TruncationSide side = TruncationSide::Right;
  // Also fill RaggedBatch::starts/stops. Off by default: the batch path for inference never pays for it.
  bool offsets = false;
};

// Unpadded encodings of n items, concatenated; item i is ids[offsets[i] .. offsets[i+1]).
struct RaggedBatch {
  std::vector<std::int32_t> ids;
  std::vector<std::uint8_t> type_ids;
  std::vector<std::int32_t> offsets;
  std::vector<std::uint8_t> truncated;
  // Only with EncodeOptions::offsets: per token, the UTF-8 byte range [start, stop) of the item's own text
  // (first or second) it came from, as the reference's offsets (a dropped accent is outside its letter's
  // range, an added token's range covers the spaces lstrip/rstrip take); -1 for special and unknown tokens.
  std::vector<std::int32_t> starts, stops;
  void clear() {
    ids.clear();
    type_ids.clear();
    offsets.clear();
    truncated.clear();
    starts.clear();
    stops.clear();
  }
};

struct BertNormalizerConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // already resolved: JSON null follows lowercase
  bool lowercase = true;
};

class WordPieceTokenizer {
 public:
  // Parses tokenizer.json text; `source` (a path or label) prefixes every error message.
  static std::unique_ptr<WordPieceTokenizer> from_json(std::string_view json, std::string_view source);
  ~WordPieceTokenizer();

  std::size_t max_length() const { return max_length_; }    // truncation.max_length, else 512
  std::int32_t pad_id() const { return pad_id_; }
  std::size_t special_token_count(bool pair) const;          // tokens the post-processor adds

  // Encodes n items; second may be null (single texts). Texts are bytes: ill-formed UTF-8 is read the way
  // Node's Buffer#toString() reads it (U+FFFD per maximal subpart). Thread-safe (const, no shared scratch).
  void encode_batch(const std::string_view* first, const std::string_view* second, std::size_t n,
                    const EncodeOptions& opts, RaggedBatch& out) const;

  // Pipeline stages, exposed for tests.
  std::string normalize(std::string_view text) const;
  std::vector<std::string> pre_tokenize(std::string_view normalized) const;
  std::vector<std::int32_t> tokenize_word(std::string_view word) const;   // WordPiece on one word
  std::vector<std::int32_t> encode_sequence(std::string_view text) const;  // no specials, no truncation
  std::int32_t token_to_id(std::string_view token) const;                   // -1 when absent

  struct Impl;

 private:
  WordPieceTokenizer();
  std::unique_ptr<Impl> impl_;
  std::size_t max_length_ = 512;
  std::int32_t pad_id_ = 0;
};

// The reference's truncation of a pair (or single when b is null) to max_len tokens, specials excluded.
// Returns whether anything was removed; throws TokenizerEncodeError where the reference errors.
// len_a / len_b are the lengths longest_first compares (see reference_length); pass the sizes otherwise.
bool truncate_pair(std::vector<std::int32_t>& a, std::vector<std::int32_t>* b, std::size_t max_len,
                   TruncationStrategy strategy, TruncationSide side, std::size_t len_a, std::size_t len_b);

// tokenizers 0.23 stops tokenizing a text once, right after a word, its tokens so far reach max_length
// (specials included; added tokens never trigger the stop), walking from the end that truncation keeps.
// longest_first then compares those shortened lengths, which decides which text gets the odd token when
// both are halved. units holds (token end << 1 | is_added_token) per word or added token.
// Derived from probing the reference; checked by test/10.tokenize.parity.test.ts.
std::size_t reference_length(const std::vector<std::uint32_t>& units, std::size_t max_length, TruncationSide side);

}  // namespace crossgate
