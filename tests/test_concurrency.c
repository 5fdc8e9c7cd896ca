/*
 * test_concurrency.c — snapshot isolation and locking across threads and
 * processes.
 *
 *   (a) one handle, writer and reader threads: random transfers between
 *       int64 accounts; every read snapshot sums to the initial total;
 *       per-thread "ops" counters match the commits made (no lost update).
 *   (b) the same with writer processes and a reader process, each with its
 *       own handle on the same file.
 *   (c) readers are not blocked by a writer holding its transaction open for
 *       500 ms (each read well under 100 ms, and they see the old snapshot);
 *       a writer in another process gets BLAZEDB_BUSY after its short busy
 *       timeout.
 *   (d) 8 processes create/open the same new database at the same moment.
 *   (e) an iterator opened before many commits (and checkpoints) sees
 *       exactly the old keys and values.
 *   (f) group commit: two threads committing durably on one handle share
 *       syncs (fewer syncs than commits), and every commit is there after
 *       reopening.
 *   (g) checkpoints against log restarts on one handle: a thread
 *       checkpoints without pause while another commits (each commit can
 *       start a new log generation) and reads back through a small cache;
 *       every read and the reopened file match the model.
 *
 * Processes are forked before the parent starts any thread or opens any
 * handle; children leave with _exit.  BLAZEDB_LONG_TESTS=1 runs longer.
 * BLAZEDB_TEST_SEED=S replays the random choices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define NACCT 32
#define INITIAL 1000

static uint64_t g_seed;

static void cc_opts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->busy_timeout_ms = 20000;
}

static void put_i64(uint8_t *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
}

static int64_t get_i64(const uint8_t *b)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | b[i];
    return (int64_t)u;
}

static size_t acct_key(int i, char *buf)
{
    return (size_t)sprintf(buf, "acct:%03d", i);
}

/* Reads an int64 in `t`; missing counts as 0.  Returns the result code. */
static BlazeDBResult txn_get_i64(BlazeDBTxn *t, const char *key, int64_t *v)
{
    void *p = NULL;
    size_t n = 0;
    BlazeDBResult rc = blazedb_txn_get(t, key, strlen(key), &p, &n);
    *v = 0;
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK;
    if (rc)
        return rc;
    if (n != 8) {
        blazedb_free(p);
        return BLAZEDB_CORRUPT;
    }
    *v = get_i64(p);
    blazedb_free(p);
    return BLAZEDB_OK;
}

static BlazeDBResult txn_put_i64(BlazeDBTxn *t, const char *key, int64_t v)
{
    uint8_t b[8];
    put_i64(b, v);
    return blazedb_txn_put(t, key, strlen(key), b, 8);
}

