// kernels_scalar.cpp: the portable scalar twins of every SIMD kernel, plus binary16 conversions.
// They are the fallback on any CPU and the reference the SIMD kernels are tested against.
#include <cstring>

#include "kernels.h"

namespace crossgate {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    // Subnormal or zero: mant * 2^-24 is exact in binary32.
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (absx < 0x38800000u) {                                                 // below 2^-14: subnormal
    if (absx < 0x33000000u) return sign;                                    // <= 2^-25 rounds to zero
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  const uint32_t e = (absx >> 23) - 112u;
  const uint32_t m = absx & 0x7fffffu;
  uint32_t r = (e << 10) | (m >> 13);
  const uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry into the exponent is correct
  return static_cast<uint16_t>(sign | r);
}

namespace {

inline float widen(float v) { return v; }
inline float widen(int8_t v) { return static_cast<float>(v); }
inline float widen(uint16_t v) { return f16_to_f32(v); }

// Four independent partial sums give the CPU some instruction-level parallelism without
// changing the result on the integer-valued data the tests use.
template <class T>
inline float dot_one(const float* q, const T* row, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += q[i] * widen(row[i]);
    s1 += q[i + 1] * widen(row[i + 1]);
    s2 += q[i + 2] * widen(row[i + 2]);
    s3 += q[i + 3] * widen(row[i + 3]);
  }
  for (; i < dim; ++i) s0 += q[i] * widen(row[i]);
  return (s0 + s1) + (s2 + s3);
}

template <class T>
void dot_scalar(const float* queries, size_t nq, const T* rows, const float* scales, size_t nrows, size_t dim,
                float* out) {
  for (size_t q = 0; q < nq; ++q) {
    const float* qv = queries + q * dim;
    for (size_t r = 0; r < nrows; ++r) {
      float s = dot_one(qv, rows + r * dim, dim);
      out[q * nrows + r] = scales ? s * scales[r] : s;
    }
  }
}

void dot_f32(const float* qs, size_t nq, const float* rows, size_t nrows, size_t dim, float* out) {
  dot_scalar(qs, nq, rows, nullptr, nrows, dim, out);
}
void dot_f16(const float* qs, size_t nq, const uint16_t* rows, size_t nrows, size_t dim, float* out) {
  dot_scalar(qs, nq, rows, nullptr, nrows, dim, out);
}
void dot_i8(const float* qs, size_t nq, const int8_t* rows, const float* scales, size_t nrows, size_t dim,
            float* out) {
  dot_scalar(qs, nq, rows, scales, nrows, dim, out);
}

}  // namespace

const KernelSet& scalar_kernels() {
  static const KernelSet k{SimdLevel::Scalar, &dot_f32, &dot_f16, &dot_i8};
  return k;
}

}  // namespace crossgate
