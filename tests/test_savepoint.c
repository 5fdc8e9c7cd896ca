/*
 * test_savepoint.c — nested savepoints inside a write transaction.
 *
 * A seeded random walk of puts and deletes (small values, values in overflow
 * chains, many keys so pages split, merge and get freed) mixed with opening,
 * rolling back to and releasing savepoints at random depths.  A model keeps
 * one copy of the key space per open savepoint; after every step reads
 * inside the transaction must equal the model, and at the end the
 * transaction commits (or aborts) and the database must equal the model
 * (or the state before) and pass db_check.  Also: the API's edges (levels
 * that are not open, read transactions, poisoned transactions, iterators
 * across a rollback).  BLAZEDB_TEST_SEED=S replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define NKEYS 400
#define MAXSP 12

typedef struct {
    uint8_t present[NKEYS];
    uint32_t vlen[NKEYS];
    uint64_t vseed[NKEYS];
} Model;

static uint64_t g_seed;
static uint8_t *g_buf, *g_buf2;

static size_t key_of(int i, char *k)
{
    return (size_t)sprintf(k, "key-%05d-%s", i * 7919 % 100000, i % 3 ? "x" : "longer-suffix");
}

static uint32_t pick_len(TuRng *r)
{
    uint64_t c = tu_rng_below(r, 100);
    if (c < 70)
        return (uint32_t)tu_rng_below(r, 300);
    if (c < 95)
        return (uint32_t)tu_rng_below(r, 3000);
    return 9000 + (uint32_t)tu_rng_below(r, 40000); /* overflow chain */
}

/* Compares the transaction's view (or the database's, t == NULL) with m. */
static void compare(BlazeDB *db, BlazeDBTxn *t, const Model *m, const char *when)
{
    for (int i = 0; i < NKEYS; i++) {
        char k[64];
        size_t kl = key_of(i, k);
        void *v = NULL;
        size_t vl = 0;
        BlazeDBResult rc = t ? blazedb_txn_get(t, k, kl, &v, &vl) : blazedb_get2(db, k, kl, &v, &vl);
        if (!m->present[i]) {
            if (rc != BLAZEDB_NOT_FOUND)
                fail_msg("seed %" PRIu64 " %s: key %d should be absent, got %s", g_seed, when, i,
                         blazedb_strerror(rc));
            continue;
        }
        if (rc != BLAZEDB_OK)
            fail_msg("seed %" PRIu64 " %s: key %d: %s (%s)", g_seed, when, i,
                     blazedb_strerror(rc), blazedb_errmsg(db));
        tu_fill(m->vseed[i], g_buf, m->vlen[i]);
        if (vl != m->vlen[i] || memcmp(v, g_buf, vl) != 0)
            fail_msg("seed %" PRIu64 " %s: key %d has the wrong value (%zu bytes, expected %u)",
                     g_seed, when, i, vl, m->vlen[i]);
        blazedb_free(v);
    }
}

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.page_size = 4096; /* more pages, more splits and merges */
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    return db;
}

static void check_db(BlazeDB *db)
{
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("seed %" PRIu64 ": db_check: %s", g_seed, msg);
}

