/*
 * test_keyenc.c — the index key encoding (src/index/keyenc.h): for many
 * random pairs of values of every type (edge numbers included) the memcmp
 * order of the encodings equals qf_compare's order, ascending and
 * descending; compound keys compare component by component; keyenc_skip
 * finds each component's end; keyenc_decode gives back an equal value;
 * the binary-view and tree encoders agree; damaged bytes are refused.
 * BLAZEDB_TEST_SEED=S replays the random parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/doc/docbin.h"
#include "../src/doc/value.h"
#include "../src/index/keyenc.h"
#include "../src/query/filter.h"
#include "support/testutil.h"

static TuRng rng;

static uint64_t rnd(uint64_t n) { return tu_rng_below(&rng, n); }

static const double edge_doubles[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 9007199254740992.0 /* 2^53 */,
    9007199254740994.0, -9007199254740992.0, 9223372036854775808.0 /* 2^63 */,
    -9223372036854775808.0, 9223372036854774784.0 /* 2^63 - 1024 */,
    4611686018427387904.0 /* 2^62 */, 1e300, -1e300, DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN,
    4.9e-324, -4.9e-324, 1.0 / 0.0, -1.0 / 0.0, 0.1, -0.1, 123456789.125,
};

static const int64_t edge_ints[] = {
    0, 1, -1, 2, 9007199254740992LL, 9007199254740993LL, 9007199254740995LL,
    -9007199254740993LL, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
    4611686018427387905LL, -4611686018427387905LL, 9223372036854774784LL,
    9223372036854774785LL, 123456789,
};

static const char *const names[] = {"a", "b", "ab", "ba", "\xc3\xa9", "a b"};

static DocValue *rand_number(void)
{
    switch (rnd(7)) {
    case 0: return doc_new_double(edge_doubles[rnd(sizeof edge_doubles / sizeof *edge_doubles)]);
    case 1: return doc_new_int(edge_ints[rnd(sizeof edge_ints / sizeof *edge_ints)]);
    case 2: {
        /* an int near a big power of two, or any int */
        int sh = (int)rnd(64);
        int64_t base = sh == 63 ? INT64_MAX : (int64_t)1 << sh;
        uint64_t v = (uint64_t)base + rnd(5) - 2; /* wraps past INT64_MAX */
        return doc_new_int((int64_t)(rnd(2) ? v : 0 - v));
    }
    case 3: return doc_new_int((int64_t)tu_rng_next(&rng));
    case 4: {
        /* any double bit pattern (NaNs become the canonical one) */
        uint64_t u = tu_rng_next(&rng);
        double d;
        memcpy(&d, &u, 8);
        return doc_new_double(d);
    }
    case 5: {
        /* the double nearest some int, or a neighbour of it */
        int64_t i = (int64_t)(tu_rng_next(&rng) >> (1 + rnd(63)));
        double d = (double)(rnd(2) ? i : -i);
        uint64_t u;
        memcpy(&u, &d, 8);
        u += rnd(3) - 1;
        memcpy(&d, &u, 8);
        return doc_new_double(d);
    }
    default: {
        double nan = 0.0 / 0.0;
        return rnd(4) ? doc_new_int((int64_t)rnd(5) - 2) : doc_new_double(rnd(2) ? nan : 1.5);
    }
    }
}

