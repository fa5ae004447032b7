// libzstd for StrataFormat: cold objects' blocks and pack manifests' pages.
#ifndef STRATA_CZSTD_SHIM_H
#define STRATA_CZSTD_SHIM_H
#include <zstd.h>
#endif
