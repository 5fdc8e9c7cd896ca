/*
 * keyenc.c — the order-preserving key encoding of index components (format:
 * keyenc.h, docs/FILE_FORMAT.md "Index keys").
 *
 * Owns: value -> bytes whose memcmp order is qf_compare's order, and back.
 * Not: which values an index holds (index.c).
 *
 * Why it works: every component starts with a tag byte in type-rank order,
 * and within a type the payload is either fixed-width big-endian with the
 * order folded into the bits (numbers, dates, uuids, floats) or a sequence
 * closed by a terminator that sorts below anything that could continue it
 * (strings escape 00 as 00 FF and end with 00 00; containers end with 00,
 * below every tag and below the 01 that opens an object field or vector
 * element).  So no encoding is a proper prefix of another, and concatenated
 * components compare component by component.  Descending components invert
 * every byte, which reverses the order and keeps the prefix property.
 *
 * No libm: "largest double <= an int64" is computed with integer compares
 * and a one-ulp step on the bit pattern.
 */
#include "keyenc.h"

#include <stdlib.h>
#include <string.h>

#include "blazedb.h"

#define T_NULL 0x05
#define T_FALSE 0x10
#define T_TRUE 0x11
#define T_NUM 0x20
#define T_DATE 0x30
#define T_STRING 0x40
#define T_BYTES 0x50
#define T_UUID 0x60
#define T_ARRAY 0x70
#define T_OBJECT 0x80
#define T_VECTOR 0x90

/* Deepest nesting keyenc_skip/decode accept (views and trees are already
 * limited to DOC_MAX_DEPTH). */
#define KEY_MAX_DEPTH (DOC_MAX_DEPTH + 1)

/* ---- buffer --------------------------------------------------------------------- */

static int reserve(KeyBuf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return BLAZEDB_OK;
    if (n > SIZE_MAX / 2 - b->len)
        return BLAZEDB_NOMEM;
    size_t nc = b->cap ? b->cap : 64;
    while (nc - b->len < n)
        nc *= 2;
    uint8_t *np = realloc(b->p, nc);
    if (!np)
        return BLAZEDB_NOMEM;
    b->p = np;
    b->cap = nc;
    return BLAZEDB_OK;
}

int keybuf_put(KeyBuf *b, const void *p, size_t n)
{
    if (n == 0)
        return BLAZEDB_OK;
    int rc = reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return BLAZEDB_OK;
}

static int put1(KeyBuf *b, uint8_t c)
{
    return keybuf_put(b, &c, 1);
}

static int put_be(KeyBuf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return keybuf_put(b, t, (size_t)n);
}

/* s[0..n) with every 00 written 00 FF, then 00 00. */
static int put_escaped(KeyBuf *b, const uint8_t *s, size_t n)
{
    int rc;
    while (n) {
        const uint8_t *z = memchr(s, 0, n);
        size_t run = z ? (size_t)(z - s) : n;
        if ((rc = keybuf_put(b, s, run)))
            return rc;
        s += run;
        n -= run;
        if (z) {
            static const uint8_t esc[2] = {0x00, 0xff};
            if ((rc = keybuf_put(b, esc, 2)))
                return rc;
            s++;
            n--;
        }
    }
    static const uint8_t end[2] = {0, 0};
    return keybuf_put(b, end, 2);
}

static void invert(KeyBuf *b, size_t from)
{
    for (size_t i = from; i < b->len; i++)
        b->p[i] ^= 0xff;
}

/* ---- numbers ---------------------------------------------------------------------- */

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* The order-preserving form of a double: NaN 0, -0.0 as 0.0, positives
 * with the sign bit flipped, negatives with every bit inverted. */
static uint64_t dkey(double d)
{
    if (d != d)
        return 0;
    if (d == 0)
        d = 0.0;
    uint64_t u = dbits(d);
    return (u >> 63) ? ~u : u ^ (1ull << 63);
}

static double dkey_inv(uint64_t k)
{
    if (k == 0)
        return bitsd(DOC_CANON_NAN_BITS);
    return bitsd((k >> 63) ? k ^ (1ull << 63) : ~k);
}

/* The largest double <= i, and i minus it (0..2047). */
static double i64_floor(int64_t i, uint16_t *rem)
{
    double d = (double)i; /* rounds to a neighbour of i */
    int above;
    if (d >= 9223372036854775808.0)
        above = 1;
    else
        above = (int64_t)d > i;
    if (above) {
        /* one step toward -inf; d is far from 0 here (|i| > 2^53) */
        uint64_t u = dbits(d);
        d = bitsd(d > 0 ? u - 1 : u + 1);
    }
    *rem = (uint16_t)((uint64_t)i - (uint64_t)(int64_t)d);
    return d;
}

