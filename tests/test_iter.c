/*
 * test_iter.c — range/prefix iterators of include/blazedb.h: key order
 * (memcmp, shorter first on a common prefix), every combination of range
 * bounds and flags, prefixes (including 0xFF bytes), empty ranges, reverse
 * walks, iterators inside write transactions (seeing and surviving the
 * transaction's own writes), snapshot isolation of iterators without a
 * transaction, misuse, and random ranges checked against a sorted model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blazedb.h"

/* ---- temp dirs, options ------------------------------------------------------ */

static char *g_base; /* per-run directory, removed by the group teardown */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    remove(p);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/blazedb-iter-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d)
        return -1;
    g_base = strdup(d);
    return g_base ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_base);
    return 0;
}

static BlazeDB *open_new(void)
{
    static int n;
    char path[4200];
    snprintf(path, sizeof path, "%s/db%d", g_base, n++);
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o.kdf_iterations = 1;
    o.durability = BLAZEDB_DURABILITY_NORMAL;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, "pw", &o, &db);
    if (rc != BLAZEDB_OK)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return db;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* ---- a sorted model ------------------------------------------------------------ */

typedef struct {
    unsigned char *k, *v;
    size_t kl, vl;
} Ent;

typedef struct {
    Ent *e;
    size_t n, cap;
} Model;

/* memcmp order, shorter first on a common prefix. */
static int kcmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Index of the first entry >= key. */
static size_t m_lower(const Model *m, const void *k, size_t kl)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kcmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void m_put(Model *m, const void *k, size_t kl, const void *v, size_t vl)
{
    size_t i = m_lower(m, k, kl);
    if (i < m->n && kcmp(m->e[i].k, m->e[i].kl, k, kl) == 0) {
        free(m->e[i].v);
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->e = realloc(m->e, m->cap * sizeof *m->e);
            assert_non_null(m->e);
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
        m->n++;
        m->e[i].k = malloc(kl);
        memcpy(m->e[i].k, k, kl);
        m->e[i].kl = kl;
    }
    m->e[i].v = malloc(vl ? vl : 1);
    if (vl)
        memcpy(m->e[i].v, v, vl);
    m->e[i].vl = vl;
}

static void m_del(Model *m, const void *k, size_t kl)
{
    size_t i = m_lower(m, k, kl);
    if (i < m->n && kcmp(m->e[i].k, m->e[i].kl, k, kl) == 0) {
        free(m->e[i].k);
        free(m->e[i].v);
        memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
        m->n--;
    }
}

static void m_free(Model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].k);
        free(m->e[i].v);
    }
    free(m->e);
    memset(m, 0, sizeof *m);
}

static int in_range(const Ent *e, const BlazeDBRange *r)
{
    if (!r)
        return 1;
    if (r->prefix && (e->kl < r->prefix_len ||
                      (r->prefix_len && memcmp(e->k, r->prefix, r->prefix_len) != 0)))
        return 0;
    if (r->start) {
        int c = kcmp(e->k, e->kl, r->start, r->start_len);
        if (c < 0 || (c == 0 && (r->flags & BLAZEDB_ITER_START_EXCLUSIVE)))
            return 0;
    }
    if (r->end) {
        int c = kcmp(e->k, e->kl, r->end, r->end_len);
        if (c > 0 || (c == 0 && !(r->flags & BLAZEDB_ITER_END_INCLUSIVE)))
            return 0;
    }
    return 1;
}

/* Both models are applied to the database in lock-step. */
static void put_both(BlazeDB *db, Model *m, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(blazedb_put2(db, k, kl, v, vl), BLAZEDB_OK);
    m_put(m, k, kl, v, vl);
}

/* ---- checking an iterator against the model ----------------------------------- */

static void hex(char *out, size_t cap, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t o = 0;
    out[0] = 0;
    if (!p) {
        snprintf(out, cap, "NULL");
        return;
    }
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", b[i]);
}

static void describe(char *out, size_t cap, const BlazeDBRange *r)
{
    if (!r) {
        snprintf(out, cap, "(all)");
        return;
    }
    char s[64], e[64], p[64];
    hex(s, sizeof s, r->start, r->start_len);
    hex(e, sizeof e, r->end, r->end_len);
    hex(p, sizeof p, r->prefix, r->prefix_len);
    snprintf(out, cap, "start=%s end=%s prefix=%s flags=%x", s, e, p, r->flags);
}

