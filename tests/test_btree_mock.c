/*
 * test_btree_mock.c — tests of the copy-on-write B+tree (src/btree/btree.c)
 * and the free-page tree (src/btree/freelist.c) over the in-memory mock
 * pager (tests/support/mock_pager.c).
 *
 * The core is a randomised model test: random puts/replaces/deletes with
 * keys of 1..max bytes and values of 0 bytes to 2 MiB, compared after every
 * commit with a sorted in-memory model (point gets, full scans both ways,
 * seeks), plus btree_check and a page accounting that proves every page
 * number is used exactly once.  Edge cases, snapshots and page reuse, fault
 * injection and tampering have their own tests.
 *
 * BLAZEDB_LONG_TESTS=1 runs the model test 10 times longer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blazedb.h"
#include "../src/btree/btree.h"

/* mock_pager.c extras */
int mock_pager_open(uint32_t page_size, Pager **out);
void mock_pager_close(Pager *p);
long mock_pager_pins(const Pager *p);
long mock_txn_pins(const PagerTxn *t);
void mock_pager_set_oldest_reader(Pager *p, uint64_t id);
Pgno mock_pager_npages(const Pager *p);
void mock_pager_fail_after(Pager *p, long n);
int mock_pager_poke(Pager *p, Pgno pgno, size_t off, uint8_t x);
const uint8_t *mock_pager_page(const Pager *p, Pgno pgno);

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static int long_tests(void)
{
    const char *e = getenv("BLAZEDB_LONG_TESTS");
    return e && *e && strcmp(e, "0") != 0;
}

#define CHECK_OK(p, expr)                                                        \
    do {                                                                         \
        int rc_ = (expr);                                                        \
        if (rc_ != BLAZEDB_OK)                                                   \
            fail_msg("%s -> %d (%s)", #expr, rc_, pager_errmsg(p));              \
    } while (0)

/* Value bytes are a function of (seed, length) so the model stores no data. */
static void gen_value(uint64_t seed, size_t len, uint8_t *out)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (size_t i = 0; i < len; i += 8) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t v = s * 2685821657736338717ull;
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(out + i, &v, n);
    }
}

static int value_ok(uint64_t seed, size_t len, const void *v, size_t vlen)
{
    if (vlen != len)
        return 0;
    if (len == 0)
        return 1;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    gen_value(seed, len, buf);
    int ok = memcmp(buf, v, len) == 0;
    free(buf);
    return ok;
}

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return al < bl ? -1 : al > bl;
}

/* ---- the model: a sorted array ------------------------------------------ */

typedef struct {
    uint8_t *k;
    size_t kl;
    uint64_t seed;
    size_t vlen;
} Ent;

typedef struct {
    Ent *e;
    size_t n, cap;
} Model;

/* Lower bound; *exact when equal. */
static size_t model_find(const Model *m, const uint8_t *k, size_t kl, int *exact)
{
    size_t lo = 0, hi = m->n;
    *exact = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keycmp(m->e[mid].k, m->e[mid].kl, k, kl);
        if (c < 0) {
            lo = mid + 1;
        } else {
            if (c == 0)
                *exact = 1;
            hi = mid;
        }
    }
    return lo;
}

static void model_put(Model *m, const uint8_t *k, size_t kl, uint64_t seed, size_t vlen)
{
    int ex;
    size_t i = model_find(m, k, kl, &ex);
    if (ex) {
        m->e[i].seed = seed;
        m->e[i].vlen = vlen;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        assert_non_null(m->e);
    }
    memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof *m->e);
    m->e[i].k = malloc(kl);
    assert_non_null(m->e[i].k);
    memcpy(m->e[i].k, k, kl);
    m->e[i].kl = kl;
    m->e[i].seed = seed;
    m->e[i].vlen = vlen;
    m->n++;
}

static void model_del_at(Model *m, size_t i)
{
    free(m->e[i].k);
    memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof *m->e);
    m->n--;
}

static void model_free(Model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].k);
    free(m->e);
    memset(m, 0, sizeof *m);
}

static void model_copy(Model *dst, const Model *src)
{
    model_free(dst);
    dst->cap = src->n ? src->n : 1;
    dst->e = malloc(dst->cap * sizeof *dst->e);
    assert_non_null(dst->e);
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i] = src->e[i];
        dst->e[i].k = malloc(src->e[i].kl);
        assert_non_null(dst->e[i].k);
        memcpy(dst->e[i].k, src->e[i].k, src->e[i].kl);
    }
    dst->n = src->n;
}

/* ---- verification ------------------------------------------------------- */

static void expect_cursor_at(Pager *p, BtCursor *c, const Model *m, size_t i)
{
    const void *k, *v;
    size_t kl, vl;
    assert_true(btc_valid(c));
    CHECK_OK(p, btc_key(c, &k, &kl));
    if (keycmp(k, kl, m->e[i].k, m->e[i].kl) != 0)
        fail_msg("cursor key differs from the model at index %zu", i);
    CHECK_OK(p, btc_value(c, &v, &vl));
    if (!value_ok(m->e[i].seed, m->e[i].vlen, v, vl))
        fail_msg("cursor value differs at index %zu (len %zu vs %zu)", i, vl, m->e[i].vlen);
}

