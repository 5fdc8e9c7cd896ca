/*
 * test_ioerror.c — I/O errors on every kind of operation, through os_fault.
 *
 * For each operation kind (read, write, sync, open, truncate) and errno
 * (EIO, ENOSPC; reads only EIO, as a read cannot run out of space), and for
 * nth = 1..K spread over the operations a clean run
 * performs: a fresh database, a workload (write transactions of puts and
 * deletes with large values, reads checked against a model, checkpoints, a
 * close and reopen in the middle) through the fault vfs with the nth
 * operation of that kind failing.  The first error must be the documented
 * code (BLAZEDB_IO_ERROR for EIO, BLAZEDB_FULL for ENOSPC); afterwards (the
 * fault is disarmed) every write either succeeds or returns BLAZEDB_FAILED,
 * and once FAILED always FAILED; reads never return wrong data.  Finally the
 * handle is closed, the database reopened through the real vfs, and it must
 * hold exactly the commits that returned OK (plus, atomically, a commit
 * that failed when no later commit succeeded), and pass db_check.  A
 * persistent variant keeps failing until the end of the transaction that
 * saw the first error.  Faults during creation have their own test, so a
 * creation bug does not hide the others.
 *
 * BLAZEDB_LONG_TESTS=1 tries every nth instead of a sample.
 * BLAZEDB_TEST_SEED=S replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "../src/os/os_fault.h"
#include "support/testutil.h"

#define NTXN 16
#define REOPEN_AFTER 8

typedef struct {
    uint64_t seed;
    TuWorkload w;
    char *dir;
    char *path;
} Ctx;

static void io_opts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->wal_autocheckpoint = 40;          /* log restarts during the run */
    o->cache_size = 128 * 1024;          /* small: pages are read back */
    o->busy_timeout_ms = 2000;
}

static void ctx_init(Ctx *c, const char *name)
{
    c->seed = tu_seed(name);
    tu_workload_init(&c->w, "", c->seed);
    c->w.nkeys = 50;
    c->w.max_ops = 10;
    c->w.max_small = 5 * 1024;
    c->w.max_big = 80 * 1024;
    c->w.big_permille = 50;
    c->w.del_permille = 300;
    c->dir = tu_mkdtemp("ioerror");
    assert_non_null(c->dir);
    c->path = tu_path(c->dir, "io.blazedb");
    assert_non_null(c->path);
}

static void ctx_free(Ctx *c)
{
    tu_rmrf(c->dir);
    free(c->path);
    free(c->dir);
}

static void remove_db(const Ctx *c)
{
    static const char *suffix[] = { "", "-wal", "-shm", "-lock" };
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", c->path, suffix[i]);
        unlink(p);
    }
}

/* Creates the empty database through the real vfs. */
static void create_db(const Ctx *c)
{
    remove_db(c);
    BlazeDBOptions o;
    io_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, NULL, &db);
    if (rc)
        fail_msg("creating %s: %s (%s)", c->path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    blazedb_close(db);
}

/* Everything one run needs to judge results. */
typedef struct {
    const Ctx *c;
    const char *what;       /* for messages */
    BlazeDBResult expect;   /* code for the injected errno */
    int errors;             /* results that were not OK */
    int failed;             /* FAILED seen: every later write must be FAILED */
    int armed;              /* a persistent fault is still armed */
    BlazeDBResult first;
    TuModel ok;             /* state of the commits that returned OK */
    uint64_t pending;       /* a commit that failed with no OK commit since */
    uint64_t commits_ok, commits_failed;
} Run;

/* Judges one result of the workload. */
static void judge(Run *r, BlazeDBResult rc, const char *op)
{
    if (rc == BLAZEDB_OK)
        return;
    r->errors++;
    if (r->errors == 1) {
        r->first = rc;
        if (rc != r->expect)
            fail_msg("seed %" PRIu64 " %s: first error (%s) is %s, expected %s", r->c->seed,
                     r->what, op, blazedb_strerror(rc), blazedb_strerror(r->expect));
    } else if (r->failed) {
        if (rc != BLAZEDB_FAILED)
            fail_msg("seed %" PRIu64 " %s: %s returned %s after the handle reported FAILED",
                     r->c->seed, r->what, op, blazedb_strerror(rc));
    } else if (!(rc == BLAZEDB_FAILED || (r->armed && rc == r->expect))) {
        fail_msg("seed %" PRIu64 " %s: %s returned %s after the fault was disarmed "
                 "(expected OK or FAILED)", r->c->seed, r->what, op, blazedb_strerror(rc));
    }
    if (rc == BLAZEDB_FAILED)
        r->failed = 1;
}