/* Walks the iterator over `r` and compares keys and values with the model. */
static void check_range(BlazeDB *db, BlazeDBTxn *txn, const Model *m, const BlazeDBRange *r)
{
    char desc[256];
    describe(desc, sizeof desc, r);
    size_t *want = malloc((m->n + 1) * sizeof *want), nw = 0;
    assert_non_null(want);
    for (size_t i = 0; i < m->n; i++)
        if (in_range(&m->e[i], r))
            want[nw++] = i;
    int rev = r && (r->flags & BLAZEDB_ITER_REVERSE);

    BlazeDBIterator *it = NULL;
    BlazeDBResult rc = blazedb_iter_open(db, txn, r, &it);
    if (rc != BLAZEDB_OK)
        fail_msg("iter_open %s: %s (%s)", desc, blazedb_strerror(rc), blazedb_errmsg(db));
    size_t got = 0;
    for (;;) {
        rc = blazedb_iter_next(it);
        if (rc == BLAZEDB_NOT_FOUND)
            break;
        if (rc != BLAZEDB_OK)
            fail_msg("iter_next %s: %s", desc, blazedb_strerror(rc));
        const void *k, *v;
        size_t kl, vl;
        assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_OK);
        assert_int_equal(blazedb_iter_value(it, &v, &vl), BLAZEDB_OK);
        if (got >= nw) {
            char kh[64];
            hex(kh, sizeof kh, k, kl);
            fail_msg("%s: extra key %s after %zu expected keys", desc, kh, nw);
        }
        const Ent *e = &m->e[want[rev ? nw - 1 - got : got]];
        if (kcmp(k, kl, e->k, e->kl) != 0) {
            char kh[64], eh[64];
            hex(kh, sizeof kh, k, kl);
            hex(eh, sizeof eh, e->k, e->kl);
            fail_msg("%s: key #%zu is %s, expected %s", desc, got, kh, eh);
        }
        if (vl != e->vl || (vl && memcmp(v, e->v, vl) != 0))
            fail_msg("%s: wrong value at key #%zu", desc, got);
        got++;
    }
    if (got != nw)
        fail_msg("%s: %zu keys, expected %zu", desc, got, nw);
    /* Exhausted stays exhausted. */
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    blazedb_iter_close(it);
    free(want);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_empty_database(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    Model m = { 0 };
    check_range(db, NULL, &m, NULL);
    BlazeDBRange r = { "a", 1, "z", 1, NULL, 0, BLAZEDB_ITER_REVERSE };
    check_range(db, NULL, &m, &r);
    BlazeDBIterator *it = NULL;
    assert_int_equal(blazedb_iter_open(db, NULL, NULL, &it), BLAZEDB_OK);
    const void *k = NULL;
    size_t kl = 0;
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_MISUSE);
    blazedb_iter_close(it);
    blazedb_close(db);
}

static void test_full_scan_order(void **state)
{
    (void)state;
    /* Listed in the expected order. */
    static const struct { const char *k; size_t n; } keys[] = {
        { "\x00", 1 }, { "\x00\x00", 2 }, { "\x00\x01", 2 }, { "\x01", 1 },
        { "a", 1 }, { "a\x00", 2 }, { "a\x00\x00", 3 },
        { "a\x01", 2 }, { "aa", 2 }, { "ab", 2 }, { "abc", 3 }, { "b", 1 },
        { "\x7f", 1 }, { "\x80", 1 }, { "\xfe\xff", 2 }, { "\xff", 1 }, { "\xff\x00", 2 },
        { "\xff\xff", 2 }, { "\xff\xff\xff", 3 },
    };
    enum { N = sizeof keys / sizeof keys[0] };
    BlazeDB *db = open_new();
    Model m = { 0 };
    size_t order[N];
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    rng_state = 42;
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < N; i++) {
        char v[8];
        snprintf(v, sizeof v, "v%zu", order[i]);
        put_both(db, &m, keys[order[i]].k, keys[order[i]].n, v, strlen(v));
    }
    /* The model's order is the literal order above (checks the comparator). */
    assert_int_equal(m.n, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(m.e[i].kl, keys[i].n);
        assert_memory_equal(m.e[i].k, keys[i].k, keys[i].n);
    }
    check_range(db, NULL, &m, NULL);
    BlazeDBRange all = { 0 };
    check_range(db, NULL, &m, &all);
    BlazeDBRange rev = { 0 };
    rev.flags = BLAZEDB_ITER_REVERSE;
    check_range(db, NULL, &m, &rev);

    /* Values and the borrowed key stay right through a long walk of a
     * bigger tree, forwards and backwards. */
    for (int i = 0; i < 3000; i++) {
        char k[24], v[40];
        snprintf(k, sizeof k, "big%06d", (int)(rnd() % 1000000));
        snprintf(v, sizeof v, "value-of-%s", k);
        put_both(db, &m, k, strlen(k), v, strlen(v));
    }
    check_range(db, NULL, &m, &all);
    check_range(db, NULL, &m, &rev);
    m_free(&m);
    blazedb_close(db);
}