/* Makes a probe key near an existing one (or random). */
static size_t probe_key(const Model *m, uint8_t *buf, size_t maxkey)
{
    size_t kl;
    if (m->n == 0 || rnd_below(4) == 0) {
        kl = 1 + rnd_below(8);
        for (size_t i = 0; i < kl; i++)
            buf[i] = (uint8_t)('a' + rnd_below(5));
        return kl;
    }
    const Ent *e = &m->e[rnd_below(m->n)];
    memcpy(buf, e->k, e->kl);
    kl = e->kl;
    switch (rnd_below(4)) {
    case 0:
        break;
    case 1:
        if (kl > 1)
            kl--;
        break;
    case 2:
        if (kl < maxkey)
            buf[kl++] = (uint8_t)rnd();
        break;
    default:
        buf[kl - 1] = (uint8_t)(buf[kl - 1] + 1);
        break;
    }
    return kl;
}

/* Compares the tree with the model.  full: every entry is fetched. */
static void verify_tree(Pager *p, PagerTxn *t, PagerRoot *root, const Model *m, int full)
{
    CHECK_OK(p, btree_check(t, root, NULL, NULL));
    assert_int_equal(root->count, m->n);
    size_t step = full ? 1 : (m->n / 64 + 1);
    for (size_t i = 0; i < m->n; i += step) {
        void *v;
        size_t vl;
        CHECK_OK(p, btree_get(t, root, m->e[i].k, m->e[i].kl, &v, &vl));
        assert_non_null(v);
        if (!value_ok(m->e[i].seed, m->e[i].vlen, v, vl))
            fail_msg("btree_get value differs at index %zu", i);
        free(v);
    }
    BtCursor *c;
    CHECK_OK(p, btc_open(t, root, &c));
    assert_false(btc_valid(c));
    /* forward */
    size_t i = 0;
    int rc;
    for (rc = btc_first(c); rc == BLAZEDB_OK; rc = btc_next(c), i++) {
        assert_true(i < m->n);
        if (full || i % step == 0) {
            expect_cursor_at(p, c, m, i);
        } else {
            const void *k;
            size_t kl;
            CHECK_OK(p, btc_key(c, &k, &kl));
            assert_int_equal(keycmp(k, kl, m->e[i].k, m->e[i].kl), 0);
        }
    }
    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
    assert_int_equal(i, m->n);
    assert_false(btc_valid(c));
    /* backward */
    i = m->n;
    for (rc = btc_last(c); rc == BLAZEDB_OK; rc = btc_prev(c)) {
        assert_true(i > 0);
        i--;
        const void *k;
        size_t kl;
        CHECK_OK(p, btc_key(c, &k, &kl));
        assert_int_equal(keycmp(k, kl, m->e[i].k, m->e[i].kl), 0);
    }
    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
    assert_int_equal(i, 0);
    /* seeks */
    uint8_t buf[BTREE_MAX_KEY];
    size_t maxkey = btree_max_key(p);
    for (int s = 0; s < 40; s++) {
        size_t kl = probe_key(m, buf, maxkey);
        int ex, bex;
        size_t lb = model_find(m, buf, kl, &ex);
        void *gv;
        size_t gl;
        rc = btree_get(t, root, buf, kl, &gv, &gl);
        assert_int_equal(rc, ex ? BLAZEDB_OK : BLAZEDB_NOT_FOUND);
        if (ex)
            assert_true(value_ok(m->e[lb].seed, m->e[lb].vlen, gv, gl));
        else
            assert_null(gv);
        free(gv);
        rc = btc_seek(c, buf, kl, &bex);
        if (lb == m->n) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            assert_false(btc_valid(c));
        } else {
            assert_int_equal(rc, BLAZEDB_OK);
            assert_int_equal(bex, ex);
            expect_cursor_at(p, c, m, lb);
            rc = btc_next(c);
            if (lb + 1 < m->n) {
                assert_int_equal(rc, BLAZEDB_OK);
                expect_cursor_at(p, c, m, lb + 1);
            } else {
                assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            }
        }
        rc = btc_seek_le(c, buf, kl, &bex);
        if (!ex && lb == 0) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
        } else {
            size_t at = ex ? lb : lb - 1;
            assert_int_equal(rc, BLAZEDB_OK);
            assert_int_equal(bex, ex);
            expect_cursor_at(p, c, m, at);
            rc = btc_prev(c);
            if (at > 0) {
                assert_int_equal(rc, BLAZEDB_OK);
                expect_cursor_at(p, c, m, at - 1);
            } else {
                assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            }
        }
    }
    btc_close(c);
}

typedef struct {
    uint8_t *cnt;
    Pgno npages;
    int out_of_range;
} Acc;

static void acc_mark(Pgno pg, void *arg)
{
    Acc *a = arg;
    if (pg < 3 || pg >= a->npages) {
        a->out_of_range++;
        return;
    }
    if (a->cnt[pg] < 255)
        a->cnt[pg]++;
}

