// kernels.h: inner-product kernels for the flat index (f32, f16 and int8 rows against f32 queries).
// One KernelSet per SIMD level; the level is chosen once at run time (CPU flags, CROSSGATE_SIMD).
#pragma once
#include <cstddef>
#include <cstdint>

namespace crossgate {

enum class SimdLevel { Scalar = 0, Neon = 1, Avx2 = 2, Avx512 = 3 };

const char* simd_level_name(SimdLevel level);

// Every kernel computes out[q * nrows + r] = dot(queries[q], rows[r]) for q < nq, r < nrows,
// with queries and rows both stored row-major with stride `dim`. Passing several queries lets a
// block of rows be read once from memory and reused from cache for each of them.
// int8 rows carry a per-row scale: out = scales[r] * dot(query, int8 row).
// f16 rows are IEEE binary16 bit patterns.
struct KernelSet {
  SimdLevel level;
  void (*dot_f32)(const float* queries, size_t nq, const float* rows, size_t nrows, size_t dim, float* out);
  void (*dot_f16)(const float* queries, size_t nq, const uint16_t* rows, size_t nrows, size_t dim, float* out);
  void (*dot_i8)(const float* queries, size_t nq, const int8_t* rows, const float* scales, size_t nrows,
                 size_t dim, float* out);
};

// The scalar twins: the reference every SIMD kernel is tested against, and the fallback.
const KernelSet& scalar_kernels();
// The kernels for one level, or nullptr when this build or this CPU cannot run them.
const KernelSet* kernels_for(SimdLevel level);
// The kernels the index uses: the best level the CPU supports, unless CROSSGATE_SIMD
// (scalar|neon|avx2|avx512) forces one. Chosen on first call; forcing an unsupported level throws.
const KernelSet& active_kernels();

// Per-ISA tables, defined in kernels_<isa>.cpp only where the compiler targets that ISA.
const KernelSet* avx2_kernels();
const KernelSet* avx512_kernels();
const KernelSet* neon_kernels();

// IEEE binary16 <-> binary32, round-to-nearest-even; the scalar path and the tests use them.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace crossgate
