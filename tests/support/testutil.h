/*
 * testutil.h — helpers shared by the durability and concurrency suites
 * (tests/test_crash.c, test_powerloss.c, test_ioerror.c, test_concurrency.c).
 *
 * Owns: temporary directories (create, remove recursively), a seeded PRNG
 * and deterministic value bytes, fast open options, and a small model of a
 * key space ("workload" + "model") that lets a test regenerate exactly what
 * transaction j wrote from (seed, j) and compare a database with the state
 * after any transaction.  Nothing here knows about the engine's internals.
 */
#ifndef BLAZEDB_TESTUTIL_H
#define BLAZEDB_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "blazedb.h"

/* ---- environment, time, files ------------------------------------------ */

/* 1 when BLAZEDB_LONG_TESTS is set to a non-empty value other than "0". */
int tu_long_tests(void);

/* The seed for a test: BLAZEDB_TEST_SEED when set (decimal or 0x hex),
 * otherwise derived from the time and pid.  Prints "NAME: seed S" on stderr
 * so a failure can be replayed with BLAZEDB_TEST_SEED=S. */
uint64_t tu_seed(const char *name);

/* Monotonic clock. */
uint64_t tu_now_us(void);
void tu_sleep_us(uint64_t us);

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd
 * path or NULL. */
char *tu_mkdtemp(const char *tag);
/* Removes `path` and everything below it.  0 on success. */
int tu_rmrf(const char *path);
/* malloc'd "dir/name". */
char *tu_path(const char *dir, const char *name);

/* Options with a cheap KDF (PBKDF2, 1 iteration) so opens are fast. */
void tu_fast_opts(BlazeDBOptions *o);

/* The password used by every suite. */
#define TU_PASSWORD "test password"

/* ---- PRNG -------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} TuRng;

uint64_t tu_mix(uint64_t x);                 /* splitmix64 finaliser */
void tu_rng_seed(TuRng *r, uint64_t seed);
uint64_t tu_rng_next(TuRng *r);
/* Uniform in [0, n); 0 when n == 0. */
uint64_t tu_rng_below(TuRng *r, uint64_t n);
void tu_rng_bytes(TuRng *r, void *buf, size_t n);
/* Deterministic content of a value: n bytes from `vseed`. */
void tu_fill(uint64_t vseed, void *buf, size_t n);

/* ---- workload ---------------------------------------------------------- */

/* A key space: keys "<prefix>k%05u" for id < nkeys and "<prefix>meta:last",
 * whose value is the number j of the last transaction, 8 bytes LE. */
typedef struct {
    char prefix[16];
    uint64_t seed;
    uint32_t nkeys;           /* key ids 0..nkeys-1 */
    uint32_t max_ops;         /* 1..max_ops operations per transaction */
    uint32_t max_small;       /* most values 0..max_small bytes */
    uint32_t max_big;         /* big values up to this */
    uint32_t big_permille;    /* chance of a big value per put */
    uint32_t del_permille;    /* chance that an operation is a delete */
} TuWorkload;

typedef struct {
    uint32_t key;             /* key id */
    int del;
    uint64_t vseed;
    uint32_t vlen;
} TuOp;

/* Fills `w` with the defaults of the suites (200 keys, up to 20 ops, values
 * up to 20 KiB, 2% of them up to 300 KiB, 25% deletes). */
void tu_workload_init(TuWorkload *w, const char *prefix, uint64_t seed);

/* The operations of transaction j (j >= 1) into ops[0..max_ops); returns
 * how many.  Depends only on (w->seed, j). */
size_t tu_txn_ops(const TuWorkload *w, uint64_t j, TuOp *ops);

/* Formats key id (or the meta key for id == UINT32_MAX); returns length. */
size_t tu_key(const TuWorkload *w, uint32_t id, char *buf, size_t cap);

/* Runs transaction j in one write transaction on `db` (begin, ops, meta,
 * commit).  Returns the first non-OK result (the transaction is then
 * aborted/ended) or the commit's result.  *stage (if not NULL) receives
 * 0 = begin, 1 = a put/delete, 2 = commit: where the result came from. */
BlazeDBResult tu_txn_run(BlazeDB *db, const TuWorkload *w, uint64_t j,
                         int *stage);

/* ---- model --------------------------------------------------------------- */

typedef struct {
    uint8_t present;
    uint32_t vlen;
    uint64_t vseed;
} TuSlot;

typedef struct {
    const TuWorkload *w;
    TuSlot *slots;            /* nkeys entries */
    uint64_t last;            /* meta:last, 0 = absent */
} TuModel;

int tu_model_init(TuModel *m, const TuWorkload *w);
void tu_model_free(TuModel *m);
void tu_model_reset(TuModel *m);
void tu_model_copy(TuModel *dst, const TuModel *src);
/* Applies transaction j. */
void tu_model_apply(TuModel *m, uint64_t j);
/* Resets and applies transactions 1..k. */
void tu_model_replay(TuModel *m, uint64_t k);

/* Reads the meta key: its value, 0 when absent.  Returns OK or the error;
 * a malformed value gives BLAZEDB_CORRUPT. */
BlazeDBResult tu_db_last(BlazeDB *db, const TuWorkload *w, uint64_t *last);

/* Compares every key under the workload's prefix in the latest snapshot of
 * `db` with the model (an iterator walk plus point gets).  Returns 0 when
 * equal; otherwise -1 with a description in msg. */
int tu_model_compare(const TuModel *m, BlazeDB *db, char *msg, size_t msglen);

/* Reads key id in the latest snapshot of `db` (blazedb_get2) and compares
 * it with the model; *rc gets the get's result.  Returns 0 when the answer
 * agrees with the model, or when the get failed cleanly (an error code
 * with the outputs cleared: the caller judges *rc); -1 with a description
 * in msg when a value is present that should not be, missing, or wrong,
 * or when a failed get left its outputs set. */
int tu_model_check_key(const TuModel *m, BlazeDB *db, uint32_t id, BlazeDBResult *rc,
                       char *msg, size_t msglen);

/* db_check wrapper: 0 when OK, -1 with the message otherwise. */
int tu_db_check(BlazeDB *db, char *msg, size_t msglen);

/* ---- a scratch database ---------------------------------------------------- */

/* One database file in a fresh directory, open. */
typedef struct {
    char *dir, *path;
    BlazeDB *db;
} TuDb;

/* Creates the directory (named after tag) and opens <dir>/<tag>.blazedb
 * with `opts` (NULL: tu_fast_opts).  Returns the open's result (OK, or
 * INTERNAL_ERROR when the directory cannot be made); msg from
 * blazedb_errmsg(NULL) on failure. */
BlazeDBResult tu_db_create(TuDb *t, const char *tag, const BlazeDBOptions *opts);
/* Checks the file (tu_db_check), closes it and removes the directory.
 * 0 when the check passed; -1 with its message in msg otherwise (the
 * database is closed and removed either way). */
int tu_db_destroy(TuDb *t, char *msg, size_t msglen);

#endif /* BLAZEDB_TESTUTIL_H */