/* Every page number in [3, npages) is used exactly once: by the main tree,
 * by the free tree, or as a recorded free page. */
static void check_pages(Pager *p)
{
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 0, &t));
    PagerMeta *meta = pager_txn_meta(t);
    Acc a;
    a.npages = meta->npages;
    a.cnt = calloc(a.npages, 1);
    a.out_of_range = 0;
    assert_non_null(a.cnt);
    CHECK_OK(p, btree_check(t, &meta->roots[PAGER_ROOT_MAIN], acc_mark, &a));
    CHECK_OK(p, freelist_check(t, acc_mark, acc_mark, &a));
    assert_int_equal(a.out_of_range, 0);
    for (Pgno pg = 3; pg < a.npages; pg++)
        if (a.cnt[pg] != 1)
            fail_msg("page %u is used %u times (npages %u)", (unsigned)pg,
                     (unsigned)a.cnt[pg], (unsigned)a.npages);
    free(a.cnt);
    assert_int_equal(mock_pager_pins(p), 0);
    CHECK_OK(p, pager_commit(t));
}

static Pager *open_pager(uint32_t page_size)
{
    Pager *p;
    assert_int_equal(mock_pager_open(page_size, &p), BLAZEDB_OK);
    freelist_attach(p);
    return p;
}

static void commit_write(Pager *p, PagerTxn *t)
{
    CHECK_OK(p, freelist_commit(t));
    assert_int_equal(mock_txn_pins(t), 0);
    CHECK_OK(p, pager_commit(t));
}

static void verify_committed(Pager *p, const Model *m, int full)
{
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 0, &t));
    verify_tree(p, t, &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN], m, full);
    assert_int_equal(mock_pager_pins(p), 0);
    CHECK_OK(p, pager_commit(t));
}

static void put_model(Pager *p, PagerTxn *t, PagerRoot *root, Model *m,
                      const uint8_t *k, size_t kl, uint64_t seed, size_t vlen)
{
    uint8_t *v = malloc(vlen ? vlen : 1);
    assert_non_null(v);
    gen_value(seed, vlen, v);
    int ex, replaced = -1;
    model_find(m, k, kl, &ex);
    CHECK_OK(p, btree_put(t, root, k, kl, v, vlen, &replaced));
    assert_int_equal(replaced, ex);
    model_put(m, k, kl, seed, vlen);
    free(v);
}

static void del_model(Pager *p, PagerTxn *t, PagerRoot *root, Model *m,
                      const uint8_t *k, size_t kl)
{
    int ex, found = -1;
    size_t i = model_find(m, k, kl, &ex);
    CHECK_OK(p, btree_delete(t, root, k, kl, &found));
    assert_int_equal(found, ex);
    if (ex)
        model_del_at(m, i);
}

/* ---- random workload ---------------------------------------------------- */

typedef struct {
    Pager *p;
    size_t maxkey;
    int huge_left;      /* values > 1 MiB still allowed */
} Work;

static size_t random_key(Work *w, uint8_t *buf)
{
    size_t kl;
    unsigned r = (unsigned)rnd_below(10);
    if (r < 6) {
        kl = 1 + rnd_below(12);
        for (size_t i = 0; i < kl; i++)
            buf[i] = (uint8_t)('a' + rnd_below(4));
    } else if (r < 8) {
        kl = 1 + rnd_below(64);
        for (size_t i = 0; i < kl; i++)
            buf[i] = (uint8_t)rnd_below(16);
    } else {
        kl = 1 + rnd_below(w->maxkey);
        size_t pre = rnd_below(kl);
        memset(buf, 'a', pre);
        for (size_t i = pre; i < kl; i++)
            buf[i] = (uint8_t)rnd();
    }
    return kl;
}

static size_t random_vlen(Work *w)
{
    unsigned r = (unsigned)rnd_below(1000);
    if (r < 600)
        return rnd_below(101);
    if (r < 900)
        return rnd_below(3001);
    if (r < 995 || w->huge_left <= 0)
        return rnd_below(40001);
    w->huge_left--;
    return (1u << 20) + rnd_below(1u << 20);
}

static void random_op(Work *w, PagerTxn *t, PagerRoot *root, Model *m)
{
    uint8_t k[BTREE_MAX_KEY];
    unsigned r = (unsigned)rnd_below(100);
    if (r < 45 || m->n == 0) {
        size_t kl = random_key(w, k);
        put_model(w->p, t, root, m, k, kl, rnd(), random_vlen(w));
    } else if (r < 65) {
        Ent *e = &m->e[rnd_below(m->n)];
        memcpy(k, e->k, e->kl);
        put_model(w->p, t, root, m, k, e->kl, rnd(), random_vlen(w));
    } else if (r < 90) {
        Ent *e = &m->e[rnd_below(m->n)];
        size_t kl = e->kl;
        memcpy(k, e->k, kl);
        del_model(w->p, t, root, m, k, kl);
    } else {
        size_t kl = random_key(w, k);
        del_model(w->p, t, root, m, k, kl);
    }
}