static void test_random_walk(void **state)
{
    (void)state;
    g_seed = tu_seed("test_savepoint_random_walk");
    char *dir = tu_mkdtemp("savepoint");
    assert_non_null(dir);
    char *path = tu_path(dir, "sp.blazedb");
    BlazeDB *db = open_db(path);
    TuRng r;
    tu_rng_seed(&r, g_seed);
    Model committed;
    memset(&committed, 0, sizeof committed);
    Model *stack = calloc(MAXSP + 1, sizeof *stack); /* stack[0] = current */
    assert_non_null(stack);
    int rounds = tu_long_tests() ? 60 : 12;
    uint64_t n_rb = 0, n_rel = 0, n_sp = 0;
    for (int round = 0; round < rounds; round++) {
        BlazeDBTxn *t = NULL;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        stack[0] = committed;
        size_t depth = 0; /* open savepoints; model of level L is stack[L] */
        int steps = 150 + (int)tu_rng_below(&r, 250);
        for (int s = 0; s < steps; s++) {
            uint64_t c = tu_rng_below(&r, 100);
            char when[96];
            snprintf(when, sizeof when, "round %d step %d (depth %zu)", round, s, depth);
            if (c < 8 && depth < MAXSP) {
                size_t level;
                assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
                assert_int_equal(level, depth + 1);
                depth++;
                stack[depth] = stack[0];
                n_sp++;
            } else if (c < 13 && depth > 0) {
                size_t level = 1 + (size_t)tu_rng_below(&r, depth);
                assert_int_equal(blazedb_savepoint_rollback(t, level), BLAZEDB_OK);
                stack[0] = stack[level];
                depth = level;
                n_rb++;
                compare(db, t, &stack[0], when);
            } else if (c < 17 && depth > 0) {
                size_t level = 1 + (size_t)tu_rng_below(&r, depth);
                assert_int_equal(blazedb_savepoint_release(t, level), BLAZEDB_OK);
                depth = level - 1;
                n_rel++;
            } else {
                int i = (int)tu_rng_below(&r, NKEYS);
                char k[64];
                size_t kl = key_of(i, k);
                if (tu_rng_below(&r, 3) == 0) {
                    assert_int_equal(blazedb_txn_delete(t, k, kl), BLAZEDB_OK);
                    stack[0].present[i] = 0;
                } else {
                    uint32_t len = pick_len(&r);
                    uint64_t vs = tu_rng_next(&r);
                    tu_fill(vs, g_buf2, len);
                    BlazeDBResult rc = blazedb_txn_put(t, k, kl, g_buf2, len);
                    if (rc)
                        fail_msg("seed %" PRIu64 " %s: put: %s (%s)", g_seed, when,
                                 blazedb_strerror(rc), blazedb_errmsg(db));
                    stack[0].present[i] = 1;
                    stack[0].vlen[i] = len;
                    stack[0].vseed[i] = vs;
                }
            }
            if (s % 25 == 0)
                compare(db, t, &stack[0], when);
        }
        compare(db, t, &stack[0], "before the end of the transaction");
        if (tu_rng_below(&r, 4) == 0) {
            blazedb_txn_abort(t);
        } else {
            BlazeDBResult rc = blazedb_txn_commit(t);
            if (rc)
                fail_msg("seed %" PRIu64 " round %d: commit: %s (%s)", g_seed, round,
                         blazedb_strerror(rc), blazedb_errmsg(db));
            committed = stack[0];
        }
        compare(db, NULL, &committed, "after the transaction");
        check_db(db);
    }
    fprintf(stderr, "  %" PRIu64 " savepoints, %" PRIu64 " rollbacks, %" PRIu64
            " releases over %d transactions\n", n_sp, n_rb, n_rel, rounds);
    assert_true(n_rb > 0 && n_rel > 0);
    /* and it all survives a reopen */
    blazedb_close(db);
    db = open_db(path);
    compare(db, NULL, &committed, "after reopening");
    check_db(db);
    blazedb_close(db);
    free(stack);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

static void test_edges(void **state)
{
    (void)state;
    g_seed = 0;
    char *dir = tu_mkdtemp("savepoint");
    assert_non_null(dir);
    char *path = tu_path(dir, "sp.blazedb");
    BlazeDB *db = open_db(path);
    assert_int_equal(blazedb_put(db, "a", "1", 1), BLAZEDB_OK);

    /* read transactions have none */
    BlazeDBTxn *rt = NULL;
    size_t level = 99;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &rt), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint(rt, &level), BLAZEDB_READONLY);
    assert_int_equal(level, 0);
    assert_int_equal(blazedb_savepoint_rollback(rt, 1), BLAZEDB_READONLY);
    blazedb_txn_abort(rt);

    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    /* levels that are not open */
    assert_int_equal(blazedb_savepoint_rollback(t, 1), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_savepoint_release(t, 0), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_savepoint(NULL, &level), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_savepoint(t, NULL), BLAZEDB_INVALID_ARGUMENT);

    assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
    assert_int_equal(level, 1);
    assert_int_equal(blazedb_txn_put(t, "b", 1, "2", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
    assert_int_equal(level, 2);
    assert_int_equal(blazedb_txn_delete(t, "a", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint_rollback(t, 5), BLAZEDB_MISUSE);

    /* an iterator open across a rollback sees the rolled-back state */
    BlazeDBIterator *it = NULL;
    assert_int_equal(blazedb_iter_open(db, t, NULL, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    const void *k;
    size_t kl;
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_OK);
    assert_memory_equal(k, "b", 1); /* "a" is deleted here */
    assert_int_equal(blazedb_savepoint_rollback(t, 2), BLAZEDB_OK); /* "a" is back */
    blazedb_iter_close(it);
    assert_int_equal(blazedb_iter_open(db, t, NULL, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_OK);
    assert_memory_equal(k, "a", 1);
    blazedb_iter_close(it);

    /* roll back to 1: "b" goes too; level 1 stays open, 2 is gone */
    assert_int_equal(blazedb_savepoint_rollback(t, 1), BLAZEDB_OK);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(blazedb_txn_get(t, "b", 1, &v, &vl), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_savepoint_release(t, 2), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_txn_put(t, "c", 1, "3", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint_release(t, 1), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint_rollback(t, 1), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(blazedb_get(db, "c", &v, &vl), BLAZEDB_OK);
    blazedb_free(v);
    assert_int_equal(blazedb_get(db, "b", &v, &vl), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_get(db, "a", &v, &vl), BLAZEDB_OK);
    blazedb_free(v);

    /* a transaction ended with savepoints open: they just end with it */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(t, "d", 1, "4", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(blazedb_get(db, "d", &v, &vl), BLAZEDB_OK);
    blazedb_free(v);
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_savepoint(t, &level), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(t, "e", 1, "5", 1), BLAZEDB_OK);
    blazedb_txn_abort(t);
    assert_int_equal(blazedb_get(db, "e", &v, &vl), BLAZEDB_NOT_FOUND);
    check_db(db);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

static int setup(void **state)
{
    (void)state;
    g_buf = malloc(64 * 1024);
    g_buf2 = malloc(64 * 1024);
    return g_buf && g_buf2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(g_buf);
    free(g_buf2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random_walk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