static void test_range_bounds_all_flags(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    Model m = { 0 };
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < 400; i += 2) {
        char k[32];
        snprintf(k, sizeof k, "k%03d", i);
        assert_int_equal(blazedb_txn_put(t, k, 4, k, 4), BLAZEDB_OK);
        m_put(&m, k, 4, k, 4);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    put_both(db, &m, "k1", 2, "short", 5);
    put_both(db, &m, "k100x", 5, "long", 4);

    static const struct { const char *k; size_t n; } bounds[] = {
        { NULL, 0 },          /* open */
        { "k100", 4 },        /* present */
        { "k101", 4 },        /* absent, between keys */
        { "k1", 2 },          /* present, prefix of others */
        { "k10", 3 },         /* absent, prefix of others */
        { "k100x", 5 },       /* present, longer */
        { "k100\x00", 5 },    /* absent, just after a key */
        { "a", 1 },           /* before every key */
        { "z", 1 },           /* after every key */
        { "k000", 4 },        /* first key */
        { "k398", 4 },        /* last key */
        { "k200", 4 },
    };
    enum { NB = sizeof bounds / sizeof bounds[0] };
    int ranges = 0;
    for (size_t s = 0; s < NB; s++)
        for (size_t e = 0; e < NB; e++)
            for (unsigned f = 0; f < 8; f++) {
                BlazeDBRange r = { bounds[s].k, bounds[s].n, bounds[e].k, bounds[e].n,
                                   NULL, 0, f };
                check_range(db, NULL, &m, &r);
                ranges++;
            }
    assert_int_equal(ranges, NB * NB * 8);
    m_free(&m);
    blazedb_close(db);
}

static void test_prefix(void **state)
{
    (void)state;
    static const struct { const char *k; size_t n; } keys[] = {
        { "\xff", 1 }, { "\xff\x00", 2 }, { "\xff\xff", 2 }, { "\xff\xff\x01", 3 },
        { "\xff\xff\xff\xff", 4 }, { "\xfe\xff", 2 }, { "\xfe", 1 }, { "ab", 2 },
        { "ab\xff", 3 }, { "ab\xff\xff", 4 }, { "ab\xff\xff\x00", 5 }, { "abc", 3 },
        { "ac", 2 }, { "a", 1 }, { "b", 1 }, { "\x00", 1 }, { "\x00\xff", 2 },
    };
    BlazeDB *db = open_new();
    Model m = { 0 };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_both(db, &m, keys[i].k, keys[i].n, &i, sizeof i);
    static const struct { const char *p; size_t n; size_t expect; } prefixes[] = {
        { "\xff", 1, 5 }, { "\xff\xff", 2, 3 }, { "\xff\xff\xff", 3, 1 },
        { "\xff\xff\xff\xff\xff", 5, 0 }, { "\xfe", 1, 2 }, { "ab", 2, 5 },
        { "ab\xff", 3, 3 }, { "ab\xff\xff", 4, 2 }, { "a", 1, 7 }, { "c", 1, 0 },
        { "\x00", 1, 2 }, { "abc", 3, 1 }, { "abcd", 4, 0 }, { "", 0, 17 },
    };
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        /* The model agrees with the hand count (checks in_range itself). */
        size_t c = 0;
        BlazeDBRange r = { NULL, 0, NULL, 0, prefixes[p].p, prefixes[p].n, 0 };
        for (size_t i = 0; i < m.n; i++)
            c += (size_t)in_range(&m.e[i], &r);
        assert_int_equal(c, prefixes[p].expect);
        for (unsigned f = 0; f < 8; f++) {
            r.flags = f;
            check_range(db, NULL, &m, &r);
        }
        /* Combined with bounds inside, before and after the prefix. */
        static const struct { const char *k; size_t n; } b[] = {
            { NULL, 0 }, { "\xff\x00", 2 }, { "ab\xff", 3 }, { "a", 1 }, { "\xff\xff\x00", 3 },
            { "\x01", 1 }, { "zz", 2 },
        };
        for (size_t s = 0; s < sizeof b / sizeof b[0]; s++)
            for (size_t e = 0; e < sizeof b / sizeof b[0]; e++)
                for (unsigned f = 0; f < 8; f += 3) {
                    BlazeDBRange rr = { b[s].k, b[s].n, b[e].k, b[e].n,
                                        prefixes[p].p, prefixes[p].n, f };
                    check_range(db, NULL, &m, &rr);
                }
    }
    m_free(&m);
    blazedb_close(db);
}

