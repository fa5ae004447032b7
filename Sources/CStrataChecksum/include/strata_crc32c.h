// CRC-32C with the processor's instruction where it has one (SSE 4.2 on x86-64, the CRC
// extension on AArch64). The Swift side keeps the portable table implementation and uses
// this only when strata_crc32c_available() says so.
#ifndef STRATA_CRC32C_H
#define STRATA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when strata_crc32c_update can run on this processor.
int strata_crc32c_available(void);

/// Continues a CRC-32C over `length` bytes: takes and returns the raw register
/// (the caller applies the initial and final inversion).
uint32_t strata_crc32c_update(uint32_t crc, const void *bytes, size_t length);

#endif