static void run_model(uint32_t page_size, int txns, int max_ops, int huge, uint64_t seed)
{
    rng = seed;
    Pager *p = open_pager(page_size);
    Work w = {p, btree_max_key(p), huge};
    Model committed = {0}, work = {0};
    int commits = 0, aborts = 0;
    for (int tx = 0; tx < txns; tx++) {
        PagerTxn *t;
        CHECK_OK(p, pager_begin(p, 1, &t));
        PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
        int nops = 1 + (int)rnd_below((size_t)max_ops);
        for (int i = 0; i < nops; i++)
            random_op(&w, t, root, &work);
        if (rnd_below(5) == 0)
            verify_tree(p, t, root, &work, 0);       /* own writes visible */
        if (rnd_below(8) == 0) {
            pager_abort(t);
            assert_int_equal(mock_pager_pins(p), 0);
            model_copy(&work, &committed);
            aborts++;
        } else {
            commit_write(p, t);
            model_copy(&committed, &work);
            commits++;
        }
        verify_committed(p, &committed, 1);
        check_pages(p);
    }
    assert_true(commits > 0);
    assert_true(aborts > 0);
    model_free(&committed);
    model_free(&work);
    mock_pager_close(p);
}

static void test_model_8k(void **state)
{
    (void)state;
    run_model(8192, long_tests() ? 3000 : 300, 60, 3, 0x1234567u);
}

static void test_model_4k(void **state)
{
    (void)state;
    run_model(4096, long_tests() ? 1500 : 150, 60, 2, 0xABCDEFu);
}

static void test_model_64k(void **state)
{
    (void)state;
    run_model(65536, long_tests() ? 800 : 80, 80, 2, 0x5151u);
}

/* ---- edge cases ---------------------------------------------------------- */