/* Creates the accounts. */
static void init_accounts(const char *path)
{
    BlazeDBOptions o;
    cc_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < NACCT; i++) {
        char k[32];
        acct_key(i, k);
        assert_int_equal(txn_put_i64(t, k, INITIAL), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    blazedb_close(db);
}

/*
 * One transfer between two random accounts, incrementing `ops_key` in the
 * same transaction.  Returns 1 when committed, 0 when deliberately aborted,
 * -1 on error (message in err).
 */
static int transfer(BlazeDB *db, TuRng *rng, const char *ops_key, char *err, size_t errlen)
{
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(db, 0, &t);
    if (rc) {
        snprintf(err, errlen, "write txn_begin: %s (%s)", blazedb_strerror(rc),
                 blazedb_errmsg(db));
        return -1;
    }
    int a = (int)tu_rng_below(rng, NACCT);
    int b = (int)tu_rng_below(rng, NACCT - 1);
    if (b >= a)
        b++;
    int64_t amt = (int64_t)tu_rng_below(rng, 200);
    char ka[32], kb[32];
    acct_key(a, ka);
    acct_key(b, kb);
    int64_t va, vb, ops;
    if ((rc = txn_get_i64(t, ka, &va)) || (rc = txn_get_i64(t, kb, &vb)) ||
        (rc = txn_get_i64(t, ops_key, &ops)) || (rc = txn_put_i64(t, ka, va - amt)) ||
        (rc = txn_put_i64(t, kb, vb + amt)) || (rc = txn_put_i64(t, ops_key, ops + 1))) {
        snprintf(err, errlen, "in a transfer: %s (%s)", blazedb_strerror(rc),
                 blazedb_errmsg(db));
        blazedb_txn_abort(t);
        return -1;
    }
    if (tu_rng_below(rng, 10) == 0) {
        blazedb_txn_abort(t);
        return 0;
    }
    rc = blazedb_txn_commit(t);
    if (rc) {
        snprintf(err, errlen, "commit: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
        return -1;
    }
    return 1;
}

/* Sums the accounts in one read snapshot, by point gets or by an iterator.
 * Returns 0 and the sum, or -1 with a message. */
static int snapshot_sum(BlazeDB *db, int use_iter, int64_t *sum, char *err, size_t errlen)
{
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t);
    if (rc) {
        snprintf(err, errlen, "read txn_begin: %s (%s)", blazedb_strerror(rc),
                 blazedb_errmsg(db));
        return -1;
    }
    *sum = 0;
    int n = 0;
    if (use_iter) {
        BlazeDBRange r;
        memset(&r, 0, sizeof r);
        r.prefix = "acct:";
        r.prefix_len = 5;
        BlazeDBIterator *it = NULL;
        rc = blazedb_iter_open(db, t, &r, &it);
        while (rc == BLAZEDB_OK && (rc = blazedb_iter_next(it)) == BLAZEDB_OK) {
            const void *v;
            size_t vl;
            rc = blazedb_iter_value(it, &v, &vl);
            if (rc == BLAZEDB_OK && vl != 8)
                rc = BLAZEDB_CORRUPT;
            if (rc == BLAZEDB_OK) {
                *sum += get_i64(v);
                n++;
            }
        }
        blazedb_iter_close(it);
        if (rc == BLAZEDB_NOT_FOUND)
            rc = BLAZEDB_OK;
    } else {
        for (int i = 0; i < NACCT && rc == BLAZEDB_OK; i++) {
            char k[32];
            int64_t v;
            acct_key(i, k);
            rc = txn_get_i64(t, k, &v);
            *sum += v;
            n++;
        }
    }
    blazedb_txn_abort(t);
    if (rc) {
        snprintf(err, errlen, "reading a snapshot: %s (%s)", blazedb_strerror(rc),
                 blazedb_errmsg(db));
        return -1;
    }
    if (n != NACCT) {
        snprintf(err, errlen, "snapshot has %d accounts, expected %d", n, NACCT);
        return -1;
    }
    return 0;
}

/* ---- (a) threads --------------------------------------------------------- */

typedef struct {
    BlazeDB *db;
    int id;
    int writer;
    uint64_t deadline_us;
    uint64_t commits, aborts, snapshots;
    atomic_int *stop;
    char err[256];
} ThreadArg;

static void *thread_main(void *arg)
{
    ThreadArg *a = arg;
    TuRng rng;
    tu_rng_seed(&rng, g_seed + (uint64_t)a->id * 7919);
    char ops_key[32];
    snprintf(ops_key, sizeof ops_key, "ops:t%d", a->id);
    while (tu_now_us() < a->deadline_us && !atomic_load(a->stop)) {
        if (a->writer) {
            int r = transfer(a->db, &rng, ops_key, a->err, sizeof a->err);
            if (r < 0)
                break;
            if (r)
                a->commits++;
            else
                a->aborts++;
        } else {
            int64_t sum;
            if (snapshot_sum(a->db, (int)(a->snapshots & 1), &sum, a->err, sizeof a->err))
                break;
            if (sum != (int64_t)NACCT * INITIAL) {
                snprintf(a->err, sizeof a->err, "torn snapshot: sum %" PRId64 ", expected %d",
                         sum, NACCT * INITIAL);
                break;
            }
            a->snapshots++;
        }
    }
    if (a->err[0])
        atomic_store(a->stop, 1);
    return NULL;
}

static void test_threads_transfers(void **state)
{
    (void)state;
    g_seed = tu_seed("test_threads_transfers");
    char *dir = tu_mkdtemp("conc");
    assert_non_null(dir);
    char *path = tu_path(dir, "bank.blazedb");
    init_accounts(path);

    BlazeDBOptions o;
    cc_opts(&o);
    o.wal_autocheckpoint = 64; /* checkpoints run while readers read */
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);

    enum { NT = 4 };
    ThreadArg args[NT];
    pthread_t th[NT];
    atomic_int stop = 0;
    uint64_t dur = tu_long_tests() ? 20000000u : 3000000u;
    uint64_t deadline = tu_now_us() + dur;
    for (int i = 0; i < NT; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].db = db;
        args[i].id = i;
        args[i].writer = i < 2;
        args[i].deadline_us = deadline;
        args[i].stop = &stop;
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    uint64_t commits = 0, snaps = 0;
    for (int i = 0; i < NT; i++) {
        if (args[i].err[0])
            fail_msg("seed %" PRIu64 " thread %d (%s): %s", g_seed, i,
                     args[i].writer ? "writer" : "reader", args[i].err);
        commits += args[i].commits;
        snaps += args[i].snapshots;
    }
    fprintf(stderr, "  %" PRIu64 " transfers committed, %" PRIu64 " snapshots summed\n",
            commits, snaps);
    assert_true(commits > 10);
    assert_true(snaps > 10);

    /* Final state: the total holds, and every writer's counter matches. */
    int64_t sum;
    char err[256];
    assert_int_equal(snapshot_sum(db, 0, &sum, err, sizeof err), 0);
    assert_int_equal(sum, (int64_t)NACCT * INITIAL);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    for (int i = 0; i < 2; i++) {
        char k[32];
        int64_t v;
        snprintf(k, sizeof k, "ops:t%d", i);
        assert_int_equal(txn_get_i64(t, k, &v), BLAZEDB_OK);
        assert_int_equal(v, (int64_t)args[i].commits);
    }
    blazedb_txn_abort(t);
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("seed %" PRIu64 ": db_check: %s", g_seed, msg);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- (b) processes --------------------------------------------------------- */

/* A child: writer (transfers) or reader (sums).  Writes its count to wfd. */
static void proc_main(const char *path, int id, int writer, uint64_t dur_us, int wfd)
{
    BlazeDBOptions o;
    cc_opts(&o);
    o.wal_autocheckpoint = 64;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
    if (rc) {
        fprintf(stderr, "process %d: open: %s (%s)\n", id, blazedb_strerror(rc),
                blazedb_errmsg(NULL));
        _exit(2);
    }
    TuRng rng;
    tu_rng_seed(&rng, g_seed + (uint64_t)id * 104729);
    char ops_key[32], err[256];
    snprintf(ops_key, sizeof ops_key, "ops:p%d", id);
    uint64_t count = 0;
    uint64_t deadline = tu_now_us() + dur_us;
    while (tu_now_us() < deadline) {
        if (writer) {
            int r = transfer(db, &rng, ops_key, err, sizeof err);
            if (r < 0) {
                fprintf(stderr, "process %d: %s\n", id, err);
                _exit(3);
            }
            count += (uint64_t)r;
        } else {
            int64_t sum;
            if (snapshot_sum(db, (int)(count & 1), &sum, err, sizeof err)) {
                fprintf(stderr, "process %d: %s\n", id, err);
                _exit(3);
            }
            if (sum != (int64_t)NACCT * INITIAL) {
                fprintf(stderr, "process %d: torn snapshot: sum %" PRId64 "\n", id, sum);
                _exit(4);
            }
            count++;
        }
    }
    blazedb_close(db);
    if (write(wfd, &count, sizeof count) != (ssize_t)sizeof count)
        _exit(5);
    _exit(0);
}

static void test_processes_transfers(void **state)
{
    (void)state;
    g_seed = tu_seed("test_processes_transfers");
    char *dir = tu_mkdtemp("concp");
    assert_non_null(dir);
    char *path = tu_path(dir, "bank.blazedb");
    init_accounts(path);

    enum { NW = 4, NP = NW + 1 };
    uint64_t dur = tu_long_tests() ? 30000000u : 4000000u;
    pid_t pid[NP];
    int rfd[NP];
    for (int i = 0; i < NP; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            close(p[0]);
            proc_main(path, i, i < NW, dur, p[1]);
        }
        close(p[1]);
        rfd[i] = p[0];
    }
    uint64_t count[NP];
    for (int i = 0; i < NP; i++) {
        int status;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("seed %" PRIu64 ": process %d (%s) failed, status 0x%x (see above)",
                     g_seed, i, i < NW ? "writer" : "reader", status);
        assert_int_equal(read(rfd[i], &count[i], sizeof count[i]), (ssize_t)sizeof count[i]);
        close(rfd[i]);
    }
    uint64_t total = 0;
    for (int i = 0; i < NW; i++)
        total += count[i];
    fprintf(stderr, "  %d writer processes committed %" PRIu64 " transfers; the reader summed "
            "%" PRIu64 " snapshots\n", NW, total, count[NW]);
    for (int i = 0; i < NW; i++)
        assert_true(count[i] > 0); /* every writer got its turn */
    assert_true(count[NW] > 10);

    BlazeDBOptions o;
    cc_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    int64_t sum;
    char err[256];
    if (snapshot_sum(db, 0, &sum, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(sum, (int64_t)NACCT * INITIAL);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    for (int i = 0; i < NW; i++) {
        char k[32];
        int64_t v;
        snprintf(k, sizeof k, "ops:p%d", i);
        assert_int_equal(txn_get_i64(t, k, &v), BLAZEDB_OK);
        if (v != (int64_t)count[i])
            fail_msg("seed %" PRIu64 ": lost update: ops:p%d is %" PRId64 " but the process "
                     "committed %" PRIu64 " transfers", g_seed, i, v, count[i]);
    }
    blazedb_txn_abort(t);
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("seed %" PRIu64 ": db_check: %s", g_seed, msg);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- (c) readers are not blocked; a second writer gets BUSY --------------- */

typedef struct {
    BlazeDB *db;
    atomic_int holding;     /* the write txn is open */
    atomic_int committing;  /* about to commit: reads may see the new value */
    atomic_int done;
    BlazeDBResult rc;
} HoldArg;

static void *holder_main(void *arg)
{
    HoldArg *h = arg;
    BlazeDBTxn *t = NULL;
    h->rc = blazedb_txn_begin(h->db, 0, &t);
    if (h->rc == BLAZEDB_OK)
        h->rc = blazedb_txn_put(t, "x", 1, "new", 3);
    if (h->rc) {
        blazedb_txn_abort(t);
        atomic_store(&h->done, 1);
        return NULL;
    }
    atomic_store(&h->holding, 1);
    tu_sleep_us(500000);
    atomic_store(&h->committing, 1);
    h->rc = blazedb_txn_commit(t);
    atomic_store(&h->done, 1);
    return NULL;
}

/* Read transactions hold reader slots (256 per database file): the
 * handle reuses the ones it holds, a full table answers BUSY, and a slot
 * given back serves the next reader, of this handle only (the others are
 * still locked by it). */
static void test_reader_slots(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("slots");
    assert_non_null(dir);
    char *path = tu_path(dir, "s.blazedb");
    BlazeDBOptions o;
    cc_opts(&o);
    o.busy_timeout_ms = 10;
    BlazeDB *db = NULL, *other = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "k", "v0", 2), BLAZEDB_OK);
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &other), BLAZEDB_OK);
    enum { NSLOTS = 256 };
    static BlazeDBTxn *t[NSLOTS];
    for (int round = 0; round < 2; round++) { /* the second reuses held slots */
        for (int i = 0; i < NSLOTS; i++)
            assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t[i]), BLAZEDB_OK);
        BlazeDBTxn *extra = NULL;
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &extra), BLAZEDB_BUSY);
        assert_null(extra);
        assert_int_equal(blazedb_txn_begin(other, BLAZEDB_TXN_READONLY, &extra), BLAZEDB_BUSY);
        /* a write still commits, and every reader keeps its snapshot */
        char v[8];
        snprintf(v, sizeof v, "v%d", round + 1);
        assert_int_equal(blazedb_put(db, "k", v, 2), BLAZEDB_OK);
        for (int i = 0; i < 10; i++)
            blazedb_txn_abort(t[i]);
        for (int i = 0; i < 10; i++)
            assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t[i]), BLAZEDB_OK);
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &extra), BLAZEDB_BUSY);
        char want[8];
        snprintf(want, sizeof want, "v%d", round);
        for (int i = 0; i < NSLOTS; i++) {
            void *got = NULL;
            size_t gl = 0;
            assert_int_equal(blazedb_txn_get(t[i], "k", 1, &got, &gl), BLAZEDB_OK);
            /* the first ten began after the put */
            assert_int_equal(gl, 2);
            assert_memory_equal(got, i < 10 ? v : want, 2);
            blazedb_free(got);
        }
        for (int i = 0; i < NSLOTS; i++)
            blazedb_txn_abort(t[i]);
    }
    blazedb_close(db);
    /* closed: its slots are free for the other handle */
    BlazeDBTxn *r = NULL;
    assert_int_equal(blazedb_txn_begin(other, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    blazedb_txn_abort(r);
    blazedb_close(other);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

static void test_readers_not_blocked(void **state)
{
    (void)state;
    g_seed = tu_seed("test_readers_not_blocked");
    char *dir = tu_mkdtemp("concr");
    assert_non_null(dir);
    char *path = tu_path(dir, "r.blazedb");
    {
        BlazeDBOptions o;
        cc_opts(&o);
        BlazeDB *db = NULL;
        assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
        assert_int_equal(blazedb_put(db, "x", "old", 3), BLAZEDB_OK);
        blazedb_close(db);
    }

    /* The second-writer process, forked before any thread exists. */
    int go[2], res[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(res[0]);
        BlazeDBOptions o;
        cc_opts(&o);
        o.busy_timeout_ms = 50;
        BlazeDB *db = NULL;
        int64_t out[2] = { -1, 0 };
        if (blazedb_open_ex(path, TU_PASSWORD, &o, &db) == BLAZEDB_OK) {
            char c;
            if (read(go[0], &c, 1) == 1) {
                uint64_t t0 = tu_now_us();
                BlazeDBTxn *t = NULL;
                BlazeDBResult rc = blazedb_txn_begin(db, 0, &t);
                out[1] = (int64_t)(tu_now_us() - t0);
                out[0] = rc;
                if (rc == BLAZEDB_OK)
                    blazedb_txn_abort(t);
            }
            blazedb_close(db);
        }
        if (write(res[1], out, sizeof out) != (ssize_t)sizeof out)
            _exit(1);
        _exit(0);
    }
    close(go[0]);
    close(res[1]);

    BlazeDBOptions o;
    cc_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    HoldArg h;
    memset(&h, 0, sizeof h);
    h.db = db;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, holder_main, &h), 0);
    while (!atomic_load(&h.holding) && !atomic_load(&h.done))
        tu_sleep_us(1000);
    assert_true(atomic_load(&h.holding));
    assert_int_equal(write(go[1], "g", 1), 1);

    uint64_t reads = 0, worst = 0;
    while (!atomic_load(&h.committing)) {
        uint64_t t0 = tu_now_us();
        BlazeDBTxn *t = NULL;
        void *v = NULL;
        size_t vl = 0;
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
        assert_int_equal(blazedb_txn_get(t, "x", 1, &v, &vl), BLAZEDB_OK);
        int committing = atomic_load(&h.committing);
        if (!committing && (vl != 3 || memcmp(v, "old", 3) != 0))
            fail_msg("a read txn saw the uncommitted write ('%.*s')", (int)vl, (char *)v);
        blazedb_free(v);
        blazedb_txn_abort(t);
        assert_int_equal(blazedb_get(db, "x", &v, &vl), BLAZEDB_OK);
        if (!committing && !atomic_load(&h.committing) &&
            (vl != 3 || memcmp(v, "old", 3) != 0))
            fail_msg("blazedb_get saw the uncommitted write");
        blazedb_free(v);
        uint64_t dt = tu_now_us() - t0;
        if (dt > worst)
            worst = dt;
        reads++;
        tu_sleep_us(2000);
    }
    pthread_join(th, NULL);
    assert_int_equal(h.rc, BLAZEDB_OK);

    int64_t out[2];
    assert_int_equal(read(res[0], out, sizeof out), (ssize_t)sizeof out);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(go[1]);
    close(res[0]);
    fprintf(stderr, "  %" PRIu64 " reads while the writer held its txn, slowest %.2f ms; "
            "second writer: %s after %.1f ms\n", reads, (double)worst / 1000.0,
            out[0] >= 0 ? blazedb_strerror((BlazeDBResult)out[0]) : "(open failed)",
            (double)out[1] / 1000.0);
    assert_true(reads >= 20);
    if (worst >= 100000)
        fail_msg("a read took %.1f ms while the writer held its transaction",
                 (double)worst / 1000.0);
    if (out[0] != BLAZEDB_BUSY)
        fail_msg("the second writer process got %s, expected BLAZEDB_BUSY",
                 out[0] >= 0 ? blazedb_strerror((BlazeDBResult)out[0]) : "an open failure");
    /* It waited about its busy timeout (50 ms), not until the holder ended
     * (500 ms), and did not fail at once. */
    assert_true(out[1] >= 40000);
    assert_true(out[1] < 400000);

    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(blazedb_get(db, "x", &v, &vl), BLAZEDB_OK);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "new", 3);
    blazedb_free(v);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- (d) simultaneous creation ---------------------------------------------- */

