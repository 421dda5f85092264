// fuzzdriver.cpp: a stand-in for libFuzzer's main when building with g++.
// Replays every file given on the command line, then N seeded random inputs (CROSSGATE_FUZZ_RUNS).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  const char* env = std::getenv("CROSSGATE_FUZZ_RUNS");
  long runs = env ? std::atol(env) : 20000;
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> buf;
  for (long r = 0; r < runs; ++r) {
    size_t n = rng() % 512;
    buf.resize(n);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::cout << "fuzz: " << (argc - 1) << " files + " << runs << " random inputs, no crash\n";
  return 0;
}