/* Reads a few keys and compares them with the model of OK commits. */
static void check_reads(Run *r, BlazeDB *db, uint64_t j)
{
    const Ctx *c = r->c;
    TuRng rng;
    tu_rng_seed(&rng, c->seed ^ (j * 131));
    for (int i = 0; i < 4; i++) {
        uint32_t id = (uint32_t)tu_rng_below(&rng, c->w.nkeys);
        BlazeDBResult rc;
        char msg[256];
        if (tu_model_check_key(&r->ok, db, id, &rc, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 " %s: after txn %" PRIu64 ": %s", c->seed, r->what, j, msg);
        if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND) {
            /* a read may fail while the fault is armed or with FAILED; it
             * must not claim corruption */
            if (!(rc == r->expect || rc == BLAZEDB_FAILED)) {
                char key[64];
                tu_key(&c->w, id, key, sizeof key);
                fail_msg("seed %" PRIu64 " %s: get '%s' returned %s (%s)", c->seed, r->what,
                         key, blazedb_strerror(rc), blazedb_errmsg(db));
            }
            r->errors++;
            if (r->errors == 1)
                r->first = rc;
        }
    }
}

/*
 * The workload.  `f` may be NULL (clean run through the real vfs) or armed.
 * With `disarm_after_first` the fault is disarmed at the first error.
 */
static void run_workload(Run *r, OsFault *f, int disarm_after_first)
{
    const Ctx *c = r->c;
    OsVfs *vfs = f ? os_fault_vfs(f) : NULL;
    BlazeDBOptions o;
    io_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, vfs, &db);
    judge(r, rc, "open");
    if (rc && f && disarm_after_first) {
        os_fault_fail(f, OS_FAULT_ALL, 0, 0, 0);
        r->armed = 0;
        rc = db_open_vfs(c->path, TU_PASSWORD, &o, vfs, &db);
        judge(r, rc, "open after the fault");
        if (rc)
            fail_msg("seed %" PRIu64 " %s: open fails after the fault was disarmed: %s (%s)",
                     c->seed, r->what, blazedb_strerror(rc), blazedb_errmsg(NULL));
    }
    if (rc)
        return;
    for (uint64_t j = 1; j <= NTXN; j++) {
        if (j == REOPEN_AFTER + 1) {
            blazedb_close(db);
            db = NULL;
            rc = db_open_vfs(c->path, TU_PASSWORD, &o, vfs, &db);
            judge(r, rc, "reopen");
            if (rc && f && disarm_after_first) {
                os_fault_fail(f, OS_FAULT_ALL, 0, 0, 0);
                r->armed = 0;
                rc = db_open_vfs(c->path, TU_PASSWORD, &o, vfs, &db);
                if (rc)
                    fail_msg("seed %" PRIu64 " %s: reopen fails after the fault was "
                             "disarmed: %s (%s)", c->seed, r->what, blazedb_strerror(rc),
                             blazedb_errmsg(NULL));
            }
            if (rc)
                return;
        }
        int before = r->errors;
        int stage;
        rc = tu_txn_run(db, &c->w, j, &stage);
        if (rc == BLAZEDB_OK) {
            tu_model_apply(&r->ok, j);
            r->pending = 0;
            r->commits_ok++;
        } else {
            r->commits_failed++;
            if (stage == 2)
                r->pending = j;
        }
        judge(r, rc, stage == 0 ? "txn_begin" : stage == 1 ? "txn_put/delete" : "commit");
        check_reads(r, db, j);
        if (j % 4 == 0) {
            rc = blazedb_checkpoint(db);
            judge(r, rc, "checkpoint");
        }
        if (f && disarm_after_first && before == 0 && r->errors > 0) {
            os_fault_fail(f, OS_FAULT_ALL, 0, 0, 0);
            r->armed = 0;
        }
    }
    blazedb_close(db);
}