static void test_empty_tree(void **state)
{
    (void)state;
    Pager *p = open_pager(8192);
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    void *v = (void *)1;
    size_t vl = 99;
    assert_int_equal(btree_get(t, root, "a", 1, &v, &vl), BLAZEDB_NOT_FOUND);
    assert_null(v);
    assert_int_equal(vl, 0);
    int found = -1;
    CHECK_OK(p, btree_delete(t, root, "a", 1, &found));
    assert_int_equal(found, 0);
    BtCursor *c;
    CHECK_OK(p, btc_open(t, root, &c));
    assert_int_equal(btc_first(c), BLAZEDB_NOT_FOUND);
    assert_int_equal(btc_last(c), BLAZEDB_NOT_FOUND);
    assert_int_equal(btc_seek(c, "a", 1, NULL), BLAZEDB_NOT_FOUND);
    assert_int_equal(btc_seek_le(c, "a", 1, NULL), BLAZEDB_NOT_FOUND);
    assert_int_equal(btc_next(c), BLAZEDB_NOT_FOUND);
    assert_false(btc_valid(c));
    btc_close(c);
    CHECK_OK(p, btree_check(t, root, NULL, NULL));
    CHECK_OK(p, btree_drop(t, root));
    /* one key in, then out again: back to an empty root */
    CHECK_OK(p, btree_put(t, root, "a", 1, "x", 1, NULL));
    assert_int_not_equal(root->root.pgno, 0);
    assert_int_equal(root->count, 1);
    CHECK_OK(p, btree_delete(t, root, "a", 1, &found));
    assert_int_equal(found, 1);
    assert_int_equal(root->root.pgno, 0);
    assert_int_equal(root->count, 0);
    commit_write(p, t);
    check_pages(p);
    /* freelist_commit may run twice in one transaction */
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    char kb[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(kb, sizeof kb, "%06d", i);
        CHECK_OK(p, btree_put(t, root, kb, 6, kb, 6, NULL));
    }
    commit_write(p, t);
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0; i < 3000; i += 2) {
        snprintf(kb, sizeof kb, "%06d", i);
        CHECK_OK(p, btree_delete(t, root, kb, 6, NULL));
    }
    CHECK_OK(p, freelist_commit(t));
    for (int i = 1; i < 3000; i += 2) {
        snprintf(kb, sizeof kb, "%06d", i);
        CHECK_OK(p, btree_delete(t, root, kb, 6, NULL));
    }
    assert_int_equal(root->root.pgno, 0);
    commit_write(p, t);
    check_pages(p);
    /* a read transaction cannot write */
    CHECK_OK(p, pager_begin(p, 0, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    assert_int_equal(btree_put(t, root, "a", 1, "x", 1, NULL), BLAZEDB_READONLY);
    assert_int_equal(btree_delete(t, root, "a", 1, NULL), BLAZEDB_READONLY);
    pager_abort(t);
    mock_pager_close(p);
}

static void limits_for(uint32_t page_size, size_t expect_max)
{
    rng = page_size;
    Pager *p = open_pager(page_size);
    size_t mk = btree_max_key(p);
    assert_int_equal(mk, expect_max);
    uint8_t key[BTREE_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    Model m = {0};
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    uint8_t small[16] = {0};
    assert_int_equal(btree_put(t, root, key, mk + 1, small, 1, NULL), BLAZEDB_TOO_BIG);
    assert_int_equal(btree_put(t, root, key, 0, small, 1, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(btree_put(t, root, key, 1, small, (size_t)BTREE_MAX_VALUE + 1, NULL),
                     BLAZEDB_TOO_BIG);
    int found = -1;
    CHECK_OK(p, btree_delete(t, root, key, mk + 1, &found));
    assert_int_equal(found, 0);
    assert_int_equal(root->count, 0);
    /* zero-length values, with and without a NULL pointer */
    CHECK_OK(p, btree_put(t, root, "z", 1, NULL, 0, NULL));
    model_put(&m, (const uint8_t *)"z", 1, 0, 0);
    void *v;
    size_t vl = 7;
    CHECK_OK(p, btree_get(t, root, "z", 1, &v, &vl));
    assert_non_null(v);
    assert_int_equal(vl, 0);
    free(v);
    /* max-size keys with small, medium and overflowing values: deep trees */
    for (int i = 0; i < 150; i++) {
        key[mk - 1] = (uint8_t)i;
        key[mk - 2] = (uint8_t)(i * 7);
        key[rnd_below(mk)] = (uint8_t)('a' + rnd_below(3));
        size_t vlen = i % 3 == 0 ? 0 : i % 3 == 1 ? rnd_below(200) : rnd_below(20000);
        put_model(p, t, root, &m, key, mk, rnd(), vlen);
        if (i % 25 == 0)
            verify_tree(p, t, root, &m, 1);
    }
    verify_tree(p, t, root, &m, 1);
    commit_write(p, t);
    check_pages(p);
    verify_committed(p, &m, 1);
    /* delete in random order, checking on the way */
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    int n = 0;
    while (m.n > 0) {
        size_t i = rnd_below(m.n);
        uint8_t k[BTREE_MAX_KEY];
        size_t kl = m.e[i].kl;
        memcpy(k, m.e[i].k, kl);
        del_model(p, t, root, &m, k, kl);
        if (++n % 20 == 0)
            verify_tree(p, t, root, &m, 1);
    }
    assert_int_equal(root->root.pgno, 0);
    commit_write(p, t);
    check_pages(p);
    model_free(&m);
    mock_pager_close(p);
}

static void test_limits(void **state)
{
    (void)state;
    limits_for(4096, 1325);
    limits_for(8192, 2048);
    limits_for(65536, 2048);
}

static void keyf(char *buf, int i) { snprintf(buf, 16, "k%05d", i); }

static void expect_key(Pager *p, BtCursor *c, const char *want)
{
    const void *k;
    size_t kl;
    CHECK_OK(p, btc_key(c, &k, &kl));
    if (kl != strlen(want) || memcmp(k, want, kl) != 0)
        fail_msg("cursor at '%.*s', expected '%s'", (int)kl, (const char *)k, want);
}

static void test_cursor_reseek(void **state)
{
    (void)state;
    Pager *p = open_pager(4096);
    PagerTxn *t;
    char kb[16];
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0; i < 2000; i += 2) {
        keyf(kb, i);
        CHECK_OK(p, btree_put(t, root, kb, 6, kb, 6, NULL));
    }
    commit_write(p, t);

    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    BtCursor *c;
    CHECK_OK(p, btc_open(t, root, &c));
    int ex;
    CHECK_OK(p, btc_seek(c, "k00100", 6, &ex));
    assert_int_equal(ex, 1);
    /* an insert right after the current key is seen by next */
    CHECK_OK(p, btree_put(t, root, "k00101", 6, "new", 3, NULL));
    CHECK_OK(p, btc_next(c));
    expect_key(p, c, "k00101");
    const void *v;
    size_t vl;
    CHECK_OK(p, btc_value(c, &v, &vl));
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "new", 3);
    /* deleting the current key: next goes to its successor */
    CHECK_OK(p, btree_delete(t, root, "k00101", 6, NULL));
    CHECK_OK(p, btc_next(c));
    expect_key(p, c, "k00102");
    /* deleting the current key: prev goes to its predecessor */
    CHECK_OK(p, btree_delete(t, root, "k00102", 6, NULL));
    CHECK_OK(p, btree_delete(t, root, "k00104", 6, NULL));
    CHECK_OK(p, btc_prev(c));
    expect_key(p, c, "k00100");
    /* key/value of a deleted current entry: the successor */
    CHECK_OK(p, btree_delete(t, root, "k00100", 6, NULL));
    expect_key(p, c, "k00106");
    /* replacing the current value is visible */
    CHECK_OK(p, btree_put(t, root, "k00106", 6, "replaced", 8, NULL));
    CHECK_OK(p, btc_value(c, &v, &vl));
    assert_int_equal(vl, 8);
    assert_memory_equal(v, "replaced", 8);
    /* a big overflow value then a change under it */
    uint8_t *big = malloc(100000);
    assert_non_null(big);
    gen_value(42, 100000, big);
    CHECK_OK(p, btree_put(t, root, "k00106", 6, big, 100000, NULL));
    CHECK_OK(p, btc_value(c, &v, &vl));
    assert_int_equal(vl, 100000);
    assert_memory_equal(v, big, 100000);
    /* heavy restructuring: delete everything below k01000 except k00106,
     * then walk on: the cursor continues in order */
    for (int i = 0; i < 1000; i += 2) {
        keyf(kb, i);
        if (i != 106)
            CHECK_OK(p, btree_delete(t, root, kb, 6, NULL));
    }
    CHECK_OK(p, btree_check(t, root, NULL, NULL));
    expect_key(p, c, "k00106");
    assert_int_equal(btc_prev(c), BLAZEDB_NOT_FOUND);   /* now the first key */
    assert_false(btc_valid(c));
    CHECK_OK(p, btc_seek(c, "k00106", 6, NULL));
    int n = 0, rc;
    char prev[16] = "k00106";
    while ((rc = btc_next(c)) == BLAZEDB_OK) {
        const void *k;
        size_t kl;
        CHECK_OK(p, btc_key(c, &k, &kl));
        assert_true(keycmp((const uint8_t *)prev, strlen(prev), k, kl) < 0);
        memcpy(prev, k, kl);
        prev[kl] = 0;
        n++;
        if (n % 50 == 0) {      /* modify while walking: delete the next key */
            int num = atoi(prev + 1) + 2;
            keyf(kb, num);
            int found;
            CHECK_OK(p, btree_delete(t, root, kb, 6, &found));
            n += found;         /* counted as visited */
        }
    }
    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
    assert_int_equal(n, 500);
    btc_close(c);
    free(big);
    commit_write(p, t);
    check_pages(p);
    mock_pager_close(p);
}

static void test_drop(void **state)
{
    (void)state;
    rng = 77;
    Pager *p = open_pager(8192);
    PagerTxn *t;
    Model m = {0};
    Work w = {p, btree_max_key(p), 1};
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0; i < 1500; i++)
        random_op(&w, t, root, &m);
    commit_write(p, t);
    check_pages(p);
    Pgno before = mock_pager_npages(p);

    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    CHECK_OK(p, btree_drop(t, root));
    assert_int_equal(root->root.pgno, 0);
    assert_int_equal(root->count, 0);
    commit_write(p, t);
    check_pages(p);
    /* every page is now free or a page of the free tree */
    CHECK_OK(p, pager_begin(p, 0, &t));
    PagerMeta *meta = pager_txn_meta(t);
    assert_true(meta->free_pages > (uint64_t)(meta->npages - 3) * 9 / 10);
    pager_abort(t);
    /* refilling the same amount reuses those pages */
    Model m2 = {0};
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0; i < 1500; i++)
        random_op(&w, t, root, &m2);
    commit_write(p, t);
    check_pages(p);
    verify_committed(p, &m2, 1);
    assert_true(mock_pager_npages(p) <= before + before / 5);
    model_free(&m);
    model_free(&m2);
    mock_pager_close(p);
}

