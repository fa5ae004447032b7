#ifndef STRATA_CLIBFUZZER_H
#define STRATA_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry for programs with their own main (compiler-rt's FuzzerInterface.h):
/// parses libFuzzer's flags from argv and fuzzes `callback` until done. Provided by
/// libclang_rt.fuzzer, which `-sanitize=fuzzer` links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
