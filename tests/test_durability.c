/*
 * test_durability.c — power loss at every sync point, and I/O errors at
 * every operation, through the fault vfs (src/os/os_fault.h).
 *
 * A deterministic workload of write transactions (small and large values,
 * deletes, explicit checkpoints, log restarts) runs once to count its syncs.
 * Then for every sync point i, with and without a torn last write: fresh
 * directory, power is lost at sync i, the handle is closed, the database is
 * reopened with the real vfs, and its content must equal exactly the state
 * after some transaction k with k >= the number of commits that returned OK
 * (no acknowledged commit lost, no transaction partly applied), and the
 * structure check must pass.  Then the same for an I/O error (EIO, ENOSPC)
 * at the n-th read, write, sync, truncate and size query.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "../src/os/os_fault.h"

#define NKEYS 23
#define NTXN 48
#define MAXVAL 30000

/* The workload: transaction j writes or deletes a few keys. */
typedef struct {
    int present[NKEYS];
    uint32_t seed[NKEYS];   /* value = f(seed, len) */
    size_t len[NKEYS];
} State;

static State states[NTXN + 1]; /* states[k] = after k transactions */

static void value_of(uint32_t seed, size_t len, uint8_t *out)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

/* Applies transaction j to `st` and, when txn != NULL, to the database. */
static int apply_txn(int j, State *st, BlazeDBTxn *txn)
{
    uint32_t r = (uint32_t)j * 7919u + 17;
    int nops = 1 + (int)(r % 5);
    static uint8_t buf[MAXVAL];
    for (int o = 0; o < nops; o++) {
        r = r * 1103515245u + 12345u;
        int k = (int)((r >> 8) % NKEYS);
        char key[16];
        snprintf(key, sizeof key, "key%02d", k);
        if ((r >> 4) % 5 == 0) {
            st->present[k] = 0;
            if (txn && blazedb_txn_delete(txn, key, strlen(key)) != BLAZEDB_OK)
                return -1;
        } else {
            size_t len = (r >> 3) % 7 == 0 ? 9000 + (r % 20000) : (r >> 5) % 300;
            st->present[k] = 1;
            st->seed[k] = r;
            st->len[k] = len;
            value_of(r, len, buf);
            if (txn && blazedb_txn_put(txn, key, strlen(key), buf, len) != BLAZEDB_OK)
                return -1;
        }
    }
    return 0;
}

static void build_states(void)
{
    memset(&states[0], 0, sizeof states[0]);
    for (int j = 0; j < NTXN; j++) {
        states[j + 1] = states[j];
        apply_txn(j, &states[j + 1], NULL);
    }
}

static void fast_options(BlazeDBOptions *o)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
    o->page_size = 4096;
    o->wal_autocheckpoint = UINT32_MAX; /* checkpoints only where the workload asks */
    o->busy_timeout_ms = 100;
}

/* Runs the workload until the first failure.  Returns the number of commits
 * that returned OK. */
static int run_workload(BlazeDB *db)
{
    int acked = 0;
    for (int j = 0; j < NTXN; j++) {
        BlazeDBTxn *t;
        if (blazedb_txn_begin(db, 0, &t) != BLAZEDB_OK)
            return acked;
        State scratch;
        if (apply_txn(j, &scratch, t) != 0) {
            blazedb_txn_abort(t);
            return acked;
        }
        if (blazedb_txn_commit(t) != BLAZEDB_OK)
            return acked;
        acked++;
        if (j % 9 == 8 && blazedb_checkpoint(db) != BLAZEDB_OK)
            return acked;
    }
    return acked;
}

/* Which state k (>= min_k) does the database hold?  -1 if none. */
static int match_state(BlazeDB *db, int min_k)
{
    static uint8_t expect[MAXVAL];
    for (int k = NTXN; k >= min_k; k--) {
        int ok = 1;
        for (int i = 0; i < NKEYS && ok; i++) {
            char key[16];
            snprintf(key, sizeof key, "key%02d", i);
            void *v = NULL;
            size_t vl = 0;
            BlazeDBResult rc = blazedb_get2(db, key, strlen(key), &v, &vl);
            if (!states[k].present[i]) {
                ok = rc == BLAZEDB_NOT_FOUND;
            } else if (rc != BLAZEDB_OK || vl != states[k].len[i]) {
                ok = 0;
            } else {
                value_of(states[k].seed[i], vl, expect);
                ok = memcmp(v, expect, vl) == 0;
            }
            blazedb_free(v);
        }
        if (ok)
            return k;
    }
    return -1;
}