static DocValue *rand_value(int depth)
{
    int t = (int)rnd(depth > 2 ? 9 : 12);
    switch (t) {
    case 0: return rnd(4) ? doc_new(DOC_NULL) : NULL; /* missing */
    case 1: return doc_new_bool((int)rnd(2));
    case 2:
    case 3: return rand_number();
    case 4: {
        static const int64_t ds[] = {0, 1, -1, INT64_MIN, INT64_MAX, 1700000000000LL};
        return doc_new_date(rnd(2) ? ds[rnd(6)] : (int64_t)tu_rng_next(&rng));
    }
    case 5:
    case 6: {
        /* strings over a small alphabet with NUL, so prefixes and equal
         * strings are common */
        static const char *const parts[] = {"", "a", "b", "\0", "\x01", "\x7f", "\xc3\xa9",
                                            "ab"};
        static const size_t plen[] = {0, 1, 1, 1, 1, 1, 2, 2};
        char buf[32];
        size_t n = 0, k = rnd(5);
        for (size_t i = 0; i < k; i++) {
            size_t j = rnd(8);
            memcpy(buf + n, parts[j], plen[j]);
            n += plen[j];
        }
        return doc_new_string(buf, n);
    }
    case 7: {
        static const uint8_t bs[] = {0x00, 0x01, 0xfe, 0xff};
        uint8_t buf[8];
        size_t n = rnd(5);
        for (size_t i = 0; i < n; i++)
            buf[i] = bs[rnd(4)];
        return doc_new_bytes(buf, n);
    }
    case 8: {
        uint8_t u[16];
        memset(u, rnd(2) ? 0 : 0xff, 16);
        u[rnd(16)] = (uint8_t)rnd(3);
        return doc_new_uuid(u);
    }
    case 9: {
        DocValue *a = doc_new(DOC_ARRAY);
        size_t n = rnd(4);
        for (size_t i = 0; i < n; i++) {
            DocValue *e = rand_value(depth + 1);
            if (!e)
                e = doc_new(DOC_NULL);
            assert_int_equal(doc_arr_push(a, e), BLAZEDB_OK);
        }
        return a;
    }
    case 10: {
        DocValue *o = doc_new(DOC_OBJECT);
        size_t n = rnd(4);
        for (size_t i = 0; i < n; i++) {
            const char *nm = names[rnd(sizeof names / sizeof *names)];
            DocValue *e = rand_value(depth + 1);
            if (!e)
                e = doc_new(DOC_NULL);
            assert_int_equal(doc_obj_put(o, nm, strlen(nm), e), BLAZEDB_OK);
        }
        return o;
    }
    default: {
        static const float fs[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e-45f, -1e-45f, FLT_MAX,
                                   -FLT_MAX, 0.5f, 3.0f};
        float v[4];
        size_t n = rnd(4);
        for (size_t i = 0; i < n; i++)
            v[i] = fs[rnd(sizeof fs / sizeof *fs)];
        return doc_new_vector(v, n);
    }
    }
}

static int sgn(int x) { return x < 0 ? -1 : x > 0; }

/* memcmp order, shorter first on a common prefix (the B+tree's order). */
static int key_cmp(const KeyBuf *a, const KeyBuf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c)
        return sgn(c);
    return a->len < b->len ? -1 : a->len > b->len;
}

static KeyBuf enc(const DocValue *v, int desc)
{
    KeyBuf b = {0};
    assert_int_equal(keyenc_value(&b, v, desc), BLAZEDB_OK);
    return b;
}

static char *show(const DocValue *v)
{
    static char buf[2][256];
    static int k;
    char *out = buf[k ^= 1];
    if (!v) {
        snprintf(out, 256, "(missing)");
        return out;
    }
    uint8_t *bin = NULL;
    size_t len = 0;
    char err[DOC_ERRMAX];
    if (docbin_encode(v, &bin, &len, err) != BLAZEDB_OK) {
        snprintf(out, 256, "(unencodable)");
        return out;
    }
    size_t n = 0;
    for (size_t i = 0; i < len && n + 3 < 256; i++)
        n += (size_t)snprintf(out + n, 256 - n, "%02x", bin[i]);
    free(bin);
    return out;
}

/* The component encodes identically from its binary view; skip finds its
 * end (also with bytes after it); decoding gives an equal value that
 * encodes to the same bytes. */
static void check_roundtrip(const DocValue *v, int desc)
{
    KeyBuf b = enc(v, desc);
    assert_int_equal(keyenc_skip(b.p, b.len, desc), b.len);
    KeyBuf more = {0};
    keybuf_put(&more, b.p, b.len);
    keybuf_put(&more, "\x00\xff\x05", 3);
    assert_int_equal(keyenc_skip(more.p, more.len, desc), b.len);
    /* a proper prefix is never a whole component */
    if (b.len > 1)
        assert_int_equal(keyenc_skip(b.p, b.len - 1 - rnd(b.len - 1), desc), 0);
    DocValue *back = NULL;
    size_t used = 0;
    assert_int_equal(keyenc_decode(more.p, more.len, desc, &back, &used), BLAZEDB_OK);
    assert_int_equal(used, b.len);
    if (qf_compare(v, back) != 0)
        fail_msg("decode changed %s into %s", show(v), show(back));
    KeyBuf b2 = enc(back, desc);
    assert_int_equal(key_cmp(&b, &b2), 0);
    doc_free(back);
    if (v) {
        uint8_t *bin = NULL;
        size_t len = 0;
        char err[DOC_ERRMAX];
        assert_int_equal(docbin_encode(v, &bin, &len, err), BLAZEDB_OK);
        DocView view;
        assert_int_equal(docbin_lookup(bin, len, "", &view), BLAZEDB_OK);
        KeyBuf b3 = {0};
        assert_int_equal(keyenc_view(&b3, &view, desc), BLAZEDB_OK);
        assert_int_equal(key_cmp(&b, &b3), 0);
        free(b3.p);
        free(bin);
    } else {
        KeyBuf b3 = {0};
        assert_int_equal(keyenc_view(&b3, NULL, desc), BLAZEDB_OK);
        assert_int_equal(key_cmp(&b, &b3), 0);
        free(b3.p);
    }
    free(b.p);
    free(b2.p);
    free(more.p);
}

