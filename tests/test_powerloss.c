/*
 * test_powerloss.c — power loss at every sync point, through os_fault.
 *
 * A deterministic workload (write transactions of puts and deletes with
 * large values, explicit checkpoints, a small auto-checkpoint threshold so
 * the log restarts several times) runs once through the fault vfs to count
 * its syncs S.  Then, for every sync point i in 1..S, with and without a
 * torn last write: a fresh directory, the workload with
 * os_fault_powerloss_at_sync(i), stopping at the first error; close the
 * handle on the dead vfs; reopen through the real vfs; the database must
 * hold exactly the state after transaction k, with k = the number of
 * commits that returned OK, or one more when the failing call was a commit
 * (never a partial transaction), and db_check must pass.  A last test loses
 * power at a random moment from another thread.
 *
 * BLAZEDB_LONG_TESTS=1 runs a longer workload and more random power cuts.
 * BLAZEDB_TEST_SEED=S replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "../src/os/os_fault.h"
#include "support/testutil.h"

typedef struct {
    uint64_t seed;
    TuWorkload w;
    uint64_t ntxn;          /* transactions in the workload */
    char *dir;
    char *path;
} Ctx;

/* Outcome of one run. */
typedef struct {
    int opened;             /* db_open_vfs returned OK */
    uint64_t ok;            /* last transaction whose commit returned OK */
    int in_flight;          /* the failing call was a commit (of ok + 1) */
    BlazeDBResult first_err;
    int err_where;          /* 0 open, 1 txn, 2 checkpoint, -1 none */
} Outcome;

static void pl_opts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->wal_autocheckpoint = 48;          /* pages: restarts the log often */
    o->cache_size = 256 * 1024;          /* small: pages are read back */
    o->busy_timeout_ms = 2000;
}

static void ctx_init(Ctx *c, const char *name)
{
    c->seed = tu_seed(name);
    tu_workload_init(&c->w, "", c->seed);
    c->w.nkeys = 60;
    c->w.max_ops = 12;
    c->w.max_small = 6 * 1024;
    c->w.max_big = 120 * 1024;
    c->w.big_permille = 40;
    c->w.del_permille = 300;
    c->ntxn = tu_long_tests() ? 80 : 24;
    c->dir = tu_mkdtemp("powerloss");
    assert_non_null(c->dir);
    c->path = tu_path(c->dir, "pl.blazedb");
    assert_non_null(c->path);
}

static void ctx_free(Ctx *c)
{
    tu_rmrf(c->dir);
    free(c->path);
    free(c->dir);
}

/* Removes the database and its sidecars. */
static void remove_db(const Ctx *c)
{
    static const char *suffix[] = { "", "-wal", "-shm", "-lock" };
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", c->path, suffix[i]);
        unlink(p);
    }
}

static int is_ckpt_after(const Ctx *c, uint64_t j)
{
    return j % 5 == 0 || tu_mix(c->seed ^ (j * 977)) % 7 == 0;
}

/* Creates the (empty) database through the real vfs. */
static void create_db(const Ctx *c)
{
    remove_db(c);
    BlazeDBOptions o;
    pl_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, NULL, &db);
    if (rc)
        fail_msg("creating %s: %s (%s)", c->path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    blazedb_close(db);
}

/* Runs transactions 1..ntxn through `vfs` until the first error, then
 * closes. */
static Outcome run_workload_n(const Ctx *c, OsVfs *vfs, uint64_t ntxn)
{
    Outcome out = { 0, 0, 0, BLAZEDB_OK, -1 };
    BlazeDBOptions o;
    pl_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, vfs, &db);
    if (rc) {
        out.first_err = rc;
        out.err_where = 0;
        return out;
    }
    out.opened = 1;
    for (uint64_t j = 1; j <= ntxn; j++) {
        int stage;
        rc = tu_txn_run(db, &c->w, j, &stage);
        if (rc) {
            out.first_err = rc;
            out.err_where = 1;
            out.in_flight = stage == 2;
            break;
        }
        out.ok = j;
        if (is_ckpt_after(c, j)) {
            rc = blazedb_checkpoint(db);
            if (rc) {
                out.first_err = rc;
                out.err_where = 2;
                break;
            }
        }
    }
    blazedb_close(db);
    return out;
}

static Outcome run_workload(const Ctx *c, OsVfs *vfs)
{
    return run_workload_n(c, vfs, c->ntxn);
}

/* Reopens with the real vfs and checks the state against the outcome.
 * `what` describes the run for failure messages. */