/* Reopens with the real vfs and checks the state. */
static void verify(Run *r)
{
    const Ctx *c = r->c;
    BlazeDBOptions o;
    io_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, NULL, &db);
    if (rc)
        fail_msg("seed %" PRIu64 " %s: reopen with the real vfs failed: %s (%s)", c->seed,
                 r->what, blazedb_strerror(rc), blazedb_errmsg(NULL));
    uint64_t k;
    rc = tu_db_last(db, &c->w, &k);
    if (rc)
        fail_msg("seed %" PRIu64 " %s: reading meta:last: %s (%s)", c->seed, r->what,
                 blazedb_strerror(rc), blazedb_errmsg(db));
    TuModel exp;
    assert_int_equal(tu_model_init(&exp, &c->w), 0);
    tu_model_copy(&exp, &r->ok);
    if (r->pending && k == r->pending)
        tu_model_apply(&exp, r->pending);
    char msg[512];
    if (k != exp.last)
        fail_msg("seed %" PRIu64 " %s: recovered txn %" PRIu64 ", but the last OK commit is %"
                 PRIu64 " (failed commit in flight: %" PRIu64 ")", c->seed, r->what, k,
                 r->ok.last, r->pending);
    if (tu_model_compare(&exp, db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 " %s: not exactly the OK commits: %s", c->seed, r->what, msg);
    if (tu_db_check(db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 " %s: db_check: %s", c->seed, r->what, msg);
    tu_model_free(&exp);
    blazedb_close(db);
}

static void run_init(Run *r, const Ctx *c, const char *what, BlazeDBResult expect,
                     int persistent)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->what = what;
    r->expect = expect;
    r->armed = persistent; /* a one-shot fault fires once: later errors must be FAILED */
    assert_int_equal(tu_model_init(&r->ok, &c->w), 0);
}

static const struct {
    unsigned kind;
    const char *name;
} KINDS[] = {
    { OS_FAULT_READ, "read" },   { OS_FAULT_WRITE, "write" },
    { OS_FAULT_SYNC, "sync" },   { OS_FAULT_OPEN, "open" },
    { OS_FAULT_TRUNCATE, "truncate" },
};
#define NKINDS (sizeof KINDS / sizeof *KINDS)

static const struct {
    int err;
    BlazeDBResult expect;
    const char *name;
} ERRS[] = {
    { EIO, BLAZEDB_IO_ERROR, "EIO" },
    { ENOSPC, BLAZEDB_FULL, "ENOSPC" },
};

/* Counts the operations of each kind in a clean run through the fault vfs. */
static void count_ops(Ctx *c, uint64_t counts[NKINDS], int create)
{
    if (create)
        remove_db(c);
    else
        create_db(c);
    OsFault *f = os_fault_new(NULL);
    assert_non_null(f);
    Run r;
    run_init(&r, c, "clean run", BLAZEDB_OK, 0);
    run_workload(&r, f, 0);
    if (r.errors)
        fail_msg("seed %" PRIu64 ": the workload fails without faults: %s", c->seed,
                 blazedb_strerror(r.first));
    for (size_t k = 0; k < NKINDS; k++)
        counts[k] = os_fault_count(f, KINDS[k].kind);
    os_fault_free(f);
    verify(&r);
    tu_model_free(&r.ok);
}

/* Which nth to try: all of 1..n in long mode or when n is small, else
 * about `max` spread evenly, always including 1 and n. */
static int next_nth(uint64_t n, uint64_t max, uint64_t cur, uint64_t *out)
{
    uint64_t step = (tu_long_tests() || n <= max) ? 1 : (n + max - 1) / max;
    uint64_t v = cur == 0 ? 1 : cur + step;
    if (cur != 0 && cur < n && v > n)
        v = n;
    if (v > n)
        return 0;
    *out = v;
    return 1;
}

