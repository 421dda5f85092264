// kernels_avx512.cpp: AVX-512 (F/BW/VL/DQ + F16C) inner-product kernels for f32, f16 and int8 rows.
// Built with -mavx512*; only called after kernels.cpp has checked the CPU flags.
#include "kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__FMA__)
// GCC 12 warns that the _mm512_undefined_* pass-through operands inside its own extract and
// convert intrinsics are uninitialised; they are undefined by design.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

namespace crossgate {
namespace {

struct RowF32 {
  using T = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 load_tail(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct RowF16 {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 load_tail(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct RowI8 {
  using T = int8_t;
  static __m512 load(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static __m512 load_tail(const int8_t* p, __mmask16 m) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
  }
};

// Sums of four accumulators at once: {sum(a), sum(b), sum(c), sum(d)}. About half the shuffles of
// four separate reductions, which matters because shuffles compete with FMAs for port 5. A single
// accumulator is reduced as reduce4(a, a, a, a) so its sum (and so its score) never depends on
// whether its row fell in a group of four.
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  // abcd holds {a, b, c, d} partial sums in each 128-bit lane; add the four lanes.
  const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd),
                                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(abcd), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
}

// The hardware prefetcher alone left the f16 and int8 scans at about half the memory bandwidth
// (their rows are short, so more rows are in flight per byte); fetching ~16 KiB ahead, rounded to
// whole rows, brought them to the f32 scan's bytes per second. Prefetches never fault, so reaching
// past the last row is harmless.
inline size_t prefetch_bytes(size_t row_bytes) {
  const size_t rows_ahead = (16384 + row_bytes - 1) / row_bytes;
  return (rows_ahead < 4 ? 4 : rows_ahead) * row_bytes;
}

// QT queries x RT rows per pass over `dim`: each row load feeds QT FMAs and each query load RT,
// and the QT*RT independent accumulators hide the FMA latency. Masked loads handle the tail
// without reading past the row.
template <class R, int QT, int RT>
inline void tile(const float* q, size_t dim, const typename R::T* rows, const float* scales, float* out,
                 size_t stride) {
  __m512 acc[QT][RT];
  for (int a = 0; a < QT; ++a)
    for (int b = 0; b < RT; ++b) acc[a][b] = _mm512_setzero_ps();
  size_t i = 0;
  const char* ahead = reinterpret_cast<const char*>(rows) + prefetch_bytes(dim * sizeof(typename R::T));
  for (; i + 16 <= dim; i += 16) {
    __m512 rv[RT];
    for (int b = 0; b < RT; ++b) {
      _mm_prefetch(ahead + (b * dim + i) * sizeof(typename R::T), _MM_HINT_T0);
      rv[b] = R::load(rows + b * dim + i);
    }
    for (int a = 0; a < QT; ++a) {
      const __m512 qv = _mm512_loadu_ps(q + a * dim + i);
      for (int b = 0; b < RT; ++b) acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  if (i < dim) {
    const __mmask16 m = static_cast<__mmask16>((1u << (dim - i)) - 1u);
    __m512 rv[RT];
    for (int b = 0; b < RT; ++b) rv[b] = R::load_tail(rows + b * dim + i, m);
    for (int a = 0; a < QT; ++a) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + a * dim + i);
      for (int b = 0; b < RT; ++b) acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < QT; ++a) {
    float sums[4];
    if constexpr (RT == 4) {
      _mm_storeu_ps(sums, reduce4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
    } else {
      for (int b = 0; b < RT; ++b) sums[b] = _mm_cvtss_f32(reduce4(acc[a][b], acc[a][b], acc[a][b], acc[a][b]));
    }
    for (int b = 0; b < RT; ++b) out[a * stride + b] = scales ? sums[b] * scales[b] : sums[b];
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
  for (; q + 4 <= nq; q += 4) rows_pass<R, 4>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows);
  switch (nq - q) {
    case 3: rows_pass<R, 3>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows); break;
    case 2: rows_pass<R, 2>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows); break;
    case 1: rows_pass<R, 1>(qs + q * dim, rows, scales, nrows, dim, out + q * nrows, nrows); break;
    default: break;
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

const KernelSet* avx512_kernels() {
  static const KernelSet k{SimdLevel::Avx512, &dot_f32, &dot_f16, &dot_i8};
  return &k;
}

}  // namespace crossgate

#else

namespace crossgate {
const KernelSet* avx512_kernels() { return nullptr; }
}  // namespace crossgate

#endif
