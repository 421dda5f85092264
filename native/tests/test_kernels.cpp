// test_kernels.cpp: every SIMD kernel against its scalar twin, exactly, over every tail length;
// plus binary16 conversion and CRC-32C checks (the portable paths against hardware ones).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "crc32c.h"
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <cpuid.h>
#endif

using namespace crossgate;

namespace {

std::vector<const KernelSet*> simd_levels() {
  std::vector<const KernelSet*> out;
  for (SimdLevel l : {SimdLevel::Neon, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (const KernelSet* k = kernels_for(l)) out.push_back(k);
  }
  return out;
}

// Integer-valued data keep every product and partial sum an integer below 2^24, so FMA, plain
// multiply-add and any summation order give bit-identical floats: |q| <= 8, |row| <= 127 and
// dim <= 33 bound each sum by 33 * 8 * 127 = 33,528.
struct Case {
  size_t nq, nrows, dim;
  std::vector<float> q, rf32, scales;
  std::vector<uint16_t> rf16;
  std::vector<int8_t> ri8;
  std::vector<double> exact_f32, exact_f16, exact_i8;  // independent integer reference
};

Case make_case(std::mt19937& rng, size_t nq, size_t nrows, size_t dim) {
  Case c{nq, nrows, dim, {}, {}, {}, {}, {}, {}, {}, {}};
  std::uniform_int_distribution<int> small(-8, 8), byte(-127, 127), pow2(-2, 2);
  for (size_t i = 0; i < nq * dim; ++i) c.q.push_back(static_cast<float>(small(rng)));
  for (size_t i = 0; i < nrows * dim; ++i) {
    c.rf32.push_back(static_cast<float>(byte(rng)));
    c.rf16.push_back(f32_to_f16(static_cast<float>(byte(rng))));
    c.ri8.push_back(static_cast<int8_t>(byte(rng)));
  }
  for (size_t r = 0; r < nrows; ++r) c.scales.push_back(std::ldexp(1.0f, pow2(rng)));  // exact multipliers
  for (size_t a = 0; a < nq; ++a)
    for (size_t r = 0; r < nrows; ++r) {
      long long s32 = 0, s16 = 0, s8 = 0;
      for (size_t i = 0; i < dim; ++i) {
        const long long qv = static_cast<long long>(c.q[a * dim + i]);
        s32 += qv * static_cast<long long>(c.rf32[r * dim + i]);
        s16 += qv * static_cast<long long>(f16_to_f32(c.rf16[r * dim + i]));
        s8 += qv * c.ri8[r * dim + i];
      }
      c.exact_f32.push_back(static_cast<double>(s32));
      c.exact_f16.push_back(static_cast<double>(s16));
      c.exact_i8.push_back(static_cast<double>(s8) * c.scales[r]);
    }
  return c;
}

void run_all(const KernelSet& k, const Case& c, std::vector<float>& f32, std::vector<float>& f16,
             std::vector<float>& i8) {
  const size_t n = c.nq * c.nrows;
  f32.assign(n, -1.0f);
  f16.assign(n, -1.0f);
  i8.assign(n, -1.0f);
  k.dot_f32(c.q.data(), c.nq, c.rf32.data(), c.nrows, c.dim, f32.data());
  k.dot_f16(c.q.data(), c.nq, c.rf16.data(), c.nrows, c.dim, f16.data());
  k.dot_i8(c.q.data(), c.nq, c.ri8.data(), c.scales.data(), c.nrows, c.dim, i8.data());
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string where(const KernelSet& k, const char* kind, const Case& c, size_t i) {
  return std::string(simd_level_name(k.level)) + " " + kind + " nq=" + std::to_string(c.nq) +
         " rows=" + std::to_string(c.nrows) + " dim=" + std::to_string(c.dim) + " out[" + std::to_string(i) + "]";
}

}  // namespace

TEST(kernels_scalar_matches_integer_reference) {
  std::mt19937 rng(7);
  std::vector<float> a, b, d;
  for (size_t dim = 1; dim <= 33; ++dim)
    for (size_t rows = 1; rows <= 25; ++rows) {
      const Case c = make_case(rng, 1 + (dim + rows) % 5, rows, dim);
      run_all(scalar_kernels(), c, a, b, d);
      for (size_t i = 0; i < a.size(); ++i) {
        CHECK_EQ(static_cast<double>(a[i]), c.exact_f32[i]);
        CHECK_EQ(static_cast<double>(b[i]), c.exact_f16[i]);
        CHECK_EQ(static_cast<double>(d[i]), c.exact_i8[i]);
      }
    }
}

TEST(kernels_simd_equal_scalar_every_tail) {
  const auto levels = simd_levels();
  std::cout << "  simd levels under test:";
  for (auto* k : levels) std::cout << " " << simd_level_name(k->level);
  std::cout << (levels.empty() ? " none (scalar-only CPU)" : "") << "\n";
  std::mt19937 rng(11);
  std::vector<float> s32, s16, s8, v32, v16, v8;
  size_t compared = 0;
  for (size_t dim = 1; dim <= 33; ++dim)
    for (size_t rows = 1; rows <= 25; ++rows)
      for (size_t nq = 1; nq <= 5; ++nq) {  // 5 covers a full 4-query tile plus each remainder
        const Case c = make_case(rng, nq, rows, dim);
        run_all(scalar_kernels(), c, s32, s16, s8);
        for (const KernelSet* k : levels) {
          run_all(*k, c, v32, v16, v8);
          for (size_t i = 0; i < s32.size(); ++i) {
            if (!same_bits(s32[i], v32[i])) throw cgtest::Failure{where(*k, "f32", c, i) + " differs"};
            if (!same_bits(s16[i], v16[i])) throw cgtest::Failure{where(*k, "f16", c, i) + " differs"};
            if (!same_bits(s8[i], v8[i])) throw cgtest::Failure{where(*k, "int8", c, i) + " differs"};
            compared += 3;
          }
        }
      }
  CHECK(levels.empty() || compared > 0);
}

TEST(kernels_active_level_is_one_of_the_available) {
  const KernelSet& k = active_kernels();
  CHECK(kernels_for(k.level) == &k);
}

TEST(f16_conversion_known_values) {
  CHECK_EQ(f32_to_f16(1.0f), 0x3c00);
  CHECK_EQ(f32_to_f16(-2.0f), 0xc000);
  CHECK_EQ(f32_to_f16(65504.0f), 0x7bff);
  CHECK_EQ(f32_to_f16(65519.0f), 0x7bff);
  CHECK_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway to the next (infinite) step rounds to even
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to 0x0001, ties to even
  CHECK_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);
  CHECK_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even stays
  CHECK_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, odd rounds up
  CHECK_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  CHECK_EQ(f16_to_f32(0x7bff), 65504.0f);
  CHECK(std::isinf(f16_to_f32(0x7c00)));
  CHECK(std::isnan(f16_to_f32(0x7e00)));
  // Every non-NaN half survives the round trip.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;
    CHECK_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
TEST(f16_conversion_matches_f16c_hardware) {
  unsigned a = 0, b = 0, c = 0, d = 0;  // F16C: CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports lacks "f16c")
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29))) return;
  std::mt19937 rng(3);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = rng();
    if (i % 2) bits = (bits & 0x87ffffffu) | 0x30000000u;  // bias half the draws into f16's range
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    const uint16_t want = hw_f32_to_f16(f), got = f32_to_f16(f);
    if (want != got) throw cgtest::Failure{"f32_to_f16 bits " + std::to_string(bits) + " gave " + std::to_string(got) +
                                           ", F16C gives " + std::to_string(want)};
  }
}
#endif

TEST(crc32c_known_vector_and_paths_agree) {
  const char* s = "123456789";
  CHECK_EQ(crc32c_update(0, s, 9), 0xE3069283u);
  CHECK_EQ(crc32c_update_portable(0, s, 9), 0xE3069283u);
  std::mt19937 rng(5);
  std::vector<unsigned char> buf(5000);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (size_t len = 0; len < 300; ++len) {
    const size_t off = rng() % 64;
    CHECK_EQ(crc32c_update(0, buf.data() + off, len), crc32c_update_portable(0, buf.data() + off, len));
  }
  // Incremental in pieces equals one shot.
  uint32_t inc = 0;
  for (size_t p = 0; p < buf.size(); p += 37) inc = crc32c_update(inc, buf.data() + p, std::min<size_t>(37, buf.size() - p));
  CHECK_EQ(inc, crc32c_update_portable(0, buf.data(), buf.size()));
}