static void test_simultaneous_create(void **state)
{
    (void)state;
    g_seed = tu_seed("test_simultaneous_create");
    enum { NPROC = 8 };
    int rounds = tu_long_tests() ? 40 : 6;
    for (int round = 0; round < rounds; round++) {
        char *dir = tu_mkdtemp("concd");
        assert_non_null(dir);
        char *path = tu_path(dir, "new.blazedb");
        int bar[2];
        assert_int_equal(pipe(bar), 0);
        pid_t pid[NPROC];
        for (int i = 0; i < NPROC; i++) {
            fflush(NULL);
            pid[i] = fork();
            assert_true(pid[i] >= 0);
            if (pid[i] == 0) {
                close(bar[1]);
                char c;
                while (read(bar[0], &c, 1) > 0) {
                }
                BlazeDBOptions o;
                cc_opts(&o);
                BlazeDB *db = NULL;
                BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
                if (rc) {
                    fprintf(stderr, "process %d: open: %s (%s)\n", i, blazedb_strerror(rc),
                            blazedb_errmsg(NULL));
                    _exit(2);
                }
                char k[32];
                snprintf(k, sizeof k, "proc:%d", i);
                rc = blazedb_put(db, k, &i, sizeof i);
                void *v = NULL;
                size_t vl = 0;
                if (rc == BLAZEDB_OK)
                    rc = blazedb_get(db, k, &v, &vl);
                if (rc || vl != sizeof i || memcmp(v, &i, sizeof i) != 0) {
                    fprintf(stderr, "process %d: put/get: %s (%s)\n", i, blazedb_strerror(rc),
                            blazedb_errmsg(db));
                    _exit(3);
                }
                blazedb_free(v);
                char msg[512];
                if (tu_db_check(db, msg, sizeof msg)) {
                    fprintf(stderr, "process %d: db_check: %s\n", i, msg);
                    _exit(4);
                }
                blazedb_close(db);
                _exit(0);
            }
        }
        close(bar[0]);
        tu_sleep_us(20000); /* let all of them block on the barrier */
        close(bar[1]);      /* go */
        for (int i = 0; i < NPROC; i++) {
            int status;
            assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("seed %" PRIu64 " round %d: process %d failed (status 0x%x)", g_seed,
                         round, i, status);
        }
        BlazeDBOptions o;
        cc_opts(&o);
        BlazeDB *db = NULL;
        assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
        for (int i = 0; i < NPROC; i++) {
            char k[32];
            snprintf(k, sizeof k, "proc:%d", i);
            void *v = NULL;
            size_t vl = 0;
            if (blazedb_get(db, k, &v, &vl) != BLAZEDB_OK)
                fail_msg("round %d: the key of process %d is missing", round, i);
            assert_int_equal(vl, sizeof i);
            assert_memory_equal(v, &i, sizeof i);
            blazedb_free(v);
        }
        BlazeDBStats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
        assert_int_equal(st.keys, NPROC);
        char msg[512];
        if (tu_db_check(db, msg, sizeof msg))
            fail_msg("round %d: db_check: %s", round, msg);
        blazedb_close(db);
        tu_rmrf(dir);
        free(path);
        free(dir);
    }
}