static char dir[256];

static void fresh_dir(void)
{
    char cmd[300];
    if (dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(dir, sizeof dir, "%s/blazedb-dur-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void verify_after_crash(const char *path, int acked, const char *what, uint64_t point)
{
    BlazeDBOptions o;
    fast_options(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, "pw", &o, &db);
    if (rc != BLAZEDB_OK)
        fail_msg("%s at %llu: reopen failed: %d %s", what, (unsigned long long)point, rc,
                 blazedb_errmsg(NULL));
    int k = match_state(db, acked);
    if (k < 0)
        fail_msg("%s at %llu: content matches no state >= %d acknowledged commits", what,
                 (unsigned long long)point, acked);
    char msg[256];
    if (db_check(db, msg, sizeof msg) != BLAZEDB_OK)
        fail_msg("%s at %llu: structure check: %s", what, (unsigned long long)point, msg);
    /* the database keeps working after recovery */
    assert_int_equal(blazedb_put2(db, "after", 5, "x", 1), BLAZEDB_OK);
    blazedb_close(db);
}

/* A fresh directory and a database in it, opened through a new fault vfs
 * (*f, which the caller frees after closing the handle). */
static BlazeDB *open_faulty(char *path, size_t pathlen, OsFault **f)
{
    fresh_dir();
    snprintf(path, pathlen, "%s/db", dir);
    *f = os_fault_new(NULL);
    BlazeDBOptions o;
    fast_options(&o);
    BlazeDB *db = NULL;
    assert_int_equal(db_open_vfs(path, "pw", &o, os_fault_vfs(*f), &db), BLAZEDB_OK);
    return db;
}

/* The same database reopened through the real vfs. */
static BlazeDB *open_real(const char *path)
{
    BlazeDBOptions o;
    fast_options(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    return db;
}

static uint64_t count_syncs(void)
{
    char path[300];
    OsFault *f;
    BlazeDB *db = open_faulty(path, sizeof path, &f);
    uint64_t before = os_fault_count(f, OS_FAULT_SYNC);
    assert_int_equal(run_workload(db), NTXN);
    uint64_t n = os_fault_count(f, OS_FAULT_SYNC) - before;
    blazedb_close(db);
    os_fault_free(f);
    verify_after_crash(path, NTXN, "clean run", 0);
    return n;
}

static void test_powerloss_every_sync(void **state)
{
    (void)state;
    build_states();
    uint64_t syncs = count_syncs();
    assert_true(syncs >= NTXN); /* at least one per commit */
    int checked = 0;
    for (unsigned tear = 0; tear <= 1; tear++) {
        for (uint64_t i = 1; i <= syncs; i++) {
            char path[300];
            OsFault *f;
            BlazeDB *db = open_faulty(path, sizeof path, &f);
            os_fault_powerloss_at_sync(f, i, tear ? (unsigned)(i * 31 + 7) : 0);
            int acked = run_workload(db);
            assert_true(os_fault_crashed(f));
            blazedb_close(db);
            os_fault_free(f);
            verify_after_crash(path, acked, tear ? "torn power loss" : "power loss", i);
            checked++;
        }
    }
    printf("power loss verified at %d sync points (%llu syncs per run, torn and not)\n",
           checked, (unsigned long long)syncs);
}

static void test_io_errors(void **state)
{
    (void)state;
    build_states();
    static const unsigned kinds[] = {OS_FAULT_WRITE, OS_FAULT_SYNC, OS_FAULT_READ,
                                     OS_FAULT_TRUNCATE, OS_FAULT_SIZE};
    static const int errs[] = {EIO, ENOSPC};
    int runs = 0;
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        for (size_t ei = 0; ei < 2; ei++) {
            for (uint64_t nth = 1; nth <= 400; nth += (nth < 40 ? 1 : 37)) {
                char path[300];
                OsFault *f;
                BlazeDB *db = open_faulty(path, sizeof path, &f);
                os_fault_fail(f, kinds[ki], nth, errs[ei], 0);
                int acked = run_workload(db);
                /* the error is reported as a documented code, and afterwards
                 * the handle either works or says it failed */
                os_fault_fail(f, 0, 0, 0, 0);
                BlazeDBResult rc = blazedb_put2(db, "probe", 5, "p", 1);
                assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_FAILED);
                blazedb_close(db);
                os_fault_free(f);
                /* reopen with the real vfs: every acknowledged commit is there */
                BlazeDB *db2 = open_real(path);
                int k = match_state(db2, acked);
                if (k < 0) {
                    /* the probe may have committed on top of state `acked` */
                    fail_msg("I/O error kind %u errno %d at op %llu: no state >= %d",
                             kinds[ki], errs[ei], (unsigned long long)nth, acked);
                }
                char msg[256];
                if (db_check(db2, msg, sizeof msg) != BLAZEDB_OK)
                    fail_msg("I/O error at op %llu: structure check: %s",
                             (unsigned long long)nth, msg);
                blazedb_close(db2);
                runs++;
            }
        }
    }
    printf("I/O errors verified in %d runs\n", runs);
}

/* What a small durable commit costs in file operations, in the steady
 * state: one write and one sync of the log, and no question to the file
 * system about the log's size (a stat makes the next write take a
 * fine-grained mtime, and fdatasync then writes the inode too: about a
 * quarter of the commit rate on ext4).  Only growing the log asks. */
static void test_commit_io_shape(void **state)
{
    (void)state;
    char path[300];
    OsFault *f;
    BlazeDB *db = open_faulty(path, sizeof path, &f);
    assert_int_equal(blazedb_put2(db, "warm", 4, "w", 1), BLAZEDB_OK);
    enum { N = 300 };
    uint64_t w0 = os_fault_count(f, OS_FAULT_WRITE);
    uint64_t s0 = os_fault_count(f, OS_FAULT_SYNC);
    uint64_t z0 = os_fault_count(f, OS_FAULT_SIZE);
    int plain = 0; /* commits that did not grow the log */
    for (int i = 0; i < N; i++) {
        char key[32], val[150];
        snprintf(key, sizeof key, "key%05d", (i * 7919) % 1000);
        memset(val, 'a' + i % 26, sizeof val);
        uint64_t w = os_fault_count(f, OS_FAULT_WRITE), z = os_fault_count(f, OS_FAULT_SIZE);
        assert_int_equal(blazedb_put2(db, key, strlen(key), val, sizeof val), BLAZEDB_OK);
        if (os_fault_count(f, OS_FAULT_SIZE) == z) {
            /* every frame of the commit in one write */
            assert_int_equal(os_fault_count(f, OS_FAULT_WRITE) - w, 1);
            plain++;
        }
    }
    uint64_t writes = os_fault_count(f, OS_FAULT_WRITE) - w0;
    uint64_t syncs = os_fault_count(f, OS_FAULT_SYNC) - s0;
    uint64_t sizes = os_fault_count(f, OS_FAULT_SIZE) - z0;
    /* N commits of a few pages (4 KiB) fill about 5 MiB of log: at most
     * two growth steps of 4 MiB, each one size query plus 64 KiB writes */
    assert_int_equal(syncs, N);
    assert_true(sizes <= 2);
    assert_true(writes <= N + sizes * (8u << 20) / 65536);
    assert_int_equal(plain, N - (int)sizes);
    blazedb_close(db);
    os_fault_free(f);
    BlazeDB *db2 = open_real(path);
    char msg[256];
    if (db_check(db2, msg, sizeof msg) != BLAZEDB_OK)
        fail_msg("structure check: %s", msg);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(blazedb_get(db2, "key00000", &v, &vl), BLAZEDB_OK);
    assert_int_equal(vl, 150);
    blazedb_free(v);
    blazedb_close(db2);
}

static int teardown(void **state)
{
    (void)state;
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            return -1;
        dir[0] = 0;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_powerloss_every_sync, teardown),
        cmocka_unit_test_teardown(test_io_errors, teardown),
        cmocka_unit_test_teardown(test_commit_io_shape, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
