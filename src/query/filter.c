/*
 * filter.c — the total order over document values and predicate tests
 * (semantics: filter.h).
 */
#include "filter.h"

#include <math.h>
#include <string.h>

int qf_type_rank(int doc_type)
{
    switch (doc_type) {
    case DOC_BOOL: return 1;
    case DOC_INT:
    case DOC_DOUBLE: return 2;
    case DOC_DATE: return 3;
    case DOC_STRING: return 4;
    case DOC_BYTES: return 5;
    case DOC_UUID: return 6;
    case DOC_ARRAY: return 7;
    case DOC_OBJECT: return 8;
    case DOC_VECTOR: return 9;
    default: return 0; /* missing, null */
    }
}

static int rank(const DocValue *v) { return v ? qf_type_rank(v->type) : 0; }

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

/* int against double, exactly (no rounding of large ints). */
int qf_cmp_int_double(int64_t i, double d)
{
    if (isnan(d))
        return 1; /* NaN is below every number */
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    /* the cast truncates toward zero; |d| >= 2^53 is an integer already,
     * so (double)di is exact either way */
    int64_t di = (int64_t)d;
    if (i != di)
        return i < di ? -1 : 1;
    double t = (double)di;
    return t == d ? 0 : (d > t ? -1 : 1);
}

int qf_cmp_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : isnan(a) ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

int qf_compare(const DocValue *a, const DocValue *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 0)
        return 0;
    switch (a->type) {
    case DOC_BOOL:
        return (a->u.b != 0) - (b->u.b != 0);
    case DOC_INT:
        if (b->type == DOC_INT)
            return cmp_i64(a->u.i, b->u.i);
        return qf_cmp_int_double(a->u.i, b->u.d);
    case DOC_DOUBLE:
        if (b->type == DOC_INT)
            return -qf_cmp_int_double(b->u.i, a->u.d);
        return qf_cmp_double(a->u.d, b->u.d);
    case DOC_DATE:
        return cmp_i64(a->u.i, b->u.i);
    case DOC_STRING:
    case DOC_BYTES:
        return cmp_bytes(a->u.s.p, a->u.s.len, b->u.s.p, b->u.s.len);
    case DOC_UUID: {
        int c = memcmp(a->u.uuid, b->u.uuid, 16);
        return c < 0 ? -1 : c > 0;
    }
    case DOC_ARRAY: {
        size_t n = a->u.a.n < b->u.a.n ? a->u.a.n : b->u.a.n;
        for (size_t i = 0; i < n; i++) {
            int c = qf_compare(a->u.a.v[i], b->u.a.v[i]);
            if (c)
                return c;
        }
        return a->u.a.n < b->u.a.n ? -1 : a->u.a.n > b->u.a.n;
    }
    case DOC_OBJECT: {
        size_t n = a->u.o.n < b->u.o.n ? a->u.o.n : b->u.o.n;
        for (size_t i = 0; i < n; i++) {
            const DocField *fa = &a->u.o.f[i], *fb = &b->u.o.f[i];
            int c = doc_name_cmp(fa->name, fa->nlen, fb->name, fb->nlen);
            if (c)
                return c < 0 ? -1 : 1;
            if ((c = qf_compare(fa->val, fb->val)))
                return c;
        }
        return a->u.o.n < b->u.o.n ? -1 : a->u.o.n > b->u.o.n;
    }
    case DOC_VECTOR: {
        size_t n = a->u.vec.n < b->u.vec.n ? a->u.vec.n : b->u.vec.n;
        for (size_t i = 0; i < n; i++) {
            int c = qf_cmp_double(a->u.vec.v[i], b->u.vec.v[i]);
            if (c)
                return c;
        }
        return a->u.vec.n < b->u.vec.n ? -1 : a->u.vec.n > b->u.vec.n;
    }
    default:
        return 0;
    }
}

int qf_test(const DocValue *field, QfOp op, const DocValue *constant)
{
    int is_null = !field || field->type == DOC_NULL;
    if (op == QF_IS_NULL)
        return is_null;
    if (op == QF_IS_NOT_NULL)
        return !is_null;
    if (is_null || !constant || constant->type == DOC_NULL)
        return 0; /* unknown */
    int c = qf_compare(field, constant);
    switch (op) {
    case QF_EQ: return c == 0;
    case QF_NE: return c != 0;
    case QF_LT: return c < 0;
    case QF_LE: return c <= 0;
    case QF_GT: return c > 0;
    case QF_GE: return c >= 0;
    default: return 0;
    }
}