/* ---- (e) iterator snapshot stability ----------------------------------------- */

static void test_iterator_snapshot(void **state)
{
    (void)state;
    g_seed = tu_seed("test_iterator_snapshot");
    char *dir = tu_mkdtemp("conce");
    assert_non_null(dir);
    char *path = tu_path(dir, "it.blazedb");
    BlazeDBOptions o;
    cc_opts(&o);
    o.wal_autocheckpoint = 32; /* checkpoints while the snapshot is open */
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);

    enum { N0 = 400, VLEN = 300 };
    uint8_t val[VLEN];
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < N0; i++) {
        char k[32];
        snprintf(k, sizeof k, "it:%05d", i * 2);
        tu_fill(g_seed ^ (uint64_t)i, val, VLEN);
        assert_int_equal(blazedb_txn_put(t, k, strlen(k), val, VLEN), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);

    /* Two snapshots: an iterator with its own snapshot, and one inside a
     * read transaction; plus a reverse iterator. */
    BlazeDBRange r;
    memset(&r, 0, sizeof r);
    r.prefix = "it:";
    r.prefix_len = 3;
    BlazeDBIterator *it1 = NULL, *it2 = NULL, *it3 = NULL;
    BlazeDBTxn *rt = NULL;
    assert_int_equal(blazedb_iter_open(db, NULL, &r, &it1), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &rt), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_open(db, rt, &r, &it2), BLAZEDB_OK);
    BlazeDBRange rr = r;
    rr.flags = BLAZEDB_ITER_REVERSE;
    assert_int_equal(blazedb_iter_open(db, NULL, &rr, &it3), BLAZEDB_OK);
    /* it1 is advanced a little before the commits, the others not at all */
    for (int i = 0; i < 10; i++)
        assert_int_equal(blazedb_iter_next(it1), BLAZEDB_OK);

    /* Many commits: rewrite, delete and insert keys, with checkpoints. */
    TuRng rng;
    tu_rng_seed(&rng, g_seed);
    int commits = tu_long_tests() ? 1000 : 150;
    for (int c = 0; c < commits; c++) {
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (int n = 0; n < 20; n++) {
            char k[32];
            int id = (int)tu_rng_below(&rng, N0 * 2 + 50);
            snprintf(k, sizeof k, "it:%05d", id);
            if (tu_rng_below(&rng, 3) == 0) {
                assert_int_equal(blazedb_txn_delete(t, k, strlen(k)), BLAZEDB_OK);
            } else {
                tu_rng_bytes(&rng, val, VLEN);
                assert_int_equal(blazedb_txn_put(t, k, strlen(k), val,
                                                 1 + tu_rng_below(&rng, VLEN)), BLAZEDB_OK);
            }
        }
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        if (c % 25 == 0)
            assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    }

    /* Every iterator still walks exactly the original keys and values. */
    BlazeDBIterator *its[3] = { it1, it2, it3 };
    for (int w = 0; w < 3; w++) {
        int start = w == 0 ? 10 : 0;
        int seen = 0;
        BlazeDBResult rc;
        if (w == 0) {
            /* it1 stands on key 9: check it first */
            const void *k;
            size_t kl;
            assert_int_equal(blazedb_iter_key(it1, &k, &kl), BLAZEDB_OK);
            assert_int_equal(kl, 8);
            assert_memory_equal(k, "it:00018", 8);
        }
        for (int i = start; (rc = blazedb_iter_next(its[w])) == BLAZEDB_OK; i++) {
            int idx = w == 2 ? N0 - 1 - i : i;
            char k[32];
            snprintf(k, sizeof k, "it:%05d", idx * 2);
            const void *key, *v;
            size_t kl, vl;
            assert_int_equal(blazedb_iter_key(its[w], &key, &kl), BLAZEDB_OK);
            assert_int_equal(blazedb_iter_value(its[w], &v, &vl), BLAZEDB_OK);
            if (i >= N0 || kl != strlen(k) || memcmp(key, k, kl) != 0)
                fail_msg("seed %" PRIu64 " iterator %d: key #%d is '%.*s', expected '%s'",
                         g_seed, w, i, (int)kl, (const char *)key, i < N0 ? k : "(end)");
            tu_fill(g_seed ^ (uint64_t)idx, val, VLEN);
            if (vl != VLEN || memcmp(v, val, VLEN) != 0)
                fail_msg("seed %" PRIu64 " iterator %d: value of '%s' changed under the "
                         "snapshot", g_seed, w, k);
            seen++;
        }
        assert_int_equal(rc, BLAZEDB_NOT_FOUND);
        assert_int_equal(seen + start, N0);
    }
    blazedb_iter_close(it1);
    blazedb_iter_close(it2);
    blazedb_iter_close(it3);
    blazedb_txn_abort(rt);

    /* A new iterator sees the new state: compare with point gets. */
    BlazeDBIterator *it = NULL;
    assert_int_equal(blazedb_iter_open(db, NULL, &r, &it), BLAZEDB_OK);
    int n = 0;
    while (blazedb_iter_next(it) == BLAZEDB_OK) {
        const void *key, *v;
        size_t kl, vl;
        assert_int_equal(blazedb_iter_key(it, &key, &kl), BLAZEDB_OK);
        assert_int_equal(blazedb_iter_value(it, &v, &vl), BLAZEDB_OK);
        void *g = NULL;
        size_t gl = 0;
        assert_int_equal(blazedb_get2(db, key, kl, &g, &gl), BLAZEDB_OK);
        assert_int_equal(gl, vl);
        assert_memory_equal(g, v, vl);
        blazedb_free(g);
        n++;
    }
    blazedb_iter_close(it);
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    assert_int_equal(st.keys, (uint64_t)n);
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("seed %" PRIu64 ": db_check: %s", g_seed, msg);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- (f) group commit ---------------------------------------------------- */