static int put_num(KeyBuf *b, uint64_t k, uint16_t rem)
{
    int rc = put1(b, T_NUM);
    if (!rc)
        rc = put_be(b, k, 8);
    if (!rc)
        rc = put_be(b, rem, 2);
    return rc;
}

static int enc_int(KeyBuf *b, int64_t i)
{
    uint16_t rem;
    double d = i64_floor(i, &rem);
    return put_num(b, dkey(d), rem);
}

static int enc_double(KeyBuf *b, double d)
{
    return put_num(b, dkey(d), 0);
}

static uint32_t fkey(float f)
{
    if (f != f)
        return 0;
    if (f == 0)
        f = 0.0f;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u >> 31) ? ~u : u ^ 0x80000000u;
}

static float fkey_inv(uint32_t k)
{
    uint32_t u = k == 0 ? 0x7fc00000u : (k >> 31) ? k ^ 0x80000000u : ~k;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A vector of n float32 stored little-endian at le. */
static int enc_vector(KeyBuf *b, size_t n, const uint8_t *le)
{
    int rc = put1(b, T_VECTOR);
    for (size_t i = 0; !rc && i < n; i++) {
        uint32_t u = (uint32_t)le[4 * i] | (uint32_t)le[4 * i + 1] << 8 |
                     (uint32_t)le[4 * i + 2] << 16 | (uint32_t)le[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        if (!(rc = put1(b, 0x01)))
            rc = put_be(b, fkey(f), 4);
    }
    return rc ? rc : put1(b, 0x00);
}

/* ---- encoding ---------------------------------------------------------------------- */

static int enc_view(KeyBuf *b, const DocView *v, int depth)
{
    int rc;
    if (!v)
        return put1(b, T_NULL);
    if (depth > KEY_MAX_DEPTH)
        return BLAZEDB_CORRUPT;
    switch (v->type) {
    case DOC_NULL:
    case DOC_MISSING:
        return put1(b, T_NULL);
    case DOC_BOOL:
        return put1(b, v->b ? T_TRUE : T_FALSE);
    case DOC_INT:
        return enc_int(b, v->i);
    case DOC_DOUBLE:
        return enc_double(b, v->d);
    case DOC_DATE:
        if ((rc = put1(b, T_DATE)))
            return rc;
        return put_be(b, (uint64_t)v->i ^ (1ull << 63), 8);
    case DOC_STRING:
    case DOC_BYTES:
        if ((rc = put1(b, v->type == DOC_STRING ? T_STRING : T_BYTES)))
            return rc;
        return put_escaped(b, v->data, v->dlen);
    case DOC_UUID:
        if (v->dlen != 16)
            return BLAZEDB_CORRUPT;
        if ((rc = put1(b, T_UUID)))
            return rc;
        return keybuf_put(b, v->data, 16);
    case DOC_VECTOR:
        if (v->dlen != v->count * 4)
            return BLAZEDB_CORRUPT;
        return enc_vector(b, v->count, v->data);
    case DOC_ARRAY:
        if ((rc = put1(b, T_ARRAY)))
            return rc;
        for (size_t i = 0; i < v->count; i++) {
            DocView e;
            if ((rc = docbin_view_elem(v, i, &e)))
                return rc == BLAZEDB_NOMEM ? rc : BLAZEDB_CORRUPT;
            if ((rc = enc_view(b, &e, depth + 1)))
                return rc;
        }
        return put1(b, 0x00);
    case DOC_OBJECT:
        if ((rc = put1(b, T_OBJECT)))
            return rc;
        for (size_t i = 0; i < v->count; i++) {
            DocView e;
            const uint8_t *name;
            size_t nlen;
            if ((rc = docbin_view_field(v, i, &name, &nlen, &e)))
                return rc == BLAZEDB_NOMEM ? rc : BLAZEDB_CORRUPT;
            if ((rc = put1(b, 0x01)) || (rc = put_escaped(b, name, nlen)) ||
                (rc = enc_view(b, &e, depth + 1)))
                return rc;
        }
        return put1(b, 0x00);
    default:
        return BLAZEDB_CORRUPT;
    }
}

int keyenc_view(KeyBuf *b, const DocView *v, int desc)
{
    size_t start = b->len;
    int rc = enc_view(b, v, 1);
    if (rc) {
        b->len = start;
        return rc;
    }
    if (desc)
        invert(b, start);
    return BLAZEDB_OK;
}

/* A tree is encoded through its binary form, so that one encoder
 * (enc_view) defines the key of every value. */
int keyenc_value(KeyBuf *b, const DocValue *v, int desc)
{
    if (!v)
        return keyenc_view(b, NULL, desc);
    uint8_t *bin = NULL;
    size_t len = 0;
    char err[DOC_ERRMAX];
    int rc = docbin_encode(v, &bin, &len, err);
    if (rc)
        return rc == BLAZEDB_NOMEM ? rc : BLAZEDB_INVALID_ARGUMENT;
    DocView view;
    rc = docbin_lookup_valid(bin, len, "", &view);
    if (rc == BLAZEDB_OK)
        rc = keyenc_view(b, &view, desc);
    free(bin);
    return rc;
}

int keyenc_null(KeyBuf *b, int desc)
{
    return put1(b, desc ? T_NULL ^ 0xff : T_NULL);
}

int keyenc_int(KeyBuf *b, int64_t i, int desc)
{
    size_t start = b->len;
    int rc = enc_int(b, i);
    if (!rc && desc)
        invert(b, start);
    return rc;
}

int keyenc_double(KeyBuf *b, double d, int desc)
{
    size_t start = b->len;
    int rc = enc_double(b, d);
    if (!rc && desc)
        invert(b, start);
    return rc;
}

/* ---- reading ----------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len;
    uint8_t x;     /* 0xff for a descending component */
} Rd;

static uint8_t at(const Rd *r, size_t i) { return r->p[i] ^ r->x; }

/* Length of an escaped string payload starting at `off` (terminator
 * included), or 0.  With `out`, the unescaped bytes are appended. */
static size_t str_len(const Rd *r, size_t off, KeyBuf *out, int *nomem)
{
    size_t i = off;
    for (;;) {
        if (i >= r->len)
            return 0;
        uint8_t c = at(r, i);
        if (c != 0) {
            if (out && put1(out, c)) {
                *nomem = 1;
                return 0;
            }
            i++;
            continue;
        }
        if (i + 1 >= r->len)
            return 0;
        uint8_t n = at(r, i + 1);
        if (n == 0)
            return i + 2 - off;
        if (n != 0xff)
            return 0;
        if (out && put1(out, 0)) {
            *nomem = 1;
            return 0;
        }
        i += 2;
    }
}

static size_t skip_at(const Rd *r, size_t off, int depth)
{
    if (off >= r->len || depth > KEY_MAX_DEPTH)
        return 0;
    size_t rest = r->len - off, n;
    switch (at(r, off)) {
    case T_NULL:
    case T_FALSE:
    case T_TRUE:
        return 1;
    case T_NUM:
        return rest >= 11 ? 11 : 0;
    case T_DATE:
        return rest >= 9 ? 9 : 0;
    case T_UUID:
        return rest >= 17 ? 17 : 0;
    case T_STRING:
    case T_BYTES:
        n = str_len(r, off + 1, NULL, NULL);
        return n ? 1 + n : 0;
    case T_ARRAY: {
        size_t i = off + 1;
        for (;;) {
            if (i >= r->len)
                return 0;
            if (at(r, i) == 0)
                return i + 1 - off;
            if (!(n = skip_at(r, i, depth + 1)))
                return 0;
            i += n;
        }
    }
    case T_OBJECT: {
        size_t i = off + 1;
        for (;;) {
            if (i >= r->len)
                return 0;
            uint8_t c = at(r, i);
            if (c == 0)
                return i + 1 - off;
            if (c != 0x01 || !(n = str_len(r, i + 1, NULL, NULL)))
                return 0;
            i += 1 + n;
            if (!(n = skip_at(r, i, depth + 1)))
                return 0;
            i += n;
        }
    }
    case T_VECTOR: {
        size_t i = off + 1;
        for (;;) {
            if (i >= r->len)
                return 0;
            uint8_t c = at(r, i);
            if (c == 0)
                return i + 1 - off;
            if (c != 0x01 || r->len - i < 5)
                return 0;
            i += 5;
        }
    }
    default:
        return 0;
    }
}

size_t keyenc_skip(const uint8_t *p, size_t len, int desc)
{
    Rd r = {p, len, desc ? 0xff : 0};
    return skip_at(&r, 0, 1);
}

static uint64_t be_at(const Rd *r, size_t off, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | at(r, off + (size_t)i);
    return v;
}

static DocValue *dec_number(uint64_t k, uint16_t rem)
{
    double d = dkey_inv(k);
    if (rem) /* only ints carry a remainder; d is integral and in range */
        return doc_new_int((int64_t)((uint64_t)(int64_t)d + rem));
    if (d == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
        (double)(int64_t)d == d)
        return doc_new_int((int64_t)d);
    return doc_new_double(d);
}

/* Decodes the component at off (already checked by skip_at). */
static int dec_at(const Rd *r, size_t off, DocValue **out, size_t *used, int depth)
{
    size_t n = skip_at(r, off, depth);
    if (!n)
        return BLAZEDB_CORRUPT;
    DocValue *v = NULL;
    int rc = BLAZEDB_OK, nomem = 0;
    uint8_t tag = at(r, off);
    switch (tag) {
    case T_NULL: v = doc_new(DOC_NULL); break;
    case T_FALSE: v = doc_new_bool(0); break;
    case T_TRUE: v = doc_new_bool(1); break;
    case T_NUM: {
        uint64_t k = be_at(r, off + 1, 8);
        uint16_t rem = (uint16_t)be_at(r, off + 9, 2);
        v = dec_number(k, rem);
        break;
    }
    case T_DATE: v = doc_new_date((int64_t)(be_at(r, off + 1, 8) ^ (1ull << 63))); break;
    case T_UUID: {
        uint8_t u[16];
        for (int i = 0; i < 16; i++)
            u[i] = at(r, off + 1 + (size_t)i);
        v = doc_new_uuid(u);
        break;
    }
    case T_STRING:
    case T_BYTES: {
        KeyBuf s = {0};
        str_len(r, off + 1, &s, &nomem);
        if (!nomem)
            v = tag == T_STRING ? doc_new_string(s.p ? (const char *)s.p : "", s.len)
                                : doc_new_bytes(s.p, s.len);
        if (v && tag == T_STRING && !doc_utf8_valid((const uint8_t *)v->u.s.p, v->u.s.len)) {
            doc_free(v);
            free(s.p);
            return BLAZEDB_CORRUPT;
        }
        free(s.p);
        break;
    }
    case T_VECTOR: {
        size_t cnt = (n - 2) / 5;
        float *f = cnt ? malloc(cnt * sizeof *f) : NULL;
        if (cnt && !f)
            break;
        for (size_t i = 0; i < cnt; i++)
            f[i] = fkey_inv((uint32_t)be_at(r, off + 2 + 5 * i, 4));
        v = doc_new_vector(f, cnt);
        free(f);
        break;
    }
    case T_ARRAY: {
        if (!(v = doc_new(DOC_ARRAY)))
            break;
        size_t i = off + 1;
        while (at(r, i) != 0) {
            DocValue *e;
            size_t u;
            if ((rc = dec_at(r, i, &e, &u, depth + 1)) || (rc = doc_arr_push(v, e))) {
                doc_free(v);
                return rc;
            }
            i += u;
        }
        break;
    }
    case T_OBJECT: {
        if (!(v = doc_new(DOC_OBJECT)))
            break;
        size_t i = off + 1;
        while (at(r, i) != 0) {
            KeyBuf name = {0};
            size_t nl = str_len(r, i + 1, &name, &nomem);
            DocValue *e = NULL;
            size_t u = 0;
            if (nomem)
                rc = BLAZEDB_NOMEM;
            else if (!doc_name_valid(name.p ? (const char *)name.p : "", name.len))
                rc = BLAZEDB_CORRUPT;
            if (!rc)
                rc = dec_at(r, i + 1 + nl, &e, &u, depth + 1);
            if (!rc)
                rc = doc_obj_put(v, name.p ? (const char *)name.p : "", name.len, e);
            free(name.p);
            if (rc) {
                doc_free(v);
                return rc;
            }
            i += 1 + nl + u;
        }
        break;
    }
    default:
        return BLAZEDB_CORRUPT;
    }
    if (!v)
        return BLAZEDB_NOMEM;
    *out = v;
    *used = n;
    return rc;
}

int keyenc_decode(const uint8_t *p, size_t len, int desc, DocValue **out, size_t *used)
{
    Rd r = {p, len, desc ? 0xff : 0};
    size_t u = 0;
    *out = NULL;
    int rc = dec_at(&r, 0, out, &u, 1);
    if (rc == BLAZEDB_OK && used)
        *used = u;
    return rc;
}
