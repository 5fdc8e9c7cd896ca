/*
 * test_btree_seek.c — cursor seeks that reuse the cursor's position (a
 * search inside the current leaf, forward probing, stepping to the next
 * leaf, climbing to the deepest branch that holds the key) agree with a fresh cursor's seek, for
 * random sequences of seeks (forward runs, backward jumps, >= and <=, keys
 * present and absent), in read and in write transactions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/btree/btree.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define NKEYS 20000

static void key_of(unsigned i, char out[32]) { snprintf(out, 32, "key%08u", i * 3); }

/* Seeks `probe` with the long-lived cursor and with a fresh one; both must
 * give the same result code, exactness and key. */
static void same_seek(PagerTxn *pt, PagerRoot *root, BtCursor *cur, const char *probe, int le)
{
    BtCursor *fresh = NULL;
    assert_int_equal(btc_open(pt, root, &fresh), BLAZEDB_OK);
    int ex1 = -1, ex2 = -2;
    size_t pl = strlen(probe);
    int r1 = le ? btc_seek_le(cur, probe, pl, &ex1) : btc_seek(cur, probe, pl, &ex1);
    int r2 = le ? btc_seek_le(fresh, probe, pl, &ex2) : btc_seek(fresh, probe, pl, &ex2);
    if (r1 != r2)
        fail_msg("seek%s %s: %d vs fresh %d", le ? "_le" : "", probe, r1, r2);
    if (r1 == BLAZEDB_OK) {
        assert_int_equal(ex1, ex2);
        const void *k1, *k2;
        size_t l1, l2;
        assert_int_equal(btc_key(cur, &k1, &l1), BLAZEDB_OK);
        assert_int_equal(btc_key(fresh, &k2, &l2), BLAZEDB_OK);
        if (l1 != l2 || memcmp(k1, k2, l1))
            fail_msg("seek%s %s: %.*s vs fresh %.*s", le ? "_le" : "", probe, (int)l1,
                     (const char *)k1, (int)l2, (const char *)k2);
    }
    btc_close(fresh);
}

static void run_seeks(PagerTxn *pt, PagerRoot *root, TuRng *rng)
{
    BtCursor *cur = NULL;
    assert_int_equal(btc_open(pt, root, &cur), BLAZEDB_OK);
    unsigned pos = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t r = tu_rng_next(rng);
        switch (r % 8) {
        case 0: /* jump anywhere */
            pos = (unsigned)(tu_rng_next(rng) % (NKEYS * 3 + 10));
            break;
        case 1: /* back a little */
            pos = pos > 50 ? pos - (unsigned)(tu_rng_next(rng) % 50) : 0;
            break;
        default: /* forward by a small or a larger gap */
            pos += (unsigned)(r % 8 < 6 ? tu_rng_next(rng) % 12 : tu_rng_next(rng) % 2000);
        }
        char probe[32];
        /* positions not multiple of 3 are absent keys */
        snprintf(probe, sizeof probe, "key%08u", pos);
        same_seek(pt, root, cur, probe, (int)(tu_rng_next(rng) % 4 == 0));
        if (tu_rng_next(rng) % 16 == 0) { /* and some steps */
            int rc = tu_rng_next(rng) % 2 ? btc_next(cur) : btc_prev(cur);
            assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_NOT_FOUND);
        }
    }
    /* beyond both ends */
    same_seek(pt, root, cur, "key99999999", 0);
    same_seek(pt, root, cur, "a", 1);
    same_seek(pt, root, cur, "a", 0);
    same_seek(pt, root, cur, "zzz", 1);
    btc_close(cur);
}

/* vlen: value size; with large values a leaf holds a few dozen keys, so
 * forward seeks often land in the next leaf (cur_seek_sibling) or in the
 * gap before it */
static void seek_reuse(size_t vlen)
{
    char *dir = tu_mkdtemp("seek");
    assert_non_null(dir);
    char *path = tu_path(dir, "s.blazedb");
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (unsigned i = 0; i < NKEYS; i++) {
        char k[32];
        key_of(i, k);
        static const char val[256] = "v";
        assert_int_equal(blazedb_txn_put(t, k, strlen(k), val, vlen), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    TuRng rng;
    tu_rng_seed(&rng, tu_seed("test_seek_reuse"));
    /* a read transaction: cursors point into their pinned leaves */
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    PagerTxn *pt = db_txn_pt(t);
    PagerRoot root = pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN];
    run_seeks(pt, &root, &rng);
    blazedb_txn_abort(t);
    /* a write transaction: cursors keep copies of their keys */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    pt = db_txn_pt(t);
    run_seeks(pt, &pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN], &rng);
    blazedb_txn_abort(t);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

static void test_seek_reuse(void **state)
{
    (void)state;
    seek_reuse(1);
}

static void test_seek_reuse_small_leaves(void **state)
{
    (void)state;
    seek_reuse(200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seek_reuse),
        cmocka_unit_test(test_seek_reuse_small_leaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