static void test_random_pairs(void **state)
{
    (void)state;
    tu_rng_seed(&rng, tu_seed("test_keyenc"));
    int iters = tu_long_tests() ? 200000 : 20000;
    long equal = 0, cross = 0;
    for (int it = 0; it < iters; it++) {
        DocValue *a = rand_value(0), *b = rnd(8) ? rand_value(0) : (a ? doc_clone(a) : NULL);
        int want = sgn(qf_compare(a, b));
        assert_int_equal(sgn(qf_compare(b, a)), -want);
        equal += want == 0;
        cross += a && b && a->type != b->type;
        for (int desc = 0; desc < 2; desc++) {
            KeyBuf ka = enc(a, desc), kb = enc(b, desc);
            int got = key_cmp(&ka, &kb);
            if (got != (desc ? -want : want))
                fail_msg("order of %s vs %s: keys %d, qf_compare %d (desc %d)", show(a),
                         show(b), got, want, desc);
            free(ka.p);
            free(kb.p);
        }
        if (it % 4 == 0) {
            check_roundtrip(a, (int)rnd(2));
            check_roundtrip(b, (int)rnd(2));
        }
        doc_free(a);
        doc_free(b);
    }
    /* the generator makes equal pairs and pairs of different types */
    assert_true(equal > iters / 20);
    assert_true(cross > iters / 4);
}

/* Tuples of up to 3 values with mixed directions: the concatenated keys
 * compare like the tuples, component by component. */
static void test_compound(void **state)
{
    (void)state;
    tu_rng_seed(&rng, tu_seed("test_keyenc compound"));
    for (int it = 0; it < 10000; it++) {
        int n = 1 + (int)rnd(3), desc[3];
        DocValue *a[3], *b[3];
        for (int i = 0; i < n; i++) {
            desc[i] = (int)rnd(2);
            a[i] = rand_value(1);
            /* often equal leading components, so later ones decide */
            b[i] = rnd(2) ? (a[i] ? doc_clone(a[i]) : NULL) : rand_value(1);
        }
        int want = 0;
        for (int i = 0; i < n && !want; i++) {
            want = sgn(qf_compare(a[i], b[i]));
            if (desc[i])
                want = -want;
        }
        KeyBuf ka = {0}, kb = {0};
        for (int i = 0; i < n; i++) {
            assert_int_equal(keyenc_value(&ka, a[i], desc[i]), BLAZEDB_OK);
            assert_int_equal(keyenc_value(&kb, b[i], desc[i]), BLAZEDB_OK);
        }
        assert_int_equal(key_cmp(&ka, &kb), want);
        /* split again with keyenc_skip */
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            size_t s = keyenc_skip(ka.p + off, ka.len - off, desc[i]);
            assert_true(s > 0);
            KeyBuf one = enc(a[i], desc[i]);
            assert_int_equal(s, one.len);
            assert_memory_equal(ka.p + off, one.p, s);
            free(one.p);
            off += s;
        }
        assert_int_equal(off, ka.len);
        free(ka.p);
        free(kb.p);
        for (int i = 0; i < n; i++) {
            doc_free(a[i]);
            doc_free(b[i]);
        }
    }
}

static int cmp_int_key(int64_t i, double d)
{
    KeyBuf a = {0}, b = {0};
    assert_int_equal(keyenc_int(&a, i, 0), BLAZEDB_OK);
    assert_int_equal(keyenc_double(&b, d, 0), BLAZEDB_OK);
    int c = key_cmp(&a, &b);
    free(a.p);
    free(b.p);
    return c;
}

