// kernels_avx2.cpp: AVX2 + FMA + F16C inner-product kernels for f32, f16 and int8 rows.
// Built with -mavx2 -mfma -mf16c; only called after kernels.cpp has checked the CPU flags.
#include "kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

namespace crossgate {
namespace {

struct RowF32 {
  using T = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float at(const float* p, size_t i) { return p[i]; }
};
struct RowF16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float at(const uint16_t* p, size_t i) { return f16_to_f32(p[i]); }
};
struct RowI8 {
  using T = int8_t;
  static __m256 load(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static float at(const int8_t* p, size_t i) { return static_cast<float>(p[i]); }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The hardware prefetcher alone left the f16 and int8 scans at about half the memory bandwidth
// (their rows are short, so more rows are in flight per byte); fetching ~16 KiB ahead, rounded to
// whole rows, brought them to the f32 scan's bytes per second. Prefetches never fault, so reaching
// past the last row is harmless.
inline size_t prefetch_bytes(size_t row_bytes) {
  const size_t rows_ahead = (16384 + row_bytes - 1) / row_bytes;
  return (rows_ahead < 4 ? 4 : rows_ahead) * row_bytes;
}

// QT queries x RT rows per pass; 16 ymm registers hold QT*RT accumulators plus RT row loads.
// The tail (dim % 8) is summed in scalar so no load reads past the row.
template <class R, int QT, int RT>
inline void tile(const float* q, size_t dim, const typename R::T* rows, const float* scales, float* out,
                 size_t stride) {
  __m256 acc[QT][RT];
  for (int a = 0; a < QT; ++a)
    for (int b = 0; b < RT; ++b) acc[a][b] = _mm256_setzero_ps();
  size_t i = 0;
  const char* ahead = reinterpret_cast<const char*>(rows) + prefetch_bytes(dim * sizeof(typename R::T));
  for (; i + 8 <= dim; i += 8) {
    __m256 rv[RT];
    for (int b = 0; b < RT; ++b) {
      _mm_prefetch(ahead + (b * dim + i) * sizeof(typename R::T), _MM_HINT_T0);
      rv[b] = R::load(rows + b * dim + i);
    }
    for (int a = 0; a < QT; ++a) {
      const __m256 qv = _mm256_loadu_ps(q + a * dim + i);
      for (int b = 0; b < RT; ++b) acc[a][b] = _mm256_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < QT; ++a)
    for (int b = 0; b < RT; ++b) {
      float s = hsum(acc[a][b]);
      for (size_t j = i; j < dim; ++j) s += q[a * dim + j] * R::at(rows + b * dim, j);
      out[a * stride + b] = scales ? s * scales[b] : s;
    }
}

template <class R, int QT>
inline void rows_pass(const float* q, const typename R::T* rows, const float* scales, size_t nrows, size_t dim,
                      float* out, size_t stride) {
  size_t r = 0;
  for (; r + 4 <= nrows; r += 4) tile<R, QT, 4>(q, dim, rows + r * dim, scales ? scales + r : nullptr, out + r, stride);
  for (; r < nrows; ++r) tile<R, QT, 1>(q, dim, rows + r * dim, scales ? scales + r : nullptr, out + r, stride);
}

template <class R>
void dot_impl(const float* qs, size_t nq, const typename R::T* rows, const float* scales, size_t nrows, size_t dim,
              float* out) {
  size_t q = 0;
  for (; q + 2 <= nq; q += 2) rows_pass<R, 2>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows);
  if (q < nq) rows_pass<R, 1>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows);
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

const KernelSet* avx2_kernels() {
  static const KernelSet k{SimdLevel::Avx2, &dot_f32, &dot_f16, &dot_i8};
  return &k;
}

}  // namespace crossgate

#else

namespace crossgate {
const KernelSet* avx2_kernels() { return nullptr; }
}  // namespace crossgate

#endif