static void first_two(Pgno pg, void *arg)
{
    Pgno *a = arg;
    if (a[2] < 2)
        a[a[2]] = pg;
    a[2]++;
}

static void test_tamper(void **state)
{
    Pgno pgs[3] = {0, 0, 0};
    (void)state;
    Pager *p = open_pager(8192);
    PagerTxn *t;
    char kb[16];
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0; i < 3000; i++) {
        keyf(kb, i);
        CHECK_OK(p, btree_put(t, root, kb, 6, "value", 5, NULL));
    }
    commit_write(p, t);

    CHECK_OK(p, pager_begin(p, 0, &t));
    PagerRoot r = pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    r.root.ctr++;
    void *v;
    size_t vl;
    assert_int_equal(btree_get(t, &r, "k00001", 6, &v, &vl), BLAZEDB_CORRUPT);
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    BtCursor *c;
    CHECK_OK(p, btc_open(t, &r, &c));
    assert_int_equal(btc_first(c), BLAZEDB_CORRUPT);
    assert_false(btc_valid(c));
    btc_close(c);
    assert_int_equal(mock_pager_pins(p), 0);
    /* a forged child reference inside the root (leftmost child ctr, offset 16
     * of a branch page) */
    Pgno rootpg = pager_txn_meta(t)->roots[PAGER_ROOT_MAIN].root.pgno;
    CHECK_OK(p, mock_pager_poke(p, rootpg, 16, 0x01));
    r = pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    assert_int_equal(btree_get(t, &r, "k00000", 6, &v, &vl), BLAZEDB_CORRUPT);
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    assert_non_null(strstr(pager_errmsg(p), "authentication"));
    CHECK_OK(p, btree_get(t, &r, "k02999", 6, &v, &vl));   /* other subtrees fine */
    free(v);
    pager_abort(t);
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    assert_int_equal(btree_put(t, root, "k00000", 6, "x", 1, NULL), BLAZEDB_CORRUPT);
    assert_int_equal(mock_pager_pins(p), 0);
    pager_abort(t);
    /* an unknown page type in a page that authenticates */
    CHECK_OK(p, mock_pager_poke(p, rootpg, 16, 0x01));
    CHECK_OK(p, mock_pager_poke(p, rootpg, 0, 0x07));
    CHECK_OK(p, pager_begin(p, 0, &t));
    r = pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    assert_int_equal(btree_get(t, &r, "k00000", 6, &v, &vl), BLAZEDB_CORRUPT);
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    /* a wrong entry count */
    CHECK_OK(p, mock_pager_poke(p, rootpg, 0, 0x07));
    r.count++;
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    r.count--;
    CHECK_OK(p, btree_check(t, &r, NULL, NULL));
    /* structural damage inside a page that still authenticates: the first
     * leaf (second page visited) gets two keys out of order, then a bad
     * cell_start */
    CHECK_OK(p, btree_check(t, &r, first_two, pgs));
    const uint8_t *leaf = mock_pager_page(p, pgs[1]);
    assert_non_null(leaf);
    assert_int_equal(leaf[0], 1);
    size_t c1 = (size_t)leaf[14] | ((size_t)leaf[15] << 8);   /* slot 1 */
    CHECK_OK(p, mock_pager_poke(p, pgs[1], c1 + 7, 0x7f));       /* its first key byte */
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    assert_non_null(strstr(pager_errmsg(p), "order"));
    CHECK_OK(p, mock_pager_poke(p, pgs[1], c1 + 7, 0x7f));
    CHECK_OK(p, btree_check(t, &r, NULL, NULL));
    CHECK_OK(p, mock_pager_poke(p, pgs[1], 4, 0x02));            /* cell_start */
    assert_int_equal(btree_check(t, &r, NULL, NULL), BLAZEDB_CORRUPT);
    CHECK_OK(p, mock_pager_poke(p, pgs[1], 4, 0x02));
    assert_int_equal(mock_pager_pins(p), 0);
    pager_abort(t);
    mock_pager_close(p);
}