typedef struct {
    BlazeDB *db;
    pthread_barrier_t *go;
    int id, n, fail;
} GcArg;

static void *gc_thread(void *arg)
{
    GcArg *a = arg;
    pthread_barrier_wait(a->go);
    for (int i = 0; i < a->n; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "gc:%d:%05d", a->id, i);
        snprintf(v, sizeof v, "value %d/%d", a->id, i);
        if (blazedb_put2(a->db, k, strlen(k), v, strlen(v)) != BLAZEDB_OK) {
            a->fail = 1;
            break;
        }
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("gc");
    assert_non_null(dir);
    char *path = tu_path(dir, "gc.blazedb");
    BlazeDBOptions o;
    cc_opts(&o); /* durability FULL: every commit waits for a sync */
    assert_int_equal(o.durability, BLAZEDB_DURABILITY_FULL);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    enum { PER = 300 };
    BlazeDBStats s0, s1;
    memset(&s0, 0, sizeof s0);
    s0.struct_size = sizeof s0;
    s1 = s0;
    assert_int_equal(blazedb_stats(db, &s0), BLAZEDB_OK);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    GcArg a[2] = {{db, &go, 0, PER, 0}, {db, &go, 1, PER, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(a[0].fail | a[1].fail, 0);
    assert_int_equal(blazedb_stats(db, &s1), BLAZEDB_OK);
    uint64_t commits = s1.commits - s0.commits, syncs = s1.syncs - s0.syncs;
    fprintf(stderr, "group commit: %" PRIu64 " commits, %" PRIu64 " syncs\n", commits, syncs);
    assert_int_equal(commits, 2 * PER);
    assert_true(syncs > 0);
    assert_true(syncs < commits); /* some sync covered two commits */
    blazedb_close(db);
    /* every acknowledged commit is there */
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < PER; i++) {
            char k[32], v[32];
            snprintf(k, sizeof k, "gc:%d:%05d", t, i);
            snprintf(v, sizeof v, "value %d/%d", t, i);
            void *got = NULL;
            size_t gl = 0;
            assert_int_equal(blazedb_get2(db, k, strlen(k), &got, &gl), BLAZEDB_OK);
            assert_int_equal(gl, strlen(v));
            assert_memory_equal(got, v, gl);
            blazedb_free(got);
        }
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* (g) A checkpoint copies log frames home under the checkpoint lock; a
 * commit that finds the log fully copied starts a new generation over the
 * same frames under that lock too.  The lock's byte is shared by all
 * threads of a handle, so it alone did not keep a commit from restarting
 * the log under a checkpoint of the same handle, which then copied frames
 * of the new generation over pages of the main file.  Here one thread
 * checkpoints in a loop (the background thread does too: a checkpoint is
 * due every 2 frames) while another commits and reads back. */
typedef struct {
    BlazeDB *db;
    atomic_int stop;
    uint64_t n;                 /* checkpoints that returned OK */
    BlazeDBResult bad;
    char err[256];
} CkArg;

static void *ck_thread(void *arg)
{
    CkArg *a = arg;
    while (!atomic_load(&a->stop)) {
        BlazeDBResult rc = blazedb_checkpoint(a->db);
        if (rc == BLAZEDB_OK) {
            a->n++;
        } else if (rc != BLAZEDB_BUSY) {
            a->bad = rc;
            snprintf(a->err, sizeof a->err, "%s", blazedb_errmsg(a->db));
            break;
        }
    }
    return NULL;
}

/* Reads keys j*7.. of the workload and compares them with the model. */
static void check_some(BlazeDB *db, const TuModel *m, const TuWorkload *w, uint64_t j)
{
    for (uint32_t i = 0; i < 6; i++) {
        uint32_t id = (uint32_t)((j * 7 + i) % w->nkeys);
        BlazeDBResult rc;
        char msg[256];
        if (tu_model_check_key(m, db, id, &rc, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 ": after txn %" PRIu64 ": %s", g_seed, j, msg);
        if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND)
            fail_msg("seed %" PRIu64 ": get of key %u after txn %" PRIu64 ": %s (%s)", g_seed,
                     id, j, blazedb_strerror(rc), blazedb_errmsg(db));
    }
}

static void test_checkpoint_vs_restart(void **state)
{
    (void)state;
    g_seed = tu_seed("test_checkpoint_vs_restart");
    char *dir = tu_mkdtemp("ckrs");
    assert_non_null(dir);
    char *path = tu_path(dir, "ckrs.blazedb");
    BlazeDBOptions o;
    cc_opts(&o);
    o.wal_autocheckpoint = 2;   /* the background thread checkpoints too */
    o.cache_size = 128 * 1024;  /* pages are read back from the files */
    TuWorkload w;
    tu_workload_init(&w, "", g_seed);
    w.nkeys = 50;
    w.max_ops = 10;
    w.max_small = 5 * 1024;
    w.max_big = 80 * 1024;
    w.big_permille = 50;
    w.del_permille = 300;
    TuModel m;
    assert_int_equal(tu_model_init(&m, &w), 0);
    const uint64_t rounds = tu_long_tests() ? 40 : 8, per = 40;
    uint64_t j = 0, checkpoints = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        BlazeDB *db = NULL;
        assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
        CkArg a;
        memset(&a, 0, sizeof a);
        a.db = db;
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, ck_thread, &a), 0);
        for (uint64_t i = 0; i < per; i++) {
            j++;
            BlazeDBResult rc = tu_txn_run(db, &w, j, NULL);
            if (rc != BLAZEDB_OK)
                fail_msg("seed %" PRIu64 ": txn %" PRIu64 ": %s (%s)", g_seed, j,
                         blazedb_strerror(rc), blazedb_errmsg(db));
            tu_model_apply(&m, j);
            check_some(db, &m, &w, j);
        }
        atomic_store(&a.stop, 1);
        pthread_join(th, NULL);
        if (a.bad)
            fail_msg("seed %" PRIu64 ": checkpoint: %s (%s)", g_seed, blazedb_strerror(a.bad),
                     a.err);
        checkpoints += a.n;
        char msg[512];
        if (tu_model_compare(&m, db, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 ": round %" PRIu64 ": %s", g_seed, r, msg);
        blazedb_close(db);
    }
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    char msg[512];
    if (tu_model_compare(&m, db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 ": after reopening: %s", g_seed, msg);
    if (tu_db_check(db, msg, sizeof msg) != 0)
        fail_msg("seed %" PRIu64 ": db_check: %s", g_seed, msg);
    uint64_t last = 0;
    assert_int_equal(tu_db_last(db, &w, &last), BLAZEDB_OK);
    assert_int_equal(last, j);
    blazedb_close(db);
    fprintf(stderr, "checkpoint vs restart: %" PRIu64 " commits, %" PRIu64
            " checkpoints alongside\n", j, checkpoints);
    assert_true(checkpoints > 0);
    tu_model_free(&m);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Tests that fork run first, before any test has started a thread. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simultaneous_create),
        cmocka_unit_test(test_processes_transfers),
        cmocka_unit_test(test_reader_slots),
        cmocka_unit_test(test_readers_not_blocked),
        cmocka_unit_test(test_threads_transfers),
        cmocka_unit_test(test_iterator_snapshot),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_checkpoint_vs_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
