/*
 * sqlvalue.c — SqlValue (query/sql.h): clearing, deep copies, conversion
 * from binary views and DocValue trees and back, the total order and a
 * hash consistent with it.
 *
 * Owns: the value representation used during SQL evaluation.  The order is
 * query/filter.c's qf_compare, re-implemented over SqlValues and encoded
 * composites (arrays, objects, vectors are compared element by element
 * straight from their encoding, without building trees).
 */
#include "sql.h"
#include "filter.h"

#include <stdlib.h>
#include <string.h>

void sql_value_clear(SqlValue *v)
{
    if (v->owned)
        free((void *)v->s);
    memset(v, 0, sizeof *v);
    v->type = DOC_NULL;
}

static int has_bytes(uint8_t t)
{
    return t == DOC_STRING || t == DOC_BYTES || t == DOC_UUID || t == DOC_ARRAY ||
           t == DOC_OBJECT || t == DOC_VECTOR;
}

int sql_value_copy(SqlValue *dst, const SqlValue *src)
{
    SqlValue t = *src;
    t.owned = 0;
    if (has_bytes(src->type)) {
        char *p = malloc(src->len ? src->len : 1);
        if (!p) {
            memset(dst, 0, sizeof *dst);
            dst->type = DOC_NULL;
            return BLAZEDB_NOMEM;
        }
        if (src->len)
            memcpy(p, src->s, src->len);
        t.s = p;
        t.owned = 1;
    }
    if (t.type == DOC_MISSING)
        t.type = DOC_NULL;
    *dst = t;
    return BLAZEDB_OK;
}

void sql_value_from_view(const DocView *v, SqlValue *out)
{
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    if (!v)
        return;
    switch (v->type) {
    case DOC_BOOL: out->type = DOC_BOOL; out->i = v->b != 0; break;
    case DOC_INT:
    case DOC_DATE: out->type = (uint8_t)v->type; out->i = v->i; break;
    case DOC_DOUBLE: out->type = DOC_DOUBLE; out->d = v->d; break;
    case DOC_STRING:
    case DOC_BYTES:
    case DOC_UUID:
        out->type = (uint8_t)v->type;
        out->s = (const char *)v->data;
        out->len = v->dlen;
        break;
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR:
        out->type = (uint8_t)v->type;
        out->s = (const char *)v->p;
        out->len = v->len;
        break;
    default: break; /* MISSING, NULL */
    }
}

static int own_copy(SqlValue *out, uint8_t type, const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        return BLAZEDB_NOMEM;
    if (n)
        memcpy(c, p, n);
    out->type = type;
    out->s = c;
    out->len = n;
    out->owned = 1;
    return BLAZEDB_OK;
}

int sql_value_from_doc(const DocValue *v, SqlValue *out)
{
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    if (!v)
        return BLAZEDB_OK;
    switch (v->type) {
    case DOC_BOOL: out->type = DOC_BOOL; out->i = v->u.b != 0; return BLAZEDB_OK;
    case DOC_INT:
    case DOC_DATE: out->type = v->type; out->i = v->u.i; return BLAZEDB_OK;
    case DOC_DOUBLE: out->type = DOC_DOUBLE; out->d = v->u.d; return BLAZEDB_OK;
    case DOC_STRING:
    case DOC_BYTES: return own_copy(out, v->type, v->u.s.p, v->u.s.len);
    case DOC_UUID: return own_copy(out, DOC_UUID, v->u.uuid, 16);
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: {
        uint8_t *e;
        size_t n;
        char err[DOC_ERRMAX];
        BlazeDBResult rc = docbin_encode(v, &e, &n, err);
        if (rc != BLAZEDB_OK)
            return rc;
        out->type = v->type;
        out->s = (const char *)e;
        out->len = n;
        out->owned = 1;
        return BLAZEDB_OK;
    }
    default: return BLAZEDB_OK;
    }
}