/* Steady put/delete load: the file stops growing; an old snapshot keeps its
 * pages (and reads correct values) until it ends. */
static void steady_txn(Pager *p, Model *m, int mutations)
{
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 1, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    char kb[16];
    for (int i = 0; i < mutations; i++) {
        keyf(kb, (int)rnd_below(600));
        if (rnd_below(3) == 0)
            del_model(p, t, root, m, (const uint8_t *)kb, 6);
        else
            put_model(p, t, root, m, (const uint8_t *)kb, 6, rnd(), rnd_below(3000));
    }
    commit_write(p, t);
}

static void test_reuse_and_snapshots(void **state)
{
    (void)state;
    rng = 99;
    Pager *p = open_pager(8192);
    Model m = {0}, snap = {0};
    for (int i = 0; i < 30; i++)
        steady_txn(p, &m, 40);
    for (int i = 0; i < 100; i++)
        steady_txn(p, &m, 8);
    Pgno a = mock_pager_npages(p);
    for (int i = 0; i < 300; i++) {
        steady_txn(p, &m, 8);
        if (i % 50 == 0)
            check_pages(p);
    }
    Pgno b = mock_pager_npages(p);
    assert_true(b <= a + a / 10 + 8);

    /* a long-lived reader pins the pages of its snapshot */
    PagerTxn *r;
    CHECK_OK(p, pager_begin(p, 0, &r));
    model_copy(&snap, &m);
    BtCursor *rcur;
    CHECK_OK(p, btc_open(r, &pager_txn_meta(r)->roots[PAGER_ROOT_MAIN], &rcur));
    CHECK_OK(p, btc_first(rcur));
    for (int i = 0; i < 300; i++)
        steady_txn(p, &m, 8);
    Pgno c = mock_pager_npages(p);
    assert_true(c > b);
    /* the reader's cursor, positioned before those commits, walks on */
    size_t seen = 0;
    int rc;
    do {
        expect_cursor_at(p, rcur, &snap, seen++);
    } while ((rc = btc_next(rcur)) == BLAZEDB_OK);
    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
    assert_int_equal(seen, snap.n);
    btc_close(rcur);
    verify_tree(p, r, &pager_txn_meta(r)->roots[PAGER_ROOT_MAIN], &snap, 1);
    CHECK_OK(p, pager_commit(r));
    check_pages(p);

    /* once it is gone, growth stops again */
    for (int i = 0; i < 200; i++)
        steady_txn(p, &m, 8);
    Pgno d = mock_pager_npages(p);
    for (int i = 0; i < 300; i++)
        steady_txn(p, &m, 8);
    Pgno e = mock_pager_npages(p);
    assert_true(e <= d + d / 10 + 8);
    assert_true(d <= c + c / 10 + 8);
    check_pages(p);
    verify_committed(p, &m, 1);

    /* pager_oldest_reader says snapshot 1 is still needed: nothing newer is
     * reused, so the file grows by at least a page per commit */
    mock_pager_set_oldest_reader(p, 1);
    for (int i = 0; i < 50; i++)
        steady_txn(p, &m, 8);
    Pgno f = mock_pager_npages(p);
    assert_true(f >= e + 50);
    mock_pager_set_oldest_reader(p, 0);
    for (int i = 0; i < 100; i++)
        steady_txn(p, &m, 8);
    assert_true(mock_pager_npages(p) <= f + f / 10 + 8);
    check_pages(p);
    verify_committed(p, &m, 1);
    model_free(&m);
    model_free(&snap);
    mock_pager_close(p);
}

