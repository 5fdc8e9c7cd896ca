/*
 * monitor.h — per-handle operation counters and latency histograms, and the
 * health evaluation behind blazedb_metrics_json / blazedb_health.
 *
 * Owns: the clock used to time operations (mon_now), the histograms (one
 * per MonOp, log-scale buckets; each thread records into a shard of its
 * own with relaxed atomic loads and stores: no lock, no locked
 * instruction, no cache line shared between threads), the metrics JSON and
 * the health rules.  Not: the counters the
 * pager keeps (PagerStats) nor the catalog's per-collection counters; it
 * only reads those.
 *
 * Hot-path cost: mon_now() is the TSC (rdtsc, about 20 ns on the reference
 * VM, where clock_gettime(CLOCK_MONOTONIC) costs 45-65 ns) on x86-64 with an
 * invariant TSC, calibrated once per process against CLOCK_MONOTONIC;
 * CLOCK_MONOTONIC elsewhere.  CLOCK_MONOTONIC_COARSE is cheaper still but
 * ticks every 4 ms, which puts every sub-millisecond operation in one
 * bucket.  mon_end adds about 5 ns more (measured: 29 ns for the whole
 * mon_now + mon_end pair; 32 ns of a 167 ns cached point get), which is
 * why point reads are timed one call in MON_SAMPLE (mon_start).
 */
#ifndef BLAZEDB_DB_MONITOR_H
#define BLAZEDB_DB_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "blazedb.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define MON_HAVE_TSC 1
#endif

/* Timed operation kinds (the names in the JSON are in monitor.c). */
typedef enum {
    MON_KV_GET = 0,     /* blazedb_get/get2/txn_get */
    MON_KV_PUT,         /* blazedb_put/put2/txn_put (one-shot: with its commit) */
    MON_KV_DELETE,      /* blazedb_delete/delete2/txn_delete */
    MON_KV_BATCH,       /* blazedb_write_batch (one per batch) */
    MON_TXN_BEGIN,      /* blazedb_txn_begin (also the collection calls' own) */
    MON_COMMIT,         /* every write commit: free-page bookkeeping + log + sync */
    MON_DOC_INSERT,     /* blazedb_insert / insert_many (one per call) */
    MON_DOC_GET,        /* blazedb_get_doc / get_many */
    MON_DOC_UPDATE,     /* blazedb_replace / upsert / patch */
    MON_DOC_DELETE,     /* blazedb_delete_doc / delete_many / soft_delete */
    MON_SQL_STATEMENT,  /* a statement run, from its first blazedb_step to
                           DONE or an error (the caller's time between rows
                           included); SQL writes also count in the MON_DOC_*
                           kinds they call */
    MON_NOPS
} MonOp;

typedef struct Monitor Monitor;

/* A new monitor (all zero), or NULL when out of memory.  The first call in
 * the process picks and calibrates the clock (about 1 ms). */
Monitor *mon_new(void);
void mon_free(Monitor *m);

/* The handle's monitor (defined in db.c). */
Monitor *db_monitor(BlazeDB *db);

/* ---- the clock ------------------------------------------------------------ */

extern int mon_clock_tsc; /* set once by mon_new: 1 = rdtsc, 0 = CLOCK_MONOTONIC */