int sql_value_to_doc(const SqlValue *v, DocValue **out)
{
    DocValue *d = NULL;
    *out = NULL;
    switch (v->type) {
    case DOC_BOOL: d = doc_new_bool(v->i != 0); break;
    case DOC_INT: d = doc_new_int(v->i); break;
    case DOC_DATE: d = doc_new_date(v->i); break;
    case DOC_DOUBLE: d = doc_new_double(v->d); break;
    case DOC_STRING: d = doc_new_string(v->s, v->len); break;
    case DOC_BYTES: d = doc_new_bytes(v->s, v->len); break;
    case DOC_UUID:
        if (v->len != 16)
            return BLAZEDB_INVALID_ARGUMENT;
        d = doc_new_uuid((const uint8_t *)v->s);
        break;
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: {
        char err[DOC_ERRMAX];
        return docbin_decode((const uint8_t *)v->s, v->len, out, err);
    }
    default: d = doc_new(DOC_NULL); break;
    }
    if (!d)
        return BLAZEDB_NOMEM;
    *out = d;
    return BLAZEDB_OK;
}

/* ---- order -------------------------------------------------------------------- */

static int rank(int t) { return qf_type_rank(t); }

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int is_nan(double d) { return d != d; }

static int cmp_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int cmp_view(const DocView *a, const DocView *b);

/* Root view of an encoded composite; on damage a NULL view. */
static void enc_view(const SqlValue *v, DocView *out)
{
    if (docbin_lookup_valid((const uint8_t *)v->s, v->len, "", out) != BLAZEDB_OK) {
        memset(out, 0, sizeof *out);
        out->type = DOC_NULL;
    }
}

static int cmp_composite(const DocView *a, const DocView *b)
{
    switch (a->type) {
    case DOC_ARRAY: {
        size_t n = a->count < b->count ? a->count : b->count;
        for (size_t i = 0; i < n; i++) {
            DocView ea, eb;
            if (docbin_view_elem(a, i, &ea) != BLAZEDB_OK ||
                docbin_view_elem(b, i, &eb) != BLAZEDB_OK)
                return cmp_bytes(a->p, a->len, b->p, b->len);
            int c = cmp_view(&ea, &eb);
            if (c)
                return c;
        }
        return a->count < b->count ? -1 : a->count > b->count;
    }
    case DOC_OBJECT: {
        size_t n = a->count < b->count ? a->count : b->count;
        for (size_t i = 0; i < n; i++) {
            DocView ea, eb;
            const uint8_t *na, *nb;
            size_t la, lb;
            if (docbin_view_field(a, i, &na, &la, &ea) != BLAZEDB_OK ||
                docbin_view_field(b, i, &nb, &lb, &eb) != BLAZEDB_OK)
                return cmp_bytes(a->p, a->len, b->p, b->len);
            int c = cmp_bytes(na, la, nb, lb);
            if (c)
                return c;
            if ((c = cmp_view(&ea, &eb)))
                return c;
        }
        return a->count < b->count ? -1 : a->count > b->count;
    }
    case DOC_VECTOR: {
        size_t na = a->dlen / 4, nb = b->dlen / 4;
        size_t n = na < nb ? na : nb;
        for (size_t i = 0; i < n; i++) {
            int c = qf_cmp_double(get_f32(a->data + 4 * i), get_f32(b->data + 4 * i));
            if (c)
                return c;
        }
        return na < nb ? -1 : na > nb;
    }
    default: return 0;
    }
}

static int cmp_view(const DocView *a, const DocView *b)
{
    SqlValue x, y;
    int ta = a->type, tb = b->type;
    int ra = rank(ta), rb = rank(tb);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ta == DOC_ARRAY || ta == DOC_OBJECT || ta == DOC_VECTOR)
        return cmp_composite(a, b);
    sql_value_from_view(a, &x);
    sql_value_from_view(b, &y);
    return sql_value_cmp(&x, &y);
}

