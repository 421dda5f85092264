// crc32c.h: CRC-32C (Castagnoli), the checksum that guards saved index files.
// Incremental: crc = crc32c_update(crc, data, n) starting from 0; same result as one call.
#pragma once
#include <cstddef>
#include <cstdint>

namespace crossgate {

uint32_t crc32c_update(uint32_t crc, const void* data, size_t n);
// The portable slice-by-8 path, exposed so tests can check the hardware path against it.
uint32_t crc32c_update_portable(uint32_t crc, const void* data, size_t n);

}  // namespace crossgate
