// fuzzdriver.cpp: a stand-in for libFuzzer's main when building with g++ (no clang on the build machine).
// Replays every file given on the command line, then runs inputs until CROSSGATE_FUZZ_RUNS inputs or
// CROSSGATE_FUZZ_SECONDS seconds, whichever comes first. With files given, most inputs are mutations of
// them (byte sets, bit flips, interesting integers, inserted/deleted/duplicated chunks, splices of two
// files, truncations), the rest random bytes: structured formats (tokenizer.json, index files) get past
// their first checks far more often than with random bytes alone. Seeded (CROSSGATE_FUZZ_SEED), so a run
// replays exactly. When a sanitizer reports an error, the input is written to CROSSGATE_FUZZ_CRASH_DIR
// (default .) as crash-<fnv64>.bin: copy it into native/tests/corpus/ to keep it as a regression input.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present in the ASan/UBSan/TSan runtimes; weak so a plain build links too.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

const std::vector<uint8_t>* g_current = nullptr;

uint64_t fnv64(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

void save_current() {
  if (!g_current) return;
  const char* dir = std::getenv("CROSSGATE_FUZZ_CRASH_DIR");
  char name[64];
  std::snprintf(name, sizeof name, "/crash-%016llx.bin", static_cast<unsigned long long>(fnv64(*g_current)));
  const std::string path = std::string(dir && *dir ? dir : ".") + name;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(g_current->data(), 1, g_current->size(), f);
    std::fclose(f);
    std::fprintf(stderr, "fuzz: the failing input is saved as %s\n", path.c_str());
  }
}

void run_one(const std::vector<uint8_t>& b) {
  g_current = &b;
  LLVMFuzzerTestOneInput(b.data(), b.size());
  g_current = nullptr;
}

const uint32_t kInteresting[] = {0, 1, 2, 3, 4, 7, 8, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

void mutate(std::mt19937_64& rng, std::vector<uint8_t>& b, const std::vector<std::vector<uint8_t>>& seeds) {
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 9) {
      case 0: if (!b.empty()) b[pos] = static_cast<uint8_t>(rng()); break;
      case 1: if (!b.empty()) b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 2: if (b.size() >= pos + 4) { uint32_t v = kInteresting[rng() % std::size(kInteresting)]; std::memcpy(&b[pos], &v, 4); } break;
      case 3: if (b.size() >= pos + 8) { uint64_t v = rng() % 2 ? ~0ull : (1ull << (rng() % 64)); std::memcpy(&b[pos], &v, 8); } break;
      case 4: { size_t n = 1 + rng() % 16; b.insert(b.begin() + static_cast<long>(pos), n, static_cast<uint8_t>(rng())); break; }
      case 5: if (!b.empty()) { size_t n = std::min(b.size() - pos, 1 + rng() % 64); b.erase(b.begin() + static_cast<long>(pos), b.begin() + static_cast<long>(pos + n)); } break;
      case 6: if (!b.empty()) { size_t n = std::min(b.size() - pos, 1 + rng() % 64); std::vector<uint8_t> c(b.begin() + static_cast<long>(pos), b.begin() + static_cast<long>(pos + n)); b.insert(b.begin() + static_cast<long>(rng() % b.size()), c.begin(), c.end()); } break;
      case 7: if (!seeds.empty()) { const auto& o = seeds[rng() % seeds.size()]; if (!o.empty()) { size_t from = rng() % o.size(); size_t n = std::min(o.size() - from, 1 + rng() % 256); b.insert(b.begin() + static_cast<long>(pos), o.begin() + static_cast<long>(from), o.begin() + static_cast<long>(from + n)); } } break;
      default: b.resize(pos); break;
    }
  }
  if (b.size() > (1u << 20)) b.resize(1u << 20);
}

}  // namespace

int main(int argc, char** argv) {
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    seeds.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run_one(seeds.back());
  }
  const char* runs_env = std::getenv("CROSSGATE_FUZZ_RUNS");
  const char* secs_env = std::getenv("CROSSGATE_FUZZ_SECONDS");
  const char* seed_env = std::getenv("CROSSGATE_FUZZ_SEED");
  const long runs = runs_env ? std::atol(runs_env) : (secs_env ? -1 : 20000);
  const double seconds = secs_env ? std::atof(secs_env) : -1;
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 12345);
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint8_t> buf;
  long r = 0;
  for (;; ++r) {
    if (runs >= 0 && r >= runs) break;
    if (seconds > 0 && (r & 255) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds) break;
    if (!seeds.empty() && rng() % 8 != 0) {
      buf = seeds[rng() % seeds.size()];
      mutate(rng, buf, seeds);
    } else {
      buf.resize(rng() % 512);
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
    }
    run_one(buf);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fuzz: " << (argc - 1) << " files + " << r << " generated inputs (mutated and random) in " << took << " s, no crash\n";
  return 0;
}