int sql_value_cmp(const SqlValue *a, const SqlValue *b)
{
    int ra = rank(a->type), rb = rank(b->type);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (a->type) {
    case DOC_BOOL: return (a->i != 0) - (b->i != 0);
    case DOC_INT:
        if (b->type == DOC_INT)
            return cmp_i64(a->i, b->i);
        return qf_cmp_int_double(a->i, b->d);
    case DOC_DOUBLE:
        if (b->type == DOC_INT)
            return -qf_cmp_int_double(b->i, a->d);
        return qf_cmp_double(a->d, b->d);
    case DOC_DATE: return cmp_i64(a->i, b->i);
    case DOC_STRING:
    case DOC_BYTES:
    case DOC_UUID: return cmp_bytes(a->s, a->len, b->s, b->len);
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: {
        DocView va, vb;
        enc_view(a, &va);
        enc_view(b, &vb);
        if (va.type != a->type || vb.type != b->type)
            return cmp_bytes(a->s, a->len, b->s, b->len);
        return cmp_composite(&va, &vb);
    }
    default: return 0;
    }
}

/* ---- hash --------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    h ^= 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return mix(h ^ n);
}

/* Numbers equal under the order hash alike: integral doubles in the int64
 * range hash as that int; every NaN is one value. */
static uint64_t hash_double(double d)
{
    if (is_nan(d))
        return mix(0x7ff8000000000000ull ^ 2);
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        int64_t i = (int64_t)d;
        if ((double)i == d)
            return mix((uint64_t)i ^ 2);
    }
    uint64_t u;
    memcpy(&u, &d, 8);
    return mix(u ^ 2);
}

static uint64_t hash_view(const DocView *v);

static uint64_t hash_scalar(const SqlValue *v)
{
    switch (v->type) {
    case DOC_BOOL: return mix((uint64_t)(v->i != 0) ^ 1);
    case DOC_INT: return mix((uint64_t)v->i ^ 2);
    case DOC_DOUBLE: return hash_double(v->d);
    case DOC_DATE: return mix((uint64_t)v->i ^ 3);
    case DOC_STRING:
    case DOC_BYTES:
    case DOC_UUID: return hash_bytes((uint64_t)rank(v->type), v->s, v->len);
    default: return 0x9e3779b97f4a7c15ull;
    }
}

static uint64_t hash_view(const DocView *v)
{
    uint64_t h = mix((uint64_t)rank(v->type) * 0x9e3779b97f4a7c15ull + v->count);
    switch (v->type) {
    case DOC_ARRAY:
        for (size_t i = 0; i < v->count; i++) {
            DocView e;
            if (docbin_view_elem(v, i, &e) != BLAZEDB_OK)
                break;
            h = mix(h * 31 + hash_view(&e));
        }
        return h;
    case DOC_OBJECT:
        for (size_t i = 0; i < v->count; i++) {
            DocView e;
            const uint8_t *nm;
            size_t nl;
            if (docbin_view_field(v, i, &nm, &nl, &e) != BLAZEDB_OK)
                break;
            h = mix(h * 31 + hash_bytes(4, nm, nl));
            h = mix(h * 31 + hash_view(&e));
        }
        return h;
    case DOC_VECTOR:
        for (size_t i = 0; i + 4 <= v->dlen; i += 4) {
            float f = get_f32(v->data + i);
            h = mix(h * 31 + hash_double(f == 0 ? 0.0 : (double)f));
        }
        return h;
    default: {
        SqlValue x;
        sql_value_from_view(v, &x);
        return hash_scalar(&x);
    }
    }
}

uint64_t sql_value_hash(const SqlValue *v)
{
    if (v->type == DOC_ARRAY || v->type == DOC_OBJECT || v->type == DOC_VECTOR) {
        DocView dv;
        enc_view(v, &dv);
        if (dv.type != v->type)
            return hash_bytes(9, v->s, v->len);
        return hash_view(&dv);
    }
    return hash_scalar(v);
}