/* Injected pager failures at random points: the error comes back unchanged,
 * no pin or memory leaks, and aborting leaves the last commit intact. */
static void test_fault_injection(void **state)
{
    (void)state;
    rng = 4242;
    Pager *p = open_pager(4096);
    Work w = {p, btree_max_key(p), 0};
    Model m = {0}, scratch = {0};
    PagerTxn *t;
    CHECK_OK(p, pager_begin(p, 1, &t));
    for (int i = 0; i < 800; i++)
        random_op(&w, t, &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN], &m);
    commit_write(p, t);
    int failures = 0;
    for (int it = 0; it < 150; it++) {
        model_copy(&scratch, &m);
        CHECK_OK(p, pager_begin(p, 1, &t));
        PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
        mock_pager_fail_after(p, (long)rnd_below(300));
        int rc = BLAZEDB_OK;
        for (int i = 0; i < 40 && rc == BLAZEDB_OK; i++) {
            uint8_t k[BTREE_MAX_KEY];
            size_t kl = random_key(&w, k);
            if (rnd_below(3) == 0) {
                rc = btree_delete(t, root, k, kl, NULL);
            } else {
                size_t vl = random_vlen(&w);
                uint8_t *v = malloc(vl ? vl : 1);
                assert_non_null(v);
                gen_value(1, vl, v);
                rc = btree_put(t, root, k, kl, v, vl, NULL);
                free(v);
            }
            if (rc == BLAZEDB_OK && rnd_below(10) == 0) {
                BtCursor *c;
                rc = btc_open(t, root, &c);
                if (rc == BLAZEDB_OK) {
                    rc = btc_seek(c, k, kl, NULL);
                    for (int j = 0; j < 20 && rc == BLAZEDB_OK; j++)
                        rc = btc_next(c);
                    if (rc == BLAZEDB_NOT_FOUND)
                        rc = BLAZEDB_OK;
                    btc_close(c);
                }
            }
        }
        if (rc == BLAZEDB_OK)
            rc = freelist_commit(t);
        if (rc != BLAZEDB_OK) {
            assert_int_equal(rc, BLAZEDB_IO_ERROR);
            failures++;
        }
        assert_int_equal(mock_pager_pins(p), 0);
        mock_pager_fail_after(p, -1);
        pager_abort(t);
        if (it % 10 == 0) {
            verify_committed(p, &m, 0);
            check_pages(p);
        }
    }
    assert_true(failures > 50);
    verify_committed(p, &m, 1);
    check_pages(p);
    model_free(&m);
    model_free(&scratch);
    mock_pager_close(p);
}

static void count_page(Pgno pg, void *arg)
{
    (void)pg;
    (*(size_t *)arg)++;
}

/* Ascending inserts (time-ordered ids) fill pages completely; sequential
 * deletes from both ends empty the tree cleanly. */
static void test_sequential(void **state)
{
    (void)state;
    Pager *p = open_pager(4096);
    PagerTxn *t;
    char kb[32];
    const int n = 40000;
    for (int i = 0; i < n;) {
        CHECK_OK(p, pager_begin(p, 1, &t));
        PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
        for (int j = 0; j < 5000; j++, i++) {
            snprintf(kb, sizeof kb, "%016d", i);
            CHECK_OK(p, btree_put(t, root, kb, 16, "0123456789", 10, NULL));
        }
        commit_write(p, t);
    }
    CHECK_OK(p, pager_begin(p, 0, &t));
    PagerRoot *root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    size_t pages = 0;
    CHECK_OK(p, btree_check(t, root, count_page, &pages));
    /* a leaf cell is 7 + 16 + 10 bytes plus a 2-byte slot */
    size_t ideal = (size_t)n * 35 / (4096 - 48 - 12) + 1;
    assert_true(pages <= ideal + ideal / 10 + 8);
    pager_abort(t);
    check_pages(p);
    CHECK_OK(p, pager_begin(p, 1, &t));
    root = &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
    for (int i = 0, k = 0; i < n / 2; i++, k++) {
        snprintf(kb, sizeof kb, "%016d", i);
        int found;
        CHECK_OK(p, btree_delete(t, root, kb, 16, &found));
        assert_int_equal(found, 1);
        snprintf(kb, sizeof kb, "%016d", n - 1 - i);
        CHECK_OK(p, btree_delete(t, root, kb, 16, &found));
        assert_int_equal(found, 1);
        if (k % 2000 == 0)
            CHECK_OK(p, btree_check(t, root, NULL, NULL));
    }
    assert_int_equal(root->count, 0);
    assert_int_equal(root->root.pgno, 0);
    commit_write(p, t);
    check_pages(p);
    mock_pager_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cursor_reseek),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_reuse_and_snapshots),
        cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_model_8k),
        cmocka_unit_test(test_model_4k),
        cmocka_unit_test(test_model_64k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
