// fuzz_keyword_index.cpp: feeds arbitrary bytes to the keyword index loader, and also a valid file (built
// from the input) with one byte changed and its checksums recomputed, so the structural checks are reached.
// Any outcome but a clean IndexError or a usable index is a bug; ASan/UBSan catch the rest.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crc32c.h"
#include "keyword_index.h"

using crossgate::IndexError;
using crossgate::KeywordDocument;
using crossgate::KeywordIndex;

namespace {

void exercise(KeywordIndex& idx) {
  // A loaded index must be fully usable: search, remove, add, search again, serialize.
  auto hits = idx.search("alpha beta gamma document the", 3);
  if (hits.size() > idx.count()) std::abort();
  if (!hits.empty()) {
    const uint64_t id = hits[0].id;
    if (idx.remove(&id, 1) != 1) std::abort();
  }
  const KeywordDocument d{(uint64_t{1} << 53) - 1, "alpha", "new document"};
  if (!idx.has(d.id)) idx.add(&d, 1);
  idx.search("alpha document", 2);
  const std::string bytes = idx.serialize();
  auto again = KeywordIndex::load_from_memory(bytes.data(), bytes.size(), "re-serialised");
  if (again->count() != idx.count()) std::abort();
}

void try_load(const std::string& bytes) {
  try {
    auto idx = KeywordIndex::load_from_memory(bytes.data(), bytes.size(), "fuzz-input");
    exercise(*idx);
  } catch (const IndexError& e) {
    if (std::strstr(e.what(), "crossgate keyword index file") == nullptr) {
      std::fprintf(stderr, "error does not name the file: %s\n", e.what());
      std::abort();
    }
  }
}

void fix_checksums(std::string& f) {
  if (f.size() < 52) return;
  const uint64_t body = f.size() - 52;
  std::memcpy(&f[16], &body, 8);
  const uint32_t h = crossgate::crc32c_update(0, f.data(), 40);
  std::memcpy(&f[40], &h, 4);
  const uint32_t b = crossgate::crc32c_update(0, f.data() + 48, body);
  std::memcpy(&f[48 + body], &b, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try_load(std::string(reinterpret_cast<const char*>(data), size));
  if (size < 4) return 0;
  // A small valid index from the input's text, then one byte (or the tail) changed with checksums recomputed.
  crossgate::analysis::AnalyzerOptions ao;
  if (data[0] & 1) {
    ao.stop = crossgate::analysis::StopWords::Custom;
    ao.stop_words = {"of"};
  }
  KeywordIndex idx(ao, crossgate::bm25::Params{});
  const std::string text(reinterpret_cast<const char*>(data) + 4, size - 4);
  const std::string half = text.substr(0, text.size() / 2);  // named: a string_view must not outlive it
  const KeywordDocument docs[] = {{1, "alpha", text}, {7, "", "beta gamma the document"}, {9, half, "alpha alpha"}};
  idx.add(docs, 3);
  std::string f = idx.serialize();
  const size_t body = f.size() - 52;
  if (body == 0) return 0;
  const size_t at = 48 + (static_cast<size_t>(data[1]) | (static_cast<size_t>(data[2]) << 8)) % body;
  if (data[3] & 0x80) {
    f.resize(48 + (at - 48) + 4);  // cut the body short
  } else {
    f[at] = static_cast<char>(f[at] ^ (data[3] | 1));
  }
  fix_checksums(f);
  try_load(f);
  return 0;
}