/* Ticks of the operation clock (TSC cycles or nanoseconds). */
static inline uint64_t mon_now(void)
{
#ifdef MON_HAVE_TSC
    if (mon_clock_tsc)
        return __rdtsc();
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Records one operation of kind `op` that took `ticks`; rc is its result
 * (anything but OK, NOT_FOUND, ROW and DONE counts as an error).  m may be
 * NULL (ignored). */
void mon_record(Monitor *m, MonOp op, uint64_t ticks, int rc);
/* Counts one operation that was not timed (see mon_start). */
void mon_count(Monitor *m, MonOp op, int rc);

/*
 * Point reads (MON_KV_GET, MON_DOC_GET) are timed one call in MON_SAMPLE,
 * chosen at random: a cached get costs 110-140 ns, and reading the clock
 * twice and recording would add about 30 ns to every one of them.  Every
 * call is still counted, with its errors; the histogram holds the timed
 * calls, whose distribution is the kind's (the mean and sum are scaled up
 * from them).
 * Every other kind is timed at every call.
 */
#define MON_SAMPLE 8
extern _Thread_local uint32_t mon_tl_rng;
uint32_t mon_rng_seed(void);

/* The start of an operation of kind op: mon_now(), or 0 when this call of
 * a sampled kind is not to be timed. */
static inline uint64_t mon_start(MonOp op)
{
    if (op == MON_KV_GET || op == MON_DOC_GET) {
        uint32_t x = mon_tl_rng ? mon_tl_rng : mon_rng_seed();
        x ^= x << 13; /* xorshift32 */
        x ^= x >> 17;
        x ^= x << 5;
        mon_tl_rng = x;
        if (x % MON_SAMPLE)
            return 0;
    }
    return mon_now();
}

/* Ends an operation started at t0 = mon_start() or mon_now(): records it
 * (or only counts it, t0 == 0) and returns rc. */
static inline BlazeDBResult mon_end(Monitor *m, MonOp op, uint64_t t0, BlazeDBResult rc)
{
    if (!t0) {
        mon_count(m, op, (int)rc);
        return rc;
    }
    uint64_t t1 = mon_now();
    mon_record(m, op, t1 > t0 ? t1 - t0 : 0, (int)rc);
    return rc;
}

/* ---- histograms (for tests) ------------------------------------------------ */

#define MON_BUCKETS 40
/* Bucket k of a histogram holds latencies in [2^(k-4), 2^(k-3)) µs (k >= 1);
 * bucket 0 those below 0.125 µs; the last one everything from 2^35 µs. */
typedef struct {
    uint64_t count, errors;
    uint64_t timed;             /* of count: those in the buckets */
    double sum_us, max_us;      /* sum_us: scaled up to count */
    double p50_us, p95_us, p99_us;
    uint64_t buckets[MON_BUCKETS];
} MonHistSnapshot;
void mon_snapshot(Monitor *m, MonOp op, MonHistSnapshot *out);
/* The upper bound of bucket k in µs. */
double mon_bucket_upper_us(int k);
/* The JSON name of an operation kind ("kv_get", ...). */
const char *mon_op_name(MonOp op);

/* ---- health rules (pure, so tests can feed them any numbers) ---------------- */

/* What the rules look at.  Gathered by blazedb_health from the handle. */
typedef struct {
    int failed;                 /* handle refuses writes after an I/O error */
    int rekeying;               /* a re-encryption started and did not end */
    int read_error;             /* reading the catalog failed with this code */
    char read_error_msg[200];
    uint64_t page_size;
    uint64_t pages;             /* high-water mark (npages) */
    uint64_t free_pages;
    uint64_t max_pages;         /* PAGER_MAX_PGNO */
    uint64_t wal_pages;         /* frames not yet checkpointed */
    uint64_t wal_frames;        /* frames in the log (checkpointed or not) */
    uint32_t autockpt;          /* pages; UINT32_MAX = never automatically */
    uint64_t max_key;           /* largest key / id / index entry */
    /* the collection with the most of each */
    char coll_most_docs[256];
    uint64_t most_docs;
    char coll_most_indexes[256];
    uint64_t most_indexes;
    /* deep mode only (0 otherwise) */
    int deep;
    char coll_longest_id[256];
    uint64_t longest_id;
    char index_longest_key[256];
    uint64_t longest_index_key;
} MonFacts;

/* One finding of the health rules. */
typedef struct {
    int severity;               /* BLAZEDB_HEALTH_WARN or _ERROR */
    char code[32];              /* "failed", "free_pages", "wal_size", ... */
    char reason[640];
    char action[640];
} MonIssue;

#define MON_MAX_ISSUES 16

/* Applies the rules to f with the thresholds in o (defaults filled in);
 * writes up to MON_MAX_ISSUES findings to out and returns how many; the
 * worst severity goes to *status (BLAZEDB_HEALTH_OK when none). */
size_t mon_health_eval(const MonFacts *f, const BlazeDBHealthOptions *o,
                       MonIssue out[MON_MAX_ISSUES], int *status);

#endif /* BLAZEDB_DB_MONITOR_H */
