// libpq for StrataMirror (the TimescaleDB / PostgreSQL mirror).
#ifndef STRATA_CLIBPQ_SHIM_H
#define STRATA_CLIBPQ_SHIM_H
#include <libpq-fe.h>

// Field codes are character macros, which Swift does not import.
static inline const char *strata_pq_sqlstate(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_SQLSTATE);
}

static inline const char *strata_pq_primary_message(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
}

// Notices (e.g. "relation already exists, skipping") are dropped instead of printed on
// standard error; errors still arrive through results.
static void strata_pq_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void strata_pq_silence_notices(PGconn *connection) {
    PQsetNoticeProcessor(connection, strata_pq_ignore_notice, NULL);
}
#endif
