// hiredis for StrataCache (the Redis hot tier). Debian ships hiredis 0.14: no TLS, no
// RESP3; Strata formats commands itself and appends them with redisAppendFormattedCommand.
#ifndef STRATA_CHIREDIS_SHIM_H
#define STRATA_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <string.h>

// Reply types are macros; named constants keep the Swift side free of magic numbers.
static const int strata_redis_reply_string = REDIS_REPLY_STRING;
static const int strata_redis_reply_array = REDIS_REPLY_ARRAY;
static const int strata_redis_reply_integer = REDIS_REPLY_INTEGER;
static const int strata_redis_reply_nil = REDIS_REPLY_NIL;
static const int strata_redis_reply_status = REDIS_REPLY_STATUS;
static const int strata_redis_reply_error = REDIS_REPLY_ERROR;
static const int strata_redis_ok = REDIS_OK;

// The context's error text (a char array, which Swift sees as a tuple).
static inline const char *strata_redis_errstr(const redisContext *c) { return c->errstr; }
#endif