static void verify(const Ctx *c, const Outcome *out, TuModel *m, const char *what)
{
    BlazeDBOptions o;
    pl_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(c->path, TU_PASSWORD, &o, NULL, &db);
    if (rc)
        fail_msg("seed %" PRIu64 " %s: reopen failed: %s (%s); run: ok=%" PRIu64
                 " first error %s at %d", c->seed, what, blazedb_strerror(rc),
                 blazedb_errmsg(NULL), out->ok, blazedb_strerror(out->first_err),
                 out->err_where);
    uint64_t k;
    rc = tu_db_last(db, &c->w, &k);
    if (rc)
        fail_msg("seed %" PRIu64 " %s: reading meta:last: %s (%s)", c->seed, what,
                 blazedb_strerror(rc), blazedb_errmsg(db));
    uint64_t hi = out->ok + (out->in_flight ? 1 : 0);
    if (k < out->ok || k > hi)
        fail_msg("seed %" PRIu64 " %s: recovered transaction %" PRIu64 "; %" PRIu64
                 " commits returned OK%s (first error %s at %d)", c->seed, what, k, out->ok,
                 out->in_flight ? " and one was in flight" : "",
                 blazedb_strerror(out->first_err), out->err_where);
    tu_model_replay(m, k);
    char msg[512];
    if (tu_model_compare(m, db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 " %s: not exactly the state after txn %" PRIu64 ": %s",
                 c->seed, what, k, msg);
    if (tu_db_check(db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 " %s: db_check: %s", c->seed, what, msg);
    /* The recovered database must accept writes again. */
    rc = tu_txn_run(db, &c->w, k + 1, NULL);
    if (rc)
        fail_msg("seed %" PRIu64 " %s: commit after recovery: %s (%s)", c->seed, what,
                 blazedb_strerror(rc), blazedb_errmsg(db));
    tu_model_apply(m, k + 1);
    if (tu_model_compare(m, db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 " %s: after a commit on the recovered db: %s", c->seed,
                 what, msg);
    blazedb_close(db);
}

static uint64_t count_syncs(const Ctx *c)
{
    create_db(c);
    OsFault *f = os_fault_new(NULL);
    assert_non_null(f);
    Outcome out = run_workload(c, os_fault_vfs(f));
    uint64_t s = os_fault_count(f, OS_FAULT_SYNC);
    os_fault_free(f);
    if (!out.opened || out.ok != c->ntxn)
        fail_msg("seed %" PRIu64 ": the workload fails without faults: %s at %d after %"
                 PRIu64, c->seed, blazedb_strerror(out.first_err), out.err_where, out.ok);
    return s;
}

/* Power loss at every sync point, without and with tearing. */
static void test_powerloss_every_sync(void **state)
{
    (void)state;
    Ctx c;
    ctx_init(&c, "test_powerloss_every_sync");
    TuModel m;
    assert_int_equal(tu_model_init(&m, &c.w), 0);

    uint64_t syncs = count_syncs(&c);
    fprintf(stderr, "  workload: %" PRIu64 " txns, %" PRIu64 " syncs\n", c.ntxn, syncs);
    /* The workload must commit durably (one sync per commit at least). */
    assert_true(syncs >= c.ntxn);

    uint64_t t0 = tu_now_us();
    uint64_t crashes = 0, lost_inflight = 0, kept_inflight = 0;
    for (int tear = 0; tear <= 1; tear++) {
        for (uint64_t i = 1; i <= syncs + 1; i++) {
            create_db(&c);
            OsFault *f = os_fault_new(NULL);
            assert_non_null(f);
            unsigned tear_seed = tear ? (unsigned)(tu_mix(c.seed + i) % 100000u) + 1u : 0u;
            os_fault_powerloss_at_sync(f, i, tear_seed);
            Outcome out = run_workload(&c, os_fault_vfs(f));
            int crashed = os_fault_crashed(f);
            os_fault_free(f);
            char what[96];
            snprintf(what, sizeof what, "power loss at sync %" PRIu64 "/%" PRIu64 " tear %u",
                     i, syncs, tear_seed);
            if (crashed) {
                crashes++;
                /* Every error after power loss must be an I/O error (or the
                 * failed-handle code), never a claim of corruption.  No error
                 * at all: power went during blazedb_close's checkpoint. */
                if (out.first_err != BLAZEDB_OK && out.first_err != BLAZEDB_IO_ERROR &&
                    out.first_err != BLAZEDB_FAILED)
                    fail_msg("seed %" PRIu64 " %s: first error is %s, expected an I/O error",
                             c.seed, what, blazedb_strerror(out.first_err));
            } else if (out.first_err != BLAZEDB_OK) {
                fail_msg("seed %" PRIu64 " %s: error %s without power loss", c.seed, what,
                         blazedb_strerror(out.first_err));
            }
            verify(&c, &out, &m, what);
            if (out.in_flight) {
                if (m.last == out.ok + 2)
                    kept_inflight++;
                else
                    lost_inflight++;
            }
        }
    }
    fprintf(stderr, "  %" PRIu64 " power cuts verified in %.1f s (in-flight commit kept %"
            PRIu64 ", lost %" PRIu64 ")\n", crashes, (double)(tu_now_us() - t0) / 1e6,
            kept_inflight, lost_inflight);
    /* Each i <= syncs cut power (the background checkpoint may shift the
     * count a little from run to run, hence the slack). */
    assert_true(crashes * 10 >= syncs * 2 * 9);
    tu_model_free(&m);
    ctx_free(&c);
}

/* Power loss while the database is being created (and during its first
 * commit): creation never returned OK, so the reopened database must be
 * usable and hold nothing or transaction 1, never be refused as corrupt. */
static void test_powerloss_during_create(void **state)
{
    (void)state;
    Ctx c;
    ctx_init(&c, "test_powerloss_during_create");
    TuModel m;
    assert_int_equal(tu_model_init(&m, &c.w), 0);

    remove_db(&c);
    OsFault *f = os_fault_new(NULL);
    assert_non_null(f);
    Outcome out = run_workload_n(&c, os_fault_vfs(f), 1);
    uint64_t syncs = os_fault_count(f, OS_FAULT_SYNC);
    os_fault_free(f);
    assert_int_equal(out.ok, 1);
    assert_true(syncs >= 1);
    for (int tear = 0; tear <= 1; tear++) {
        for (uint64_t i = 1; i <= syncs; i++) {
            remove_db(&c);
            f = os_fault_new(NULL);
            assert_non_null(f);
            unsigned tear_seed = tear ? (unsigned)(tu_mix(c.seed + i) % 100000u) + 1u : 0u;
            os_fault_powerloss_at_sync(f, i, tear_seed);
            out = run_workload_n(&c, os_fault_vfs(f), 1);
            assert_true(os_fault_crashed(f));
            os_fault_free(f);
            /* An open that failed had nothing in flight; a failing commit
             * of txn 1 may or may not survive. */
            char what[96];
            snprintf(what, sizeof what, "creation: power loss at sync %" PRIu64 "/%" PRIu64
                     " tear %u", i, syncs, tear_seed);
            verify(&c, &out, &m, what);
        }
    }
    tu_model_free(&m);
    ctx_free(&c);
}

/* Power loss at a random moment, from another thread. */
typedef struct {
    OsFault *f;
    uint64_t delay_us;
    unsigned tear;
} Cutter;

static void *cutter_main(void *arg)
{
    Cutter *k = arg;
    tu_sleep_us(k->delay_us);
    os_fault_powerloss_now(k->f, k->tear);
    return NULL;
}

static void test_powerloss_random_moment(void **state)
{
    (void)state;
    Ctx c;
    ctx_init(&c, "test_powerloss_random_moment");
    TuModel m;
    assert_int_equal(tu_model_init(&m, &c.w), 0);

    /* How long does the whole workload take? */
    remove_db(&c);
    uint64_t t0 = tu_now_us();
    Outcome clean = run_workload(&c, NULL);
    uint64_t span = tu_now_us() - t0;
    assert_int_equal(clean.ok, c.ntxn);

    TuRng rng;
    tu_rng_seed(&rng, c.seed ^ 0x5eed);
    int rounds = tu_long_tests() ? 300 : 40;
    for (int r = 0; r < rounds; r++) {
        if (r % 2)
            remove_db(&c);      /* power may also go during creation */
        else
            create_db(&c);
        OsFault *f = os_fault_new(NULL);
        assert_non_null(f);
        Cutter k = { f, tu_rng_below(&rng, span + 1),
                     tu_rng_below(&rng, 2) ? (unsigned)tu_rng_below(&rng, 1000) + 1 : 0 };
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, cutter_main, &k), 0);
        Outcome out = run_workload(&c, os_fault_vfs(f));
        pthread_join(th, NULL);
        os_fault_free(f);
        /* A commit whose result raced with the cut may or may not have
         * reached the disk; the check allows ok or ok + 1 then. */
        char what[96];
        snprintf(what, sizeof what, "round %d: power cut after %" PRIu64 " us tear %u", r,
                 k.delay_us, k.tear);
        verify(&c, &out, &m, what);
    }
    tu_model_free(&m);
    ctx_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_powerloss_every_sync),
        cmocka_unit_test(test_powerloss_during_create),
        cmocka_unit_test(test_powerloss_random_moment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