static void test_empty_ranges(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    Model m = { 0 };
    for (int i = 0; i < 100; i += 10) {
        char k[32];
        snprintf(k, sizeof k, "e%03d", i);
        put_both(db, &m, k, 4, "v", 1);
    }
    for (unsigned f = 0; f < 8; f++) {
        /* start > end */
        BlazeDBRange r1 = { "e050", 4, "e020", 4, NULL, 0, f };
        check_range(db, NULL, &m, &r1);
        /* between two keys */
        BlazeDBRange r2 = { "e011", 4, "e019", 4, NULL, 0, f };
        check_range(db, NULL, &m, &r2);
        /* start == end: empty unless START inclusive and END inclusive */
        BlazeDBRange r3 = { "e030", 4, "e030", 4, NULL, 0, f };
        check_range(db, NULL, &m, &r3);
        /* prefix with no key */
        BlazeDBRange r4 = { NULL, 0, NULL, 0, "e0301", 5, f };
        check_range(db, NULL, &m, &r4);
        /* bounds outside the prefix */
        BlazeDBRange r5 = { "f", 1, NULL, 0, "e", 1, f };
        check_range(db, NULL, &m, &r5);
    }
    /* Spelled out: [e030, e030] holds exactly e030, (e030, e030] nothing. */
    BlazeDBRange one = { "e030", 4, "e030", 4, NULL, 0, BLAZEDB_ITER_END_INCLUSIVE };
    BlazeDBIterator *it;
    assert_int_equal(blazedb_iter_open(db, NULL, &one, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    const void *k;
    size_t kl;
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_OK);
    assert_int_equal(kl, 4);
    assert_memory_equal(k, "e030", 4);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    blazedb_iter_close(it);
    one.flags |= BLAZEDB_ITER_START_EXCLUSIVE;
    assert_int_equal(blazedb_iter_open(db, NULL, &one, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    blazedb_iter_close(it);
    m_free(&m);
    blazedb_close(db);
}

static void test_misuse(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    assert_int_equal(blazedb_put(db, "a", "1", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "b", "2", 1), BLAZEDB_OK);
    BlazeDBIterator *it = (BlazeDBIterator *)db;
    assert_int_equal(blazedb_iter_open(db, NULL, NULL, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_iter_open(NULL, NULL, NULL, &it), BLAZEDB_INVALID_ARGUMENT);
    assert_null(it);

    assert_int_equal(blazedb_iter_open(db, NULL, NULL, &it), BLAZEDB_OK);
    const void *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_iter_value(it, &v, &vl), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    /* Either out-pointer may be NULL. */
    assert_int_equal(blazedb_iter_key(it, NULL, &kl), BLAZEDB_OK);
    assert_int_equal(kl, 1);
    assert_int_equal(blazedb_iter_key(it, &k, NULL), BLAZEDB_OK);
    assert_memory_equal(k, "a", 1);
    assert_int_equal(blazedb_iter_value(it, NULL, &vl), BLAZEDB_OK);
    assert_int_equal(vl, 1);
    assert_int_equal(blazedb_iter_value(it, &v, NULL), BLAZEDB_OK);
    assert_memory_equal(v, "1", 1);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_iter_value(it, &v, &vl), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_NOT_FOUND);
    blazedb_iter_close(it);
    assert_int_not_equal(blazedb_iter_next(NULL), BLAZEDB_OK);
    assert_int_not_equal(blazedb_iter_key(NULL, &k, &kl), BLAZEDB_OK);
    blazedb_iter_close(NULL);
    blazedb_close(db);
}

static void test_iter_in_read_txn(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    Model m = { 0 };
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof k, "r%03d", i);
        put_both(db, &m, k, 4, k, 4);
    }
    BlazeDBTxn *r;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    /* Commits after the read txn began are invisible to its iterators. */
    for (int i = 0; i < 300; i += 3) {
        char k[32];
        snprintf(k, sizeof k, "r%03d", i);
        assert_int_equal(blazedb_delete(db, k), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_put(db, "r999", "new", 3), BLAZEDB_OK);
    check_range(db, r, &m, NULL);
    BlazeDBRange rev = { "r100", 4, "r200", 4, NULL, 0, BLAZEDB_ITER_REVERSE };
    check_range(db, r, &m, &rev);
    assert_int_equal(blazedb_txn_commit(r), BLAZEDB_OK);
    /* A fresh iterator sees the new state. */
    for (int i = 0; i < 300; i += 3) {
        char k[32];
        snprintf(k, sizeof k, "r%03d", i);
        m_del(&m, k, 4);
    }
    m_put(&m, "r999", 4, "new", 3);
    check_range(db, NULL, &m, NULL);
    m_free(&m);
    blazedb_close(db);
}

/* Walks the whole key space inside a write transaction while changing it:
 * the next key returned is always the first key after (before, in reverse)
 * the last one returned, in the transaction's current state. */
static void walk_and_modify(int reverse)
{
    BlazeDB *db = open_new();
    Model m = { 0 };
    for (int i = 0; i < 400; i += 2) {
        char k[32];
        snprintf(k, sizeof k, "w%03d", i);
        put_both(db, &m, k, 4, "orig", 4);
    }
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    /* Uncommitted writes before the walk are visible to it. */
    assert_int_equal(blazedb_txn_put(t, "w001", 4, "pre", 3), BLAZEDB_OK);
    m_put(&m, "w001", 4, "pre", 3);
    assert_int_equal(blazedb_txn_delete(t, "w002", 4), BLAZEDB_OK);
    m_del(&m, "w002", 4);
    check_range(db, t, &m, NULL);

    BlazeDBRange r = { 0 };
    r.flags = reverse ? BLAZEDB_ITER_REVERSE : 0;
    BlazeDBIterator *it;
    assert_int_equal(blazedb_iter_open(db, t, &r, &it), BLAZEDB_OK);
    char last[16] = { 0 };
    size_t last_len = 0;
    int have_last = 0, steps = 0;
    for (;;) {
        /* Expected next key from the model. */
        size_t want;
        if (!have_last) {
            want = reverse ? m.n - 1 : 0;
        } else {
            size_t i = m_lower(&m, last, last_len);
            if (reverse)
                want = i == 0 ? (size_t)-1 : i - 1;
            else
                want = (i < m.n && kcmp(m.e[i].k, m.e[i].kl, last, last_len) == 0) ? i + 1 : i;
        }
        BlazeDBResult rc = blazedb_iter_next(it);
        if (want >= m.n) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            break;
        }
        if (rc != BLAZEDB_OK)
            fail_msg("step %d: iter_next %s", steps, blazedb_strerror(rc));
        const void *k, *v;
        size_t kl, vl;
        assert_int_equal(blazedb_iter_key(it, &k, &kl), BLAZEDB_OK);
        assert_int_equal(blazedb_iter_value(it, &v, &vl), BLAZEDB_OK);
        if (kcmp(k, kl, m.e[want].k, m.e[want].kl) != 0)
            fail_msg("step %d: got key %.*s, expected %.*s", steps, (int)kl, (const char *)k,
                     (int)m.e[want].kl, (const char *)m.e[want].k);
        if (vl != m.e[want].vl || memcmp(v, m.e[want].v, vl) != 0)
            fail_msg("step %d: key %.*s has value %.*s, expected %.*s", steps, (int)kl,
                     (const char *)k, (int)vl, (const char *)v, (int)m.e[want].vl,
                     (const char *)m.e[want].v);
        assert_true(kl < sizeof last);
        memcpy(last, k, kl);
        last[kl] = 0;
        last_len = kl;
        have_last = 1;
        steps++;
        int n = atoi(last + 1);
        char nk[32];
        /* Behind the walk: never visited. */
        snprintf(nk, sizeof nk, reverse ? "x%03d" : "a%03d", n);
        assert_int_equal(blazedb_txn_put(t, nk, 4, "behind", 6), BLAZEDB_OK);
        m_put(&m, nk, 4, "behind", 6);
        if (n % 4 == 0) {
            /* Delete the current key, insert its neighbour ahead. */
            assert_int_equal(blazedb_txn_delete(t, last, last_len), BLAZEDB_OK);
            m_del(&m, last, last_len);
            snprintf(nk, sizeof nk, "w%03d", reverse ? n - 1 : n + 1);
            if (n > 0 || !reverse) {
                assert_int_equal(blazedb_txn_put(t, nk, 4, "ins", 3), BLAZEDB_OK);
                m_put(&m, nk, 4, "ins", 3);
            }
        } else if (n % 4 == 2) {
            /* Update the key two ahead; delete the one four ahead. */
            snprintf(nk, sizeof nk, "w%03d", reverse ? n - 2 : n + 2);
            assert_int_equal(blazedb_txn_put(t, nk, 4, "updated", 7), BLAZEDB_OK);
            m_put(&m, nk, 4, "updated", 7);
            snprintf(nk, sizeof nk, "w%03d", reverse ? n - 6 : n + 6);
            assert_int_equal(blazedb_txn_delete(t, nk, 4), BLAZEDB_OK);
            m_del(&m, nk, 4);
        }
        /* Many inserts far ahead now and then: forces splits under the walk. */
        if (steps % 25 == 0) {
            for (int j = 0; j < 200; j++) {
                char fk[32];
                snprintf(fk, sizeof fk, reverse ? "w%03d-%03d" : "w%03d~%03d",
                         reverse ? n - 40 : n + 40, j);
                if (reverse && n - 40 < 0)
                    break;
                assert_int_equal(blazedb_txn_put(t, fk, strlen(fk), "bulk", 4), BLAZEDB_OK);
                m_put(&m, fk, strlen(fk), "bulk", 4);
            }
        }
    }
    assert_true(steps > 150);
    blazedb_iter_close(it);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    check_range(db, NULL, &m, NULL);
    m_free(&m);
    blazedb_close(db);
}

static void test_iter_in_write_txn_forward(void **state)
{
    (void)state;
    walk_and_modify(0);
}

static void test_iter_in_write_txn_reverse(void **state)
{
    (void)state;
    walk_and_modify(1);
}

/* An iterator without a transaction keeps its snapshot while others commit,
 * rewrite every page and checkpoint. */
static void test_iter_snapshot(void **state)
{
    (void)state;
    BlazeDB *db = open_new();
    Model m = { 0 };
    unsigned char val[200];
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        memset(val, 'a' + i % 26, sizeof val);
        assert_int_equal(blazedb_txn_put(t, k, 5, val, sizeof val), BLAZEDB_OK);
        m_put(&m, k, 5, val, sizeof val);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);

    BlazeDBIterator *fw, *bw;
    BlazeDBRange rev = { 0 };
    rev.flags = BLAZEDB_ITER_REVERSE;
    assert_int_equal(blazedb_iter_open(db, NULL, NULL, &fw), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_open(db, NULL, &rev, &bw), BLAZEDB_OK);
    size_t pos = 0, bpos = 0;
    for (int round = 0; round < 40; round++) {
        /* Advance each iterator a bit and check. */
        for (int s = 0; s < 50 && pos < m.n; s++, pos++) {
            assert_int_equal(blazedb_iter_next(fw), BLAZEDB_OK);
            const void *k, *v;
            size_t kl, vl;
            assert_int_equal(blazedb_iter_key(fw, &k, &kl), BLAZEDB_OK);
            assert_int_equal(blazedb_iter_value(fw, &v, &vl), BLAZEDB_OK);
            assert_int_equal(kl, m.e[pos].kl);
            assert_memory_equal(k, m.e[pos].k, kl);
            assert_int_equal(vl, m.e[pos].vl);
            assert_memory_equal(v, m.e[pos].v, vl);
        }
        for (int s = 0; s < 50 && bpos < m.n; s++, bpos++) {
            assert_int_equal(blazedb_iter_next(bw), BLAZEDB_OK);
            const void *k, *v;
            size_t kl, vl;
            const Ent *e = &m.e[m.n - 1 - bpos];
            assert_int_equal(blazedb_iter_key(bw, &k, &kl), BLAZEDB_OK);
            assert_int_equal(blazedb_iter_value(bw, &v, &vl), BLAZEDB_OK);
            assert_int_equal(kl, e->kl);
            assert_memory_equal(k, e->k, kl);
            assert_int_equal(vl, e->vl);
            assert_memory_equal(v, e->v, vl);
        }
        /* Meanwhile: rewrite a quarter of the keys, delete some, add some. */
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        memset(val, '0' + round % 10, sizeof val);
        for (int i = round % 4; i < 2000; i += 4) {
            char k[32];
            snprintf(k, sizeof k, "s%04d", i);
            if (i % 12 == 1)
                assert_int_equal(blazedb_txn_delete(t, k, 5), BLAZEDB_OK);
            else
                assert_int_equal(blazedb_txn_put(t, k, 5, val, sizeof val), BLAZEDB_OK);
        }
        char nk[32];
        snprintf(nk, sizeof nk, "s%04d+%d", (round * 53) % 2000, round);
        assert_int_equal(blazedb_txn_put(t, nk, strlen(nk), "new", 3), BLAZEDB_OK);
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        if (round % 10 == 9)
            assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    }
    for (; pos < m.n; pos++)
        assert_int_equal(blazedb_iter_next(fw), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(fw), BLAZEDB_NOT_FOUND);
    blazedb_iter_close(fw);
    blazedb_iter_close(bw);
    /* The latest state is different: a new iterator sees the new keys. */
    BlazeDBIterator *it;
    BlazeDBRange p = { NULL, 0, NULL, 0, "s0000+", 6, 0 };
    assert_int_equal(blazedb_iter_open(db, NULL, &p, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    blazedb_iter_close(it);
    m_free(&m);
    blazedb_close(db);
}

/* Random binary keys over a small alphabet (lots of shared prefixes, 0x00 and
 * 0xFF bytes) and random ranges, checked against the model. */
static void test_random_ranges(void **state)
{
    (void)state;
    static const unsigned char alpha[] = { 0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff };
    BlazeDB *db = open_new();
    Model m = { 0 };
    rng_state = 0xfeedface12345ull;
    for (int batch = 0; batch < 6; batch++) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (int i = 0; i < 800; i++) {
            unsigned char k[8], v[64];
            size_t kl = 1 + rnd() % 6, vl = rnd() % sizeof v;
            for (size_t j = 0; j < kl; j++)
                k[j] = alpha[rnd() % sizeof alpha];
            for (size_t j = 0; j < vl; j++)
                v[j] = (unsigned char)rnd();
            if (batch > 2 && rnd() % 3 == 0) {
                assert_int_equal(blazedb_txn_delete(t, k, kl), BLAZEDB_OK);
                m_del(&m, k, kl);
            } else {
                assert_int_equal(blazedb_txn_put(t, k, kl, v, vl), BLAZEDB_OK);
                m_put(&m, k, kl, v, vl);
            }
        }
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        check_range(db, NULL, &m, NULL);
        for (int q = 0; q < 80; q++) {
            unsigned char s[8], e[8], p[4];
            size_t sl = 1 + rnd() % 6, el = 1 + rnd() % 6, pl = rnd() % 4;
            for (size_t j = 0; j < 8; j++) {
                s[j] = alpha[rnd() % sizeof alpha];
                e[j] = alpha[rnd() % sizeof alpha];
            }
            for (size_t j = 0; j < 4; j++)
                p[j] = alpha[rnd() % sizeof alpha];
            /* Bounds from existing keys half of the time. */
            if (m.n && rnd() % 2) {
                const Ent *x = &m.e[rnd() % m.n];
                memcpy(s, x->k, x->kl);
                sl = x->kl;
            }
            if (m.n && rnd() % 2) {
                const Ent *x = &m.e[rnd() % m.n];
                memcpy(e, x->k, x->kl);
                el = x->kl;
            }
            BlazeDBRange r = { rnd() % 4 ? s : NULL, sl, rnd() % 4 ? e : NULL, el,
                               pl ? p : NULL, pl, (unsigned)(rnd() % 8) };
            if (!r.start)
                r.start_len = 0;
            if (!r.end)
                r.end_len = 0;
            check_range(db, NULL, &m, &r);
        }
    }
    m_free(&m);
    blazedb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_database),
        cmocka_unit_test(test_full_scan_order),
        cmocka_unit_test(test_range_bounds_all_flags),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_empty_ranges),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_iter_in_read_txn),
        cmocka_unit_test(test_iter_in_write_txn_forward),
        cmocka_unit_test(test_iter_in_write_txn_reverse),
        cmocka_unit_test(test_iter_snapshot),
        cmocka_unit_test(test_random_ranges),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
