/*
 * test_btree_seek.c — cursor seeks that reuse the cursor's position (a
 * search inside the current leaf, forward probing, stepping to the next
 * leaf, climbing to the deepest branch that holds the key) agree with a fresh cursor's seek, for
 * random sequences of seeks (forward runs, backward jumps, >= and <=, keys
 * present and absent), in read and in write transactions.
 *
 * And the search hints of cached nodes (btree.c, "search hints"): gets and
 * seeks of keys built to defeat them (a long shared prefix, keys that end
 * inside or right after it, zero bytes, keys that are prefixes of others)
 * agree with a sorted model, on cached pages with hints (read twice, so
 * the second pass reuses them) and in a write transaction whose changed
 * pages have none.
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
#include "../src/btree/btree_page.h"
#include "../src/pager/cache.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define NKEYS 20000

/* A new database in a new directory (cheapest key derivation); close it
 * with close_fresh. */
static BlazeDB *open_fresh(const char *tag, char **dir)
{
    *dir = tu_mkdtemp(tag);
    assert_non_null(*dir);
    char *path = tu_path(*dir, "t.blazedb");
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    free(path);
    return db;
}

static void close_fresh(BlazeDB *db, char *dir)
{
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

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
    char *dir;
    BlazeDB *db = open_fresh("seek", &dir);
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
    close_fresh(db, dir);
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

/* ---- search hints ------------------------------------------------------ */

typedef struct {
    uint8_t b[64];
    size_t n;
} HKey;

static int hkey_cmp(const void *a, const void *b)
{
    const HKey *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* A key that a search hint could get wrong: a long prefix shared by all
 * (whole, cut short, or not at all), then 0..7 bytes from an alphabet with
 * zero bytes and 0xff. */
static void hkey_random(TuRng *rng, HKey *k)
{
    static const char prefix[] = "tenant/0042/collection/users/index/name/";
    static const uint8_t alpha[] = {0x00, 0x01, 'a', 'b', 0x7f, 0xff};
    size_t pl = sizeof prefix - 1;
    uint64_t r = tu_rng_next(rng) % 16;
    if (r == 0)
        pl = (size_t)(tu_rng_next(rng) % pl); /* a cut prefix */
    else if (r == 1)
        pl = 0;
    memcpy(k->b, prefix, pl);
    size_t extra = (size_t)(tu_rng_next(rng) % 8);
    if (pl + extra == 0)
        extra = 1;
    for (size_t i = 0; i < extra; i++)
        k->b[pl + i] = alpha[tu_rng_next(rng) % sizeof alpha];
    k->n = pl + extra;
}

/* First model index whose key is >= k (or, with `after`, > k). */
static size_t model_bound(const HKey *m, size_t n, const HKey *k, int after)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = hkey_cmp(&m[mid], k);
        if (c < 0 || (after && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void expect_key(BtCursor *c, const HKey *want)
{
    const void *k;
    size_t kl;
    assert_int_equal(btc_key(c, &k, &kl), BLAZEDB_OK);
    assert_int_equal(kl, want->n);
    assert_memory_equal(k, want->b, kl);
}

/* Gets and seeks of model keys and random probes against the model
 * (values: the key's number, then vpad bytes). */
static void check_against_model(PagerTxn *pt, PagerRoot *root, const HKey *m, size_t n,
                                size_t vpad, TuRng *rng)
{
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        size_t vl = 0;
        assert_int_equal(btree_get(pt, root, m[i].b, m[i].n, &v, &vl), BLAZEDB_OK);
        assert_int_equal(vl, sizeof(uint32_t) + vpad);
        uint32_t got;
        memcpy(&got, v, sizeof got);
        assert_int_equal(got, (uint32_t)m[i].n * 131u + m[i].b[m[i].n - 1]);
        free(v);
    }
    BtCursor *cur = NULL;
    assert_int_equal(btc_open(pt, root, &cur), BLAZEDB_OK);
    for (int i = 0; i < 20000; i++) {
        HKey probe;
        hkey_random(rng, &probe);
        size_t lb = model_bound(m, n, &probe, 0);
        int present = lb < n && hkey_cmp(&m[lb], &probe) == 0;
        void *v = NULL;
        size_t vl = 0;
        int rc = btree_get(pt, root, probe.b, probe.n, &v, &vl);
        assert_int_equal(rc, present ? BLAZEDB_OK : BLAZEDB_NOT_FOUND);
        free(v);
        int ex = -1;
        rc = btc_seek(cur, probe.b, probe.n, &ex);
        if (lb == n) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
        } else {
            assert_int_equal(rc, BLAZEDB_OK);
            assert_int_equal(ex, present);
            expect_key(cur, &m[lb]);
        }
        size_t ub = model_bound(m, n, &probe, 1);
        rc = btc_seek_le(cur, probe.b, probe.n, &ex);
        if (ub == 0) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
        } else {
            assert_int_equal(rc, BLAZEDB_OK);
            assert_int_equal(ex, present);
            expect_key(cur, &m[ub - 1]);
        }
    }
    btc_close(cur);
}

/* Counts, among the leaves under the leftmost branch above the leaves,
 * those whose hint lives in the cache entry's room and those whose hint
 * was malloc'd. */
static void count_leaf_hints(PagerTxn *pt, const PagerRoot *root, int *in_room, int *malloced)
{
    *in_room = *malloced = 0;
    Page *pg;
    assert_int_equal(pager_get(pt, root->root, &pg), BLAZEDB_OK);
    assert_int_equal(pg->data[0], BT_BRANCH);
    for (;;) {
        Page *child;
        assert_int_equal(pager_get(pt, branch_child(pg->data, 0), &child), BLAZEDB_OK);
        int leaves_below = child->data[0] == BT_LEAF;
        pager_unpin(pt, child);
        if (leaves_below)
            break;
        assert_int_equal(pager_get(pt, branch_child(pg->data, 0), &child), BLAZEDB_OK);
        pager_unpin(pt, pg);
        pg = child;
    }
    for (unsigned i = 0; i <= nkeys(pg->data); i++) {
        Page *leaf;
        assert_int_equal(pager_get(pt, branch_child(pg->data, i), &leaf), BLAZEDB_OK);
        void *h = __atomic_load_n(&leaf->hint, __ATOMIC_ACQUIRE);
        if (h && h != PAGE_HINT_BUSY) {
            if ((uint8_t *)h == cache_hint_room(leaf))
                (*in_room)++;
            else
                (*malloced)++;
        }
        pager_unpin(pt, leaf);
    }
    pager_unpin(pt, pg);
}

/* vpad: bytes after each 4-byte value.  0 makes leaves of a hundred keys
 * and more, whose hints are malloc'd; 150 makes leaves of about 40, whose
 * hints fit in the room the cache keeps next to each entry. */
static void run_search_hints(size_t vpad)
{
    char *dir;
    uint8_t val[4 + 150];
    assert_true(vpad <= 150);
    memset(val, 0xa5, sizeof val);
    BlazeDB *db = open_fresh("hint", &dir);
    TuRng rng;
    tu_rng_seed(&rng, tu_seed("test_search_hints"));
    size_t cap = 30000, n = 0;
    HKey *m = malloc(cap * sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < cap; i++)
        hkey_random(&rng, &m[n++]);
    qsort(m, n, sizeof *m, hkey_cmp);
    size_t u = 0; /* unique */
    for (size_t i = 0; i < n; i++)
        if (u == 0 || hkey_cmp(&m[u - 1], &m[i]) != 0)
            m[u++] = m[i];
    n = u;
    assert_true(n > 2000); /* enough for branches over many leaves */
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)m[i].n * 131u + m[i].b[m[i].n - 1];
        memcpy(val, &v, sizeof v);
        assert_int_equal(blazedb_txn_put(t, m[i].b, m[i].n, val, sizeof v + vpad),
                         BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    for (int pass = 0; pass < 2; pass++) { /* builds the hints, then uses them */
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
        PagerTxn *pt = db_txn_pt(t);
        PagerRoot root = pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN];
        check_against_model(pt, &root, m, n, vpad, &rng);
        if (pass == 1) {
            /* every leaf got its hint in the first pass: small ones in
             * the room, large ones malloc'd */
            int in_room, malloced;
            count_leaf_hints(pt, &root, &in_room, &malloced);
            if (vpad) {
                assert_true(in_room > 0);
                assert_int_equal(malloced, 0);
            } else {
                assert_true(malloced > 0);
            }
        }
        blazedb_txn_abort(t);
    }
    /* a write transaction that rewrites every tenth key: its changed pages
     * (no hints) and the untouched cached ones (hints) side by side */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (size_t i = 0; i < n; i += 10) {
        uint32_t v = (uint32_t)m[i].n * 131u + m[i].b[m[i].n - 1];
        memcpy(val, &v, sizeof v);
        assert_int_equal(blazedb_txn_put(t, m[i].b, m[i].n, val, sizeof v + vpad),
                         BLAZEDB_OK);
    }
    PagerTxn *pt = db_txn_pt(t);
    check_against_model(pt, &pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN], m, n, vpad, &rng);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    /* and the committed versions of those pages, read again */
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    pt = db_txn_pt(t);
    PagerRoot root = pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN];
    check_against_model(pt, &root, m, n, vpad, &rng);
    blazedb_txn_abort(t);
    free(m);
    close_fresh(db, dir);
}

static void test_search_hints(void **state)
{
    (void)state;
    run_search_hints(0);
}

static void test_search_hints_in_room(void **state)
{
    (void)state;
    run_search_hints(150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seek_reuse),
        cmocka_unit_test(test_seek_reuse_small_leaves),
        cmocka_unit_test(test_search_hints),
        cmocka_unit_test(test_search_hints_in_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