static void test_numbers(void **state)
{
    (void)state;
    double nan = 0.0 / 0.0;
    assert_int_equal(cmp_int_key(1, 1.0), 0);
    assert_int_equal(cmp_int_key(0, -0.0), 0);
    assert_int_equal(cmp_int_key(9007199254740993LL, 9007199254740992.0), 1);
    assert_int_equal(cmp_int_key(9007199254740993LL, 9007199254740994.0), -1);
    assert_int_equal(cmp_int_key(INT64_MAX, 9223372036854775808.0), -1);
    assert_int_equal(cmp_int_key(INT64_MAX, 9223372036854774784.0), 1);
    assert_int_equal(cmp_int_key(INT64_MIN, -9223372036854775808.0), 0);
    assert_int_equal(cmp_int_key(INT64_MIN + 1, -9223372036854775808.0), 1);
    assert_int_equal(cmp_int_key(INT64_MIN, nan), 1);
    assert_int_equal(cmp_int_key(INT64_MIN, -1.0 / 0.0), 1);
    assert_int_equal(cmp_int_key(INT64_MAX, 1.0 / 0.0), -1);
    /* NaN below -inf; -0.0 equals 0.0 */
    KeyBuf a = {0}, b = {0}, c = {0};
    keyenc_double(&a, nan, 0);
    keyenc_double(&b, -1.0 / 0.0, 0);
    assert_true(key_cmp(&a, &b) < 0);
    keyenc_double(&c, -0.0, 0);
    free(a.p);
    a = (KeyBuf){0};
    keyenc_double(&a, 0.0, 0);
    assert_int_equal(key_cmp(&a, &c), 0);
    /* the scalar helpers equal the tree encoder; desc inverts */
    DocValue *v = doc_new_int(-42);
    KeyBuf t = enc(v, 1), s = {0};
    keyenc_int(&s, -42, 1);
    assert_int_equal(key_cmp(&t, &s), 0);
    KeyBuf n1 = {0}, n2 = enc(NULL, 1);
    keyenc_null(&n1, 1);
    assert_int_equal(key_cmp(&n1, &n2), 0);
    /* every int near 2^53 .. 2^63 against its neighbouring doubles */
    for (int sh = 52; sh < 63; sh++) {
        for (int64_t delta = -3; delta <= 3; delta++) {
            int64_t i = ((int64_t)1 << sh) + delta;
            double d = (double)i;
            DocValue *iv = doc_new_int(i), *dv = doc_new_double(d);
            KeyBuf ki = enc(iv, 0), kd = enc(dv, 0);
            assert_int_equal(key_cmp(&ki, &kd), sgn(qf_compare(iv, dv)));
            free(ki.p);
            free(kd.p);
            doc_free(iv);
            doc_free(dv);
        }
    }
    doc_free(v);
    free(a.p);
    free(b.p);
    free(c.p);
    free(t.p);
    free(s.p);
    free(n1.p);
    free(n2.p);
}

/* Arbitrary bytes: skip and decode never read out of bounds (ASan) and
 * agree with each other. */
static void test_garbage(void **state)
{
    (void)state;
    tu_rng_seed(&rng, tu_seed("test_keyenc garbage"));
    static const uint8_t tags[] = {0x00, 0x01, 0x05, 0x10, 0x11, 0x20, 0x30, 0x40,
                                   0x50, 0x60, 0x70, 0x80, 0x90, 0xff, 0x33};
    for (int it = 0; it < 20000; it++) {
        size_t n = rnd(24);
        uint8_t *p = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            p[i] = rnd(2) ? tags[rnd(sizeof tags)] : (uint8_t)rnd(256);
        int desc = (int)rnd(2);
        size_t s = keyenc_skip(p, n, desc);
        assert_true(s <= n);
        DocValue *v = NULL;
        size_t used = 0;
        int rc = keyenc_decode(p, n, desc, &v, &used);
        if (s == 0)
            assert_int_not_equal(rc, BLAZEDB_OK);
        if (rc == BLAZEDB_OK)
            assert_int_equal(used, s);
        doc_free(v);
        free(p);
    }
    /* deep nesting is refused, not followed */
    size_t n = 5000;
    uint8_t *p = malloc(n);
    memset(p, 0x70, n);
    assert_int_equal(keyenc_skip(p, n, 0), 0);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_random_pairs),
        cmocka_unit_test(test_compound),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
