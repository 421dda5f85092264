// kernels.cpp: picks the SIMD level once per process from the CPU flags and CROSSGATE_SIMD.
// The per-ISA tables live in kernels_<isa>.cpp so only those files are built with wide-ISA flags.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels.h"

namespace crossgate {

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Neon: return "neon";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
  }
  return "unknown";
}

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
bool has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

bool cpu_supports(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case SimdLevel::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case SimdLevel::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma") && has_f16c();
#endif
#if defined(__aarch64__)
    case SimdLevel::Neon: return true;  // Advanced SIMD is mandatory on AArch64.
#endif
    default: return false;
  }
}

const KernelSet* table_for(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return &scalar_kernels();
    case SimdLevel::Avx2: return avx2_kernels();
    case SimdLevel::Avx512: return avx512_kernels();
    case SimdLevel::Neon: return neon_kernels();
  }
  return nullptr;
}

std::string supported_list() {
  std::string s;
  for (SimdLevel l : {SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Neon, SimdLevel::Scalar}) {
    if (kernels_for(l)) {
      if (!s.empty()) s += ", ";
      s += simd_level_name(l);
    }
  }
  return s;
}

const KernelSet& choose() {
  const char* forced = std::getenv("CROSSGATE_SIMD");
  if (forced && *forced) {
    const std::string want(forced);
    for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::Neon, SimdLevel::Avx2, SimdLevel::Avx512}) {
      if (want != simd_level_name(l)) continue;
      if (const KernelSet* k = kernels_for(l)) return *k;
      throw std::runtime_error("CROSSGATE_SIMD=" + want + " is not available on this CPU or build (available: " +
                               supported_list() + "); unset it or pick one of those");
    }
    throw std::runtime_error("CROSSGATE_SIMD=" + want + " is not a SIMD level; use one of scalar, neon, avx2, avx512");
  }
  for (SimdLevel l : {SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Neon}) {
    if (const KernelSet* k = kernels_for(l)) return *k;
  }
  return scalar_kernels();
}

}  // namespace

const KernelSet* kernels_for(SimdLevel level) {
  const KernelSet* k = table_for(level);
  return (k && cpu_supports(level)) ? k : nullptr;
}

const KernelSet& active_kernels() {
  // A function-local static retries on every call if choose() throws, so a bad CROSSGATE_SIMD
  // keeps failing loudly instead of silently using another level.
  static const KernelSet& chosen = choose();
  return chosen;
}

}  // namespace crossgate