/* Faults of one kind.  With `create` the run starts from nothing, so the
 * first operations are those of creating the database; otherwise from an
 * empty database created beforehand. */
static void ioerror_kind(unsigned kind_index, int persistent, int create)
{
    Ctx c;
    char name[64];
    snprintf(name, sizeof name, "ioerror_%s%s%s", KINDS[kind_index].name,
             persistent ? "_persistent" : "", create ? "_create" : "");
    ctx_init(&c, name);
    uint64_t counts[NKINDS];
    count_ops(&c, counts, create);
    uint64_t n = counts[kind_index];
    fprintf(stderr, "  %s: %" PRIu64 " operations in a clean run\n", KINDS[kind_index].name, n);
    assert_true(n > 0);
    uint64_t runs = 0, failed_handles = 0, errors_seen = 0;
    uint64_t t0 = tu_now_us();
    for (size_t e = 0; e < sizeof ERRS / sizeof *ERRS; e++) {
        /* A read cannot run out of space: reads get EIO only. */
        if (KINDS[kind_index].kind == OS_FAULT_READ && ERRS[e].err != EIO)
            continue;
        uint64_t nth = 0;
        while (next_nth(n, persistent ? 8 : 30, nth, &nth)) {
            char what[128];
            snprintf(what, sizeof what, "%s #%" PRIu64 "/%" PRIu64 " fails with %s%s",
                     KINDS[kind_index].name, nth, n, ERRS[e].name,
                     persistent ? " (persistent)" : "");
            if (create)
                remove_db(&c);
            else
                create_db(&c);
            OsFault *f = os_fault_new(NULL);
            assert_non_null(f);
            os_fault_fail(f, KINDS[kind_index].kind, nth, ERRS[e].err, persistent);
            Run r;
            run_init(&r, &c, what, ERRS[e].expect, persistent);
            run_workload(&r, f, 1);
            os_fault_free(f);
            verify(&r);
            runs++;
            failed_handles += r.failed;
            errors_seen += r.errors > 0;
            tu_model_free(&r.ok);
        }
    }
    fprintf(stderr, "  %" PRIu64 " runs in %.1f s; %" PRIu64 " saw an error, %" PRIu64
            " left the handle FAILED\n", runs, (double)(tu_now_us() - t0) / 1e6, errors_seen,
            failed_handles);
    /* Every armed fault lies within the clean run's operations, so most
     * must be seen.  Not all: a failing read or write inside a checkpoint
     * (in the background, or at the last close) is legitimately absorbed,
     * since the log still holds everything, and the background thread's
     * share varies with timing.  For reads that share reached 55% for some
     * seeds (13 of 29 seen with BLAZEDB_TEST_SEED=246715383530484), so the
     * bound is one in three: it still fails if injection stops reaching the
     * engine. */
    if (errors_seen * 3 < runs)
        fail_msg("seed %" PRIu64 ": only %" PRIu64 " of %" PRIu64 " armed faults were seen",
                 c.seed, errors_seen, runs);
    ctx_free(&c);
}

static void test_read_errors(void **s) { (void)s; ioerror_kind(0, 0, 0); }
static void test_write_errors(void **s) { (void)s; ioerror_kind(1, 0, 0); }
static void test_sync_errors(void **s) { (void)s; ioerror_kind(2, 0, 0); }
static void test_open_errors(void **s) { (void)s; ioerror_kind(3, 0, 0); }
static void test_truncate_errors(void **s) { (void)s; ioerror_kind(4, 0, 0); }
static void test_write_errors_persistent(void **s) { (void)s; ioerror_kind(1, 1, 0); }
static void test_sync_errors_persistent(void **s) { (void)s; ioerror_kind(2, 1, 0); }

/* Errors while the database is being created: the failed open must leave
 * nothing that a later open refuses. */
static void test_errors_during_create(void **s)
{
    (void)s;
    for (unsigned k = 0; k < NKINDS; k++)
        ioerror_kind(k, 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_sync_errors),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_truncate_errors),
        cmocka_unit_test(test_write_errors_persistent),
        cmocka_unit_test(test_sync_errors_persistent),
        cmocka_unit_test(test_errors_during_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
