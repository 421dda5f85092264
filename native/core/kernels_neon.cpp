// kernels_neon.cpp: AArch64 Advanced SIMD inner-product kernels for f32, f16 and int8 rows.
// Compiled to a real table only under __aarch64__; elsewhere it reports "not available".
#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace crossgate {
namespace {

// Each load widens 8 elements into two float32x4 halves.
struct RowF32 {
  using T = float;
  static void load(const float* p, float32x4_t& lo, float32x4_t& hi) {
    lo = vld1q_f32(p);
    hi = vld1q_f32(p + 4);
  }
  static float at(const float* p, size_t i) { return p[i]; }
};
struct RowF16 {
  using T = uint16_t;
  static void load(const uint16_t* p, float32x4_t& lo, float32x4_t& hi) {
    lo = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
    hi = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p + 4)));
  }
  static float at(const uint16_t* p, size_t i) { return f16_to_f32(p[i]); }
};
struct RowI8 {
  using T = int8_t;
  static void load(const int8_t* p, float32x4_t& lo, float32x4_t& hi) {
    const int16x8_t w = vmovl_s8(vld1_s8(p));
    lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
    hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)));
  }
  static float at(const int8_t* p, size_t i) { return static_cast<float>(p[i]); }
};

template <class R, int RT>
inline void tile(const float* q, size_t dim, const typename R::T* rows, const float* scales, float* out) {
  float32x4_t acc_lo[RT], acc_hi[RT];
  for (int b = 0; b < RT; ++b) acc_lo[b] = acc_hi[b] = vdupq_n_f32(0.0f);
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const float32x4_t q_lo = vld1q_f32(q + i), q_hi = vld1q_f32(q + i + 4);
    for (int b = 0; b < RT; ++b) {
      float32x4_t lo, hi;
      R::load(rows + b * dim + i, lo, hi);
      acc_lo[b] = vfmaq_f32(acc_lo[b], q_lo, lo);
      acc_hi[b] = vfmaq_f32(acc_hi[b], q_hi, hi);
    }
  }
  for (int b = 0; b < RT; ++b) {
    float s = vaddvq_f32(vaddq_f32(acc_lo[b], acc_hi[b]));
    for (size_t j = i; j < dim; ++j) s += q[j] * R::at(rows + b * dim, j);
    out[b] = scales ? s * scales[b] : s;
  }
}

template <class R>
void dot_impl(const float* qs, size_t nq, const typename R::T* rows, const float* scales, size_t nrows, size_t dim,
              float* out) {
  for (size_t q = 0; q < nq; ++q) {
    const float* qv = qs + q * dim;
    float* o = out + q * nrows;
    size_t r = 0;
    for (; r + 4 <= nrows; r += 4) tile<R, 4>(qv, dim, rows + r * dim, scales ? scales + r : nullptr, o + r);
    for (; r < nrows; ++r) tile<R, 1>(qv, dim, rows + r * dim, scales ? scales + r : nullptr, o + r);
  }
}

void dot_f32(const float* qs, size_t nq, const float* rows, size_t nrows, size_t dim, float* out) {
  dot_impl<RowF32>(qs, nq, rows, nullptr, nrows, dim, out);
}
void dot_f16(const float* qs, size_t nq, const uint16_t* rows, size_t nrows, size_t dim, float* out) {
  dot_impl<RowF16>(qs, nq, rows, nullptr, nrows, dim, out);
}
void dot_i8(const float* qs, size_t nq, const int8_t* rows, const float* scales, size_t nrows, size_t dim,
            float* out) {
  dot_impl<RowI8>(qs, nq, rows, scales, nrows, dim, out);
}

}  // namespace

const KernelSet* neon_kernels() {
  static const KernelSet k{SimdLevel::Neon, &dot_f32, &dot_f16, &dot_i8};
  return &k;
}

}  // namespace crossgate

#else

namespace crossgate {
const KernelSet* neon_kernels() { return nullptr; }
}  // namespace crossgate

#endif
