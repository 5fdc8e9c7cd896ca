/*
 * sqleval.c — evaluating SQL expressions (query/sql.h): operators with
 * SQLite's semantics (three-valued logic, integer arithmetic that turns
 * into floating point on overflow, numbers printed as SQLite prints them),
 * LIKE, IN, CASE, CONTAINS, the scalar functions and the aggregate
 * accumulators.
 *
 * Owns: what an expression means once its columns have values.  Not:
 * where the values come from (the executor's column callback), parsing.
 *
 * Deliberate differences from SQLite (docs/SQL.md):
 *   - division or modulo by zero is an error, not NULL;
 *   - arithmetic (and sum/avg/total, abs, round) on strings, bytes, dates,
 *     uuids, arrays, objects or vectors is an error, not a conversion;
 *   - TRUE and FALSE are bool values: in arithmetic and aggregates they
 *     count as 1 and 0, as text they read "true"/"false", and in
 *     comparisons they order before every number (so TRUE = 1 is false);
 *     comparisons, AND/OR/NOT, IS, IN, LIKE, BETWEEN and CONTAINS give the
 *     integers 1/0 as in SQLite;
 *   - a LIKE pattern ending in its ESCAPE character is an error.
 * Numbers as text follow SQLite 3.40's printf ("%!.15g": 1.0, 1.0e+20)
 * with the same long double digit loop, and round() uses SQLite's
 * "%.*f"-and-parse-back algorithm, so results agree to the bit.
 */
#include "sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../doc/json.h"

/* ---- errors ------------------------------------------------------------------- */

static int fail(SqlEvalCtx *cx, const SqlExpr *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(SqlEvalCtx *cx, const SqlExpr *e, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof cx->err, fmt, ap);
    va_end(ap);
    cx->epos = e ? e->pos : 0;
    return rc;
}

static int nomem(SqlEvalCtx *cx, const SqlExpr *e)
{
    return fail(cx, e, BLAZEDB_NOMEM, "out of memory");
}

static const char *type_name(int t)
{
    switch (t) {
    case DOC_BOOL: return "bool";
    case DOC_INT: return "int";
    case DOC_DOUBLE: return "double";
    case DOC_STRING: return "string";
    case DOC_BYTES: return "bytes";
    case DOC_UUID: return "uuid";
    case DOC_DATE: return "date";
    case DOC_ARRAY: return "array";
    case DOC_OBJECT: return "object";
    case DOC_VECTOR: return "vector";
    default: return "null";
    }
}

/* ---- small value helpers ------------------------------------------------------ */

static void set_null(SqlValue *v)
{
    memset(v, 0, sizeof *v);
    v->type = DOC_NULL;
}

static void set_int(SqlValue *v, int64_t i)
{
    set_null(v);
    v->type = DOC_INT;
    v->i = i;
}

static void set_double(SqlValue *v, double d)
{
    set_null(v);
    v->type = DOC_DOUBLE;
    v->d = d;
}

static void set_date(SqlValue *v, int64_t ms)
{
    set_null(v);
    v->type = DOC_DATE;
    v->i = ms;
}

/* Takes p (malloc'd) as the string's bytes. */
static void set_str_take(SqlValue *v, char *p, size_t n)
{
    set_null(v);
    v->type = DOC_STRING;
    v->s = p;
    v->len = n;
    v->owned = 1;
}

static int set_str_copy(SqlValue *v, const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        return 0;
    if (n)
        memcpy(c, p, n);
    set_str_take(v, c, n);
    return 1;
}

static void set_static_str(SqlValue *v, const char *s)
{
    set_null(v);
    v->type = DOC_STRING;
    v->s = s;
    v->len = strlen(s);
}

static int is_null(const SqlValue *v) { return v->type == DOC_NULL || v->type == DOC_MISSING; }
static int is_num(const SqlValue *v)
{
    return v->type == DOC_INT || v->type == DOC_DOUBLE || v->type == DOC_BOOL;
}
static int is_nan(double d) { return d != d; }

static double num_double(const SqlValue *v)
{
    return v->type == DOC_DOUBLE ? v->d : (double)v->i;
}

/* SQLite's doubleToInt64: saturating; NaN gives 0. */
static int64_t double_to_i64(double r)
{
    if (is_nan(r))
        return 0;
    if (r <= -9223372036854775808.0)
        return INT64_MIN;
    if (r >= 9223372036854775807.0)
        return INT64_MAX;
    return (int64_t)r;
}

/* sqlite3_value_int64 of a number. */
static int64_t num_i64(const SqlValue *v)
{
    return v->type == DOC_DOUBLE ? double_to_i64(v->d) : v->i;
}

/* ---- SQLite's printf of doubles ----------------------------------------------- */

typedef long double LD;

static char et_getdigit(LD *val, int *cnt)
{
    if (*cnt <= 0)
        return '0';
    (*cnt)--;
    int digit = (int)*val;
    LD d = digit;
    *val = (*val - d) * 10.0;
    return (char)('0' + digit);
}

/*
 * SQLite 3.40's printf conversion of a double: xtype 'g' ("%!.15g" when
 * altform2) or 'f' ("%.*f").  out must hold 400 bytes; returns the length.
 */
static size_t sqlite_fmt(char *out, double v, int xtype, int precision, int altform2)
{
    static const double arRound[] = {5.0e-01, 5.0e-02, 5.0e-03, 5.0e-04, 5.0e-05,
                                     5.0e-06, 5.0e-07, 5.0e-08, 5.0e-09, 5.0e-10};
    LD realvalue = v;
    char prefix = 0;
    char *b = out;
    int exp = 0, e2, nsd, flag_dp, flag_rtz;
    double rounder;
    if (realvalue < 0.0) {
        realvalue = -realvalue;
        prefix = '-';
    }
    if (xtype == 'g' && precision > 0)
        precision--;
    int idx = precision & 0xfff;
    rounder = arRound[idx % 10];
    while (idx >= 10) {
        rounder *= 1.0e-10;
        idx -= 10;
    }
    if (xtype == 'f') {
        double rx = (double)realvalue;
        uint64_t u;
        memcpy(&u, &rx, 8);
        int ex = -1023 + (int)((u >> 52) & 0x7ff);
        if (precision + (ex / 3) < 15)
            rounder += (double)(realvalue * 3e-16);
        realvalue += rounder;
    }
    if (is_nan((double)realvalue)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (realvalue > 0.0) {
        LD scale = 1.0;
        while (realvalue >= 1e100 * scale && exp <= 350) {
            scale *= 1e100;
            exp += 100;
        }
        while (realvalue >= 1e10 * scale && exp <= 350) {
            scale *= 1e10;
            exp += 10;
        }
        while (realvalue >= 10.0 * scale && exp <= 350) {
            scale *= 10.0;
            exp++;
        }
        realvalue /= scale;
        while (realvalue < 1e-8) {
            realvalue *= 1e8;
            exp -= 8;
        }
        while (realvalue < 1.0) {
            realvalue *= 10.0;
            exp--;
        }
        if (exp > 350) {
            if (prefix)
                *b++ = prefix;
            memcpy(b, "Inf", 4);
            return (size_t)(b - out) + 3;
        }
    }
    if (xtype != 'f') {
        realvalue += rounder;
        if (realvalue >= 10.0) {
            realvalue *= 0.1;
            exp++;
        }
    }
    if (xtype == 'g') {
        flag_rtz = 1; /* !flag_alternateform */
        if (exp < -4 || exp > precision) {
            xtype = 'e';
        } else {
            precision = precision - exp;
            xtype = 'f';
        }
    } else {
        flag_rtz = altform2;
    }
    e2 = xtype == 'e' ? 0 : exp;
    if (e2 + precision > 360) /* cannot happen for our callers; stay in bounds */
        precision = 360 - (e2 > 0 ? e2 : 0);
    nsd = 16 + altform2 * 10;
    flag_dp = (precision > 0 ? 1 : 0) | altform2;
    if (prefix)
        *b++ = prefix;
    if (e2 < 0) {
        *b++ = '0';
    } else {
        for (; e2 >= 0; e2--)
            *b++ = et_getdigit(&realvalue, &nsd);
    }
    if (flag_dp)
        *b++ = '.';
    for (e2++; e2 < 0; precision--, e2++)
        *b++ = '0';
    while ((precision--) > 0)
        *b++ = et_getdigit(&realvalue, &nsd);
    if (flag_rtz && flag_dp) {
        while (b[-1] == '0')
            *(--b) = 0;
        if (b[-1] == '.') {
            if (altform2)
                *b++ = '0';
            else
                *(--b) = 0;
        }
    }
    if (xtype == 'e') {
        *b++ = 'e';
        if (exp < 0) {
            *b++ = '-';
            exp = -exp;
        } else {
            *b++ = '+';
        }
        if (exp >= 100) {
            *b++ = (char)(exp / 100 + '0');
            exp %= 100;
        }
        *b++ = (char)(exp / 10 + '0');
        *b++ = (char)(exp % 10 + '0');
    }
    *b = 0;
    return (size_t)(b - out);
}

/* SQLite 3.40's sqlite3AtoF for the plain decimal text sqlite_fmt writes. */
static double sqlite_atof(const char *z, size_t n)
{
    const char *end = z + n;
    int sign = 1, esign = 1, e = 0, d = 0;
    uint64_t s = 0;
    const uint64_t lim = (uint64_t)((INT64_MAX - 9) / 10);
    while (z < end && *z == ' ')
        z++;
    if (z < end && *z == '-') {
        sign = -1;
        z++;
    } else if (z < end && *z == '+') {
        z++;
    }
    while (z < end && *z >= '0' && *z <= '9') {
        s = s * 10 + (uint64_t)(*z - '0');
        z++;
        if (s >= lim)
            while (z < end && *z >= '0' && *z <= '9') {
                z++;
                d++;
            }
    }
    if (z < end && *z == '.') {
        z++;
        while (z < end && *z >= '0' && *z <= '9') {
            if (s < lim) {
                s = s * 10 + (uint64_t)(*z - '0');
                d--;
            }
            z++;
        }
    }
    if (z < end && (*z == 'e' || *z == 'E')) {
        z++;
        if (z < end && *z == '-') {
            esign = -1;
            z++;
        } else if (z < end && *z == '+') {
            z++;
        }
        while (z < end && *z >= '0' && *z <= '9') {
            e = e < 10000 ? e * 10 + (*z - '0') : 10000;
            z++;
        }
    }
    e = e * esign + d;
    if (e < 0) {
        esign = -1;
        e = -e;
    } else {
        esign = 1;
    }
    double result;
    if (s == 0) {
        result = sign < 0 ? -0.0 : 0.0;
    } else {
        while (e > 0) {
            if (esign > 0) {
                if (s >= (uint64_t)(INT64_MAX / 10))
                    break;
                s *= 10;
            } else {
                if (s % 10 != 0)
                    break;
                s /= 10;
            }
            e--;
        }
        LD sv = sign < 0 ? -(LD)(int64_t)s : (LD)(int64_t)s;
        if (e == 0) {
            result = (double)sv;
        } else {
            LD scale = 1.0;
            if (e > 307) {
                if (e < 342) {
                    while (e % 308) {
                        scale *= 1.0e+1;
                        e -= 1;
                    }
                    if (esign < 0) {
                        result = (double)(sv / scale);
                        result /= 1.0e+308;
                    } else {
                        result = (double)(sv * scale);
                        result *= 1.0e+308;
                    }
                } else {
                    result = esign < 0 ? 0.0 * (double)sv : (sign < 0 ? -1e308 * 10 : 1e308 * 10);
                }
            } else {
                while (e % 22) {
                    scale *= 1.0e+1;
                    e -= 1;
                }
                while (e > 0) {
                    scale *= 1.0e+22;
                    e -= 22;
                }
                result = esign < 0 ? (double)(sv / scale) : (double)(sv * scale);
            }
        }
    }
    return result;
}

/* The numeric prefix of a text, as SQLite reads it when a string is used
 * as a number (leading spaces allowed, trailing garbage ignored). */
static double text_prefix_double(const char *z, size_t n)
{
    size_t i = 0;
    while (i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r' ||
                     z[i] == '\f' || z[i] == '\v'))
        i++;
    size_t j = i;
    if (j < n && (z[j] == '+' || z[j] == '-'))
        j++;
    while (j < n && z[j] >= '0' && z[j] <= '9')
        j++;
    if (j < n && z[j] == '.') {
        j++;
        while (j < n && z[j] >= '0' && z[j] <= '9')
            j++;
    }
    if (j < n && (z[j] == 'e' || z[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (z[k] == '+' || z[k] == '-'))
            k++;
        if (k < n && z[k] >= '0' && z[k] <= '9') {
            while (k < n && z[k] >= '0' && z[k] <= '9')
                k++;
            j = k;
        }
    }
    return sqlite_atof(z + i, j - i);
}

/* ---- text forms ----------------------------------------------------------------- */

/* A value's text: points into the value, into buf, or into heap (freed by
 * text_done). */
typedef struct {
    const char *p;
    size_t n;
    char buf[400];
    char *heap;
} Text;

static void text_done(Text *t)
{
    free(t->heap);
    t->heap = NULL;
}

static void uuid_text(const uint8_t *u, char out[37])
{
    static const char hx[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hx[u[i] >> 4];
        out[k++] = hx[u[i] & 15];
    }
    out[k] = 0;
}

/* Text of a non-null value; composites become JSON.  Bytes must be UTF-8. */
static int to_text(SqlEvalCtx *cx, const SqlExpr *e, const SqlValue *v, Text *t,
                   const char *what)
{
    t->heap = NULL;
    switch (v->type) {
    case DOC_STRING: t->p = v->s; t->n = v->len; return 0;
    case DOC_INT:
        t->n = (size_t)snprintf(t->buf, sizeof t->buf, "%lld", (long long)v->i);
        t->p = t->buf;
        return 0;
    case DOC_DOUBLE:
        t->n = sqlite_fmt(t->buf, v->d, 'g', 15, 1);
        t->p = t->buf;
        return 0;
    case DOC_BOOL:
        t->p = v->i ? "true" : "false";
        t->n = strlen(t->p);
        return 0;
    case DOC_DATE:
        if (!doc_date_format(v->i, t->buf))
            snprintf(t->buf, sizeof t->buf, "%lld", (long long)v->i);
        t->p = t->buf;
        t->n = strlen(t->buf);
        return 0;
    case DOC_UUID:
        if (v->len != 16)
            break;
        uuid_text((const uint8_t *)v->s, t->buf);
        t->p = t->buf;
        t->n = 36;
        return 0;
    case DOC_BYTES:
        if (!doc_utf8_valid((const uint8_t *)v->s, v->len))
            break;
        t->p = v->s;
        t->n = v->len;
        return 0;
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: {
        char derr[DOC_ERRMAX];
        size_t n;
        int rc = doc_bin_to_json((const uint8_t *)v->s, v->len, 0, &t->heap, &n, derr);
        if (rc != BLAZEDB_OK)
            return rc == BLAZEDB_NOMEM ? nomem(cx, e) : fail(cx, e, rc, "%s", derr);
        t->p = t->heap;
        t->n = n;
        return 0;
    }
    default: break;
    }
    return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "cannot apply %s to %s", what,
                type_name(v->type));
}

/* ---- UTF-8 -------------------------------------------------------------------- */

/* Length of the character starting at s[i] (1 for a stray byte). */
static size_t u8len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t l = c < 0x80 ? 1 : c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (i + l > n)
        l = n - i;
    for (size_t k = 1; k < l; k++)
        if (((unsigned char)s[i + k] & 0xc0) != 0x80)
            return k;
    return l;
}

static uint32_t u8dec(const char *s, size_t n, size_t i, size_t *l)
{
    *l = u8len(s, n, i);
    unsigned char c = (unsigned char)s[i];
    if (*l == 1)
        return c;
    uint32_t v = c & (0x7f >> *l);
    for (size_t k = 1; k < *l; k++)
        v = v << 6 | ((unsigned char)s[i + k] & 0x3f);
    return v;
}

static size_t u8count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i += u8len(s, n, i))
        c++;
    return c;
}

/* ---- truth -------------------------------------------------------------------- */

int sql_truth(const SqlValue *v)
{
    switch (v->type) {
    case DOC_BOOL:
    case DOC_INT:
    case DOC_DATE: return v->i != 0;
    case DOC_DOUBLE: return v->d != 0.0;
    case DOC_STRING:
    case DOC_BYTES: return text_prefix_double(v->s, v->len) != 0.0;
    case DOC_UUID:
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: return 1;
    default: return -1;
    }
}

/* ---- arithmetic --------------------------------------------------------------- */

static const char *op_name(int op)
{
    switch (op) {
    case SQL_OP_ADD: return "+";
    case SQL_OP_SUB: return "-";
    case SQL_OP_MUL: return "*";
    case SQL_OP_DIV: return "/";
    case SQL_OP_MOD: return "%";
    case SQL_OP_NEG: return "unary -";
    default: return "?";
    }
}

/* a op b for non-null numbers, as SQLite's OP_Add..OP_Remainder. */
static int arith(SqlEvalCtx *cx, const SqlExpr *e, int op, const SqlValue *a,
                 const SqlValue *b, SqlValue *out)
{
    if (!is_num(a) || !is_num(b)) {
        if (op == SQL_OP_NEG)
            return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "cannot apply unary - to %s",
                        type_name(b->type));
        return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "cannot apply %s to %s and %s",
                    op_name(op), type_name(a->type), type_name(b->type));
    }
    if (op == SQL_OP_NEG)
        op = SQL_OP_SUB;
    if (a->type != DOC_DOUBLE && b->type != DOC_DOUBLE) {
        int64_t x = a->i, y = b->i, r;
        switch (op) {
        case SQL_OP_ADD:
            if (!__builtin_add_overflow(x, y, &r)) {
                set_int(out, r);
                return 0;
            }
            break;
        case SQL_OP_SUB:
            if (!__builtin_sub_overflow(x, y, &r)) {
                set_int(out, r);
                return 0;
            }
            break;
        case SQL_OP_MUL:
            if (!__builtin_mul_overflow(x, y, &r)) {
                set_int(out, r);
                return 0;
            }
            break;
        case SQL_OP_DIV:
            if (y == 0)
                return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "division by zero");
            if (y == -1 && x == INT64_MIN)
                break; /* floating point, as SQLite */
            set_int(out, x / y);
            return 0;
        case SQL_OP_MOD:
            if (y == 0)
                return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "modulo by zero");
            if (y == -1)
                y = 1;
            set_int(out, x % y);
            return 0;
        default: break;
        }
    }
    double x = num_double(a), y = num_double(b), r;
    switch (op) {
    case SQL_OP_ADD: r = x + y; break;
    case SQL_OP_SUB: r = x - y; break;
    case SQL_OP_MUL: r = x * y; break;
    case SQL_OP_DIV:
        if (y == 0.0)
            return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "division by zero");
        r = x / y;
        break;
    case SQL_OP_MOD: {
        int64_t ix = num_i64(a), iy = num_i64(b);
        if (iy == 0)
            return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "modulo by zero");
        if (iy == -1)
            iy = 1;
        r = (double)(ix % iy);
        break;
    }
    default: r = 0; break;
    }
    if (is_nan(r))
        set_null(out);
    else
        set_double(out, r);
    return 0;
}

/* ---- LIKE --------------------------------------------------------------------- */

typedef struct {
    int kind; /* 0 literal, 1 '_', 2 '%' */
    uint32_t c;
} LikeTok;

static uint32_t fold(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 1 match, 0 no match, -1 pattern ends in the escape character. */
static int like_match(const char *s, size_t sn, const char *pat, size_t pn, int has_esc,
                      uint32_t esc, LikeTok *tk)
{
    size_t nt = 0, l;
    for (size_t i = 0; i < pn; i += l) {
        uint32_t c = u8dec(pat, pn, i, &l);
        if (has_esc && c == esc) {
            i += l;
            if (i >= pn)
                return -1;
            tk[nt].kind = 0;
            tk[nt++].c = fold(u8dec(pat, pn, i, &l));
        } else if (c == '%') {
            if (!nt || tk[nt - 1].kind != 2)
                tk[nt++].kind = 2;
        } else if (c == '_') {
            tk[nt++].kind = 1;
        } else {
            tk[nt].kind = 0;
            tk[nt++].c = fold(c);
        }
    }
    /* greedy match with backtracking to the last '%': O(n*m) at worst */
    size_t ti = 0, pi = 0, star_p = (size_t)-1, star_t = 0;
    while (ti < sn) {
        size_t cl = 1;
        unsigned char b0 = (unsigned char)s[ti];
        uint32_t c = b0 < 0x80 ? b0 : u8dec(s, sn, ti, &cl); /* ASCII: no decoding */
        if (pi < nt && tk[pi].kind == 1) {
            pi++;
            ti += cl;
        } else if (pi < nt && tk[pi].kind == 0 && tk[pi].c == fold(c)) {
            pi++;
            ti += cl;
        } else if (pi < nt && tk[pi].kind == 2) {
            star_p = pi++;
            star_t = ti;
        } else if (star_p != (size_t)-1) {
            pi = star_p + 1;
            star_t += (unsigned char)s[star_t] < 0x80 ? 1 : u8len(s, sn, star_t);
            ti = star_t;
        } else {
            return 0;
        }
    }
    while (pi < nt && tk[pi].kind == 2)
        pi++;
    return pi == nt;
}

/* ---- evaluation --------------------------------------------------------------- */

static int eval_func(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out);

/* Evaluates e->list[i]. */
static int arg(const SqlExpr *e, size_t i, SqlEvalCtx *cx, SqlValue *out)
{
    return sql_eval(e->list[i], cx, out);
}

static int cmp_op_result(int op, int c)
{
    switch (op) {
    case SQL_OP_EQ: return c == 0;
    case SQL_OP_NE: return c != 0;
    case SQL_OP_LT: return c < 0;
    case SQL_OP_LE: return c <= 0;
    case SQL_OP_GT: return c > 0;
    case SQL_OP_GE: return c >= 0;
    default: return 0;
    }
}

static int eval_binary(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue a, b;
    int rc;
    if (e->op == SQL_OP_AND || e->op == SQL_OP_OR) {
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        int ta = sql_truth(&a);
        sql_value_clear(&a);
        int stop = e->op == SQL_OP_AND ? 0 : 1;
        if (ta == stop) {
            set_int(out, stop);
            return 0;
        }
        if ((rc = sql_eval(e->b, cx, &b)))
            return rc;
        int tb = sql_truth(&b);
        sql_value_clear(&b);
        if (tb == stop)
            set_int(out, stop);
        else if (ta < 0 || tb < 0)
            set_null(out);
        else
            set_int(out, !stop);
        return 0;
    }
    if ((rc = sql_eval(e->a, cx, &a)))
        return rc;
    if ((rc = sql_eval(e->b, cx, &b))) {
        sql_value_clear(&a);
        return rc;
    }
    rc = 0;
    if (is_null(&a) || is_null(&b)) {
        set_null(out);
    } else {
        switch (e->op) {
        case SQL_OP_EQ:
        case SQL_OP_NE:
        case SQL_OP_LT:
        case SQL_OP_LE:
        case SQL_OP_GT:
        case SQL_OP_GE: set_int(out, cmp_op_result(e->op, sql_value_cmp(&a, &b))); break;
        case SQL_OP_CONCAT: {
            Text ta, tb;
            if ((rc = to_text(cx, e, &a, &ta, "||")))
                break;
            if ((rc = to_text(cx, e, &b, &tb, "||"))) {
                text_done(&ta);
                break;
            }
            char *r = NULL;
            if (ta.n + tb.n > BLAZEDB_MAX_VALUE)
                rc = fail(cx, e, BLAZEDB_TOO_BIG, "string too long");
            else if (!(r = malloc(ta.n + tb.n + 1)))
                rc = nomem(cx, e);
            if (r) {
                memcpy(r, ta.p, ta.n);
                memcpy(r + ta.n, tb.p, tb.n);
                set_str_take(out, r, ta.n + tb.n);
            }
            text_done(&ta);
            text_done(&tb);
            break;
        }
        default: rc = arith(cx, e, e->op, &a, &b, out); break;
        }
    }
    sql_value_clear(&a);
    sql_value_clear(&b);
    return rc;
}

static int eval_like(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue a, b, c;
    set_null(&c);
    int rc;
    if ((rc = sql_eval(e->a, cx, &a)))
        return rc;
    if ((rc = sql_eval(e->b, cx, &b))) {
        sql_value_clear(&a);
        return rc;
    }
    if (e->c && (rc = sql_eval(e->c, cx, &c)))
        goto done;
    if (is_null(&a) || is_null(&b) || (e->c && is_null(&c))) {
        set_null(out);
        goto done;
    }
    Text ts, tp, te;
    uint32_t esc = 0;
    if (e->c) {
        if ((rc = to_text(cx, e->c, &c, &te, "ESCAPE")))
            goto done;
        size_t l = 0;
        if (te.n)
            esc = u8dec(te.p, te.n, 0, &l);
        text_done(&te);
        if (!te.n || l != te.n) {
            rc = fail(cx, e->c, BLAZEDB_INVALID_ARGUMENT,
                      "ESCAPE expression must be a single character");
            goto done;
        }
    }
    if ((rc = to_text(cx, e, &a, &ts, "LIKE")))
        goto done;
    if ((rc = to_text(cx, e, &b, &tp, "LIKE"))) {
        text_done(&ts);
        goto done;
    }
    LikeTok small[64], *tk = small;
    if (tp.n > 64 && !(tk = malloc(tp.n * sizeof *tk))) {
        rc = nomem(cx, e);
    } else {
        int m = like_match(ts.p, ts.n, tp.p, tp.n, e->c != NULL, esc, tk);
        if (m < 0)
            rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT,
                      "LIKE pattern ends with the ESCAPE character");
        else
            set_int(out, e->negated ? !m : m);
        if (tk != small)
            free(tk);
    }
    text_done(&ts);
    text_done(&tp);
done:
    sql_value_clear(&a);
    sql_value_clear(&b);
    sql_value_clear(&c);
    return rc;
}

/* 1 true, 0 false, -1 null: does the array encoding a contain b? */
static int contains(const SqlValue *a, const SqlValue *b)
{
    DocView v;
    if (docbin_lookup_valid((const uint8_t *)a->s, a->len, "", &v) != BLAZEDB_OK ||
        v.type != DOC_ARRAY)
        return 0;
    for (size_t i = 0; i < v.count; i++) {
        DocView el;
        SqlValue x;
        if (docbin_view_elem(&v, i, &el) != BLAZEDB_OK)
            return 0;
        sql_value_from_view(&el, &x);
        if (!is_null(&x) && sql_value_cmp(&x, b) == 0)
            return 1;
    }
    return 0;
}

static int eval_in(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue a;
    int rc;
    if (!e->nlist) { /* x IN () is false even for a null x, as in SQLite */
        set_int(out, e->negated);
        return 0;
    }
    if ((rc = sql_eval(e->a, cx, &a)))
        return rc;
    if (is_null(&a)) {
        set_null(out);
        return 0;
    }
    int found = 0, sawnull = 0;
    for (size_t i = 0; i < e->nlist && !found; i++) {
        SqlValue x;
        if ((rc = arg(e, i, cx, &x))) {
            sql_value_clear(&a);
            return rc;
        }
        if (is_null(&x))
            sawnull = 1;
        else if (sql_value_cmp(&a, &x) == 0)
            found = 1;
        sql_value_clear(&x);
    }
    sql_value_clear(&a);
    if (found)
        set_int(out, !e->negated);
    else if (sawnull)
        set_null(out);
    else
        set_int(out, e->negated);
    return 0;
}

static int eval_case(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue base, w;
    int rc;
    set_null(&base);
    if (e->a && (rc = sql_eval(e->a, cx, &base)))
        return rc;
    for (size_t i = 0; i + 1 < e->nlist; i += 2) {
        if ((rc = arg(e, i, cx, &w))) {
            sql_value_clear(&base);
            return rc;
        }
        int hit;
        if (e->a)
            hit = !is_null(&base) && !is_null(&w) && sql_value_cmp(&base, &w) == 0;
        else
            hit = sql_truth(&w) == 1;
        sql_value_clear(&w);
        if (hit) {
            sql_value_clear(&base);
            return arg(e, i + 1, cx, out);
        }
    }
    sql_value_clear(&base);
    if (e->b)
        return sql_eval(e->b, cx, out);
    set_null(out);
    return 0;
}

int sql_eval(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue a, b, c;
    int rc;
    set_null(out);
    switch (e->kind) {
    case SQL_E_LITERAL:
        *out = e->lit;
        out->owned = 0;
        if (out->type == DOC_MISSING)
            out->type = DOC_NULL;
        return 0;
    case SQL_E_PARAM:
        if (e->param >= 1 && (size_t)e->param <= cx->nparams && cx->params) {
            *out = cx->params[e->param - 1];
            out->owned = 0;
            if (out->type == DOC_MISSING)
                out->type = DOC_NULL;
        }
        return 0; /* unbound: NULL, as in SQLite */
    case SQL_E_COLUMN:
        if (!cx->column)
            return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "no such column: %s",
                        e->path ? e->path : "");
        if ((rc = cx->column(cx, e, out))) {
            if (!cx->err[0])
                fail(cx, e, rc, "cannot read column %s", e->path ? e->path : "");
            return rc;
        }
        if (out->type == DOC_MISSING)
            out->type = DOC_NULL;
        return 0;
    case SQL_E_UNARY:
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        rc = 0;
        if (e->op == SQL_OP_NOT) {
            int t = sql_truth(&a);
            if (t < 0)
                set_null(out);
            else
                set_int(out, !t);
        } else if (e->op == SQL_OP_PLUS) {
            *out = a; /* SQLite's unary + changes nothing, whatever the type */
            return 0;
        } else if (is_null(&a)) {
            set_null(out);
        } else {
            SqlValue zero;
            set_int(&zero, 0);
            rc = arith(cx, e, SQL_OP_NEG, &zero, &a, out);
        }
        sql_value_clear(&a);
        return rc;
    case SQL_E_BINARY: return eval_binary(e, cx, out);
    case SQL_E_ISNULL:
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        set_int(out, is_null(&a) != e->negated);
        sql_value_clear(&a);
        return 0;
    case SQL_E_IS:
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        if ((rc = sql_eval(e->b, cx, &b))) {
            sql_value_clear(&a);
            return rc;
        }
        {
            int eq;
            if (is_null(&a) || is_null(&b))
                eq = is_null(&a) && is_null(&b);
            else
                eq = sql_value_cmp(&a, &b) == 0;
            set_int(out, eq != e->negated);
        }
        sql_value_clear(&a);
        sql_value_clear(&b);
        return 0;
    case SQL_E_BETWEEN: {
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        if ((rc = sql_eval(e->b, cx, &b))) {
            sql_value_clear(&a);
            return rc;
        }
        if ((rc = sql_eval(e->c, cx, &c))) {
            sql_value_clear(&a);
            sql_value_clear(&b);
            return rc;
        }
        /* a >= b AND a <= c, three-valued */
        int t1 = is_null(&a) || is_null(&b) ? -1 : sql_value_cmp(&a, &b) >= 0;
        int t2 = is_null(&a) || is_null(&c) ? -1 : sql_value_cmp(&a, &c) <= 0;
        int t = (t1 == 0 || t2 == 0) ? 0 : (t1 < 0 || t2 < 0) ? -1 : 1;
        if (t < 0)
            set_null(out);
        else
            set_int(out, e->negated ? !t : t);
        sql_value_clear(&a);
        sql_value_clear(&b);
        sql_value_clear(&c);
        return 0;
    }
    case SQL_E_IN: return eval_in(e, cx, out);
    case SQL_E_LIKE: return eval_like(e, cx, out);
    case SQL_E_CASE: return eval_case(e, cx, out);
    case SQL_E_FUNC: return eval_func(e, cx, out);
    case SQL_E_AGG:
        if (!cx->aggs || e->slot < 0)
            return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "misuse of aggregate function %s()",
                        sql_func_name(e->func));
        *out = cx->aggs[e->slot];
        out->owned = 0;
        return 0;
    case SQL_E_CONTAINS:
        if ((rc = sql_eval(e->a, cx, &a)))
            return rc;
        if ((rc = sql_eval(e->b, cx, &b))) {
            sql_value_clear(&a);
            return rc;
        }
        if (is_null(&a) || is_null(&b))
            set_null(out);
        else if (a.type != DOC_ARRAY)
            set_int(out, 0);
        else
            set_int(out, contains(&a, &b));
        sql_value_clear(&a);
        sql_value_clear(&b);
        return 0;
    default: return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "unknown expression");
    }
}

/* ---- scalar functions --------------------------------------------------------- */

/* sqlite3_value_int: the int64 value truncated to 32 bits. */
static int value_int(const SqlValue *v)
{
    return (int)(int32_t)(uint32_t)(uint64_t)num_i64(v);
}

static int need_num(SqlEvalCtx *cx, const SqlExpr *e, const SqlValue *v)
{
    if (is_num(v))
        return 0;
    return fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "%s() expects a number, got %s",
                sql_func_name(e->func), type_name(v->type));
}

static double round_sqlite(double r, int n)
{
    if (is_nan(r))
        return r;
    if (r < -4503599627370496.0 || r > 4503599627370496.0)
        return r;
    if (n == 0)
        return (double)(int64_t)(r + (r < 0 ? -0.5 : +0.5));
    char buf[400];
    size_t len = sqlite_fmt(buf, r, 'f', n, 0);
    return sqlite_atof(buf, len);
}

/* ms of a date-like argument: 1 ok, 0 NULL result, <0 error (rc in *rc). */
static int date_arg(SqlEvalCtx *cx, const SqlExpr *e, const SqlValue *v, int64_t *ms, int *rc)
{
    *rc = 0;
    switch (v->type) {
    case DOC_DATE:
    case DOC_INT: *ms = v->i; return 1;
    case DOC_STRING: {
        if (v->len == 10) {
            char t[32];
            memcpy(t, v->s, 10);
            memcpy(t + 10, "T00:00:00Z", 10);
            return doc_date_parse(t, 20, ms);
        }
        return doc_date_parse(v->s, v->len, ms);
    }
    default:
        if (is_null(v))
            return 0;
        *rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "%s() expects a date, got %s",
                   sql_func_name(e->func), type_name(v->type));
        return -1;
    }
}

static int trim_set_has(const char *set, size_t sn, const char *s, size_t n, size_t i,
                        size_t *l)
{
    uint32_t c = u8dec(s, n, i, l);
    for (size_t k = 0, kl; k < sn; k += kl)
        if (u8dec(set, sn, k, &kl) == c)
            return 1;
    return 0;
}

static int eval_func(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out)
{
    SqlValue v[3];
    size_t nv = 0;
    int rc = 0;
    int f = e->func;
    /* lazily evaluated functions first */
    if (f == SQL_F_COALESCE || f == SQL_F_IFNULL) {
        for (size_t i = 0; i < e->nlist; i++) {
            if ((rc = arg(e, i, cx, out)))
                return rc;
            if (!is_null(out))
                return 0;
            sql_value_clear(out);
        }
        set_null(out);
        return 0;
    }
    if (f == SQL_F_NOW) {
        set_date(out, cx->now_ms);
        return 0;
    }
    if (f == SQL_F_MIN2 || f == SQL_F_MAX2) {
        SqlValue best, x;
        set_null(&best);
        for (size_t i = 0; i < e->nlist; i++) {
            if ((rc = arg(e, i, cx, &x))) {
                sql_value_clear(&best);
                return rc;
            }
            if (is_null(&x)) {
                sql_value_clear(&x);
                sql_value_clear(&best);
                set_null(out);
                return 0;
            }
            int c = i ? sql_value_cmp(&best, &x) : 0;
            /* SQLite: min keeps the later of equals, max the earlier */
            if (i == 0 || (f == SQL_F_MIN2 ? c >= 0 : c < 0)) {
                sql_value_clear(&best);
                best = x;
            } else {
                sql_value_clear(&x);
            }
        }
        *out = best;
        return 0;
    }
    for (; nv < e->nlist && nv < 3; nv++)
        if ((rc = arg(e, nv, cx, &v[nv])))
            goto done;
    /* NULL in, NULL out for every remaining function except typeof/nullif */
    if (f != SQL_F_TYPEOF && f != SQL_F_NULLIF)
        for (size_t i = 0; i < nv && !(f == SQL_F_REPLACE && i == 2); i++)
            if (is_null(&v[i])) {
                set_null(out);
                goto done;
            }
    switch (f) {
    case SQL_F_LOWER:
    case SQL_F_UPPER: {
        Text t;
        if ((rc = to_text(cx, e, &v[0], &t, sql_func_name(f))))
            break;
        char *r = malloc(t.n ? t.n : 1);
        if (!r) {
            text_done(&t);
            rc = nomem(cx, e);
            break;
        }
        for (size_t i = 0; i < t.n; i++) {
            char ch = t.p[i];
            if (f == SQL_F_LOWER && ch >= 'A' && ch <= 'Z')
                ch = (char)(ch + 32);
            else if (f == SQL_F_UPPER && ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 32);
            r[i] = ch;
        }
        set_str_take(out, r, t.n);
        text_done(&t);
        break;
    }
    case SQL_F_LENGTH:
        switch (v[0].type) {
        case DOC_STRING: set_int(out, (int64_t)u8count(v[0].s, v[0].len)); break;
        case DOC_BYTES: set_int(out, (int64_t)v[0].len); break;
        case DOC_ARRAY:
        case DOC_OBJECT:
        case DOC_VECTOR: {
            DocView dv;
            if (docbin_lookup_valid((const uint8_t *)v[0].s, v[0].len, "", &dv) != BLAZEDB_OK)
                rc = fail(cx, e, BLAZEDB_CORRUPT, "damaged value");
            else
                set_int(out, (int64_t)(v[0].type == DOC_VECTOR ? dv.dlen / 4 : dv.count));
            break;
        }
        default: {
            Text t;
            if ((rc = to_text(cx, e, &v[0], &t, "length")))
                break;
            set_int(out, (int64_t)u8count(t.p, t.n));
            text_done(&t);
        }
        }
        break;
    case SQL_F_ABS:
        if ((rc = need_num(cx, e, &v[0])))
            break;
        if (v[0].type == DOC_DOUBLE) {
            set_double(out, v[0].d < 0 ? -v[0].d : v[0].d);
        } else if (v[0].i == INT64_MIN) {
            rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "integer overflow");
        } else {
            set_int(out, v[0].i < 0 ? -v[0].i : v[0].i);
        }
        break;
    case SQL_F_ROUND: {
        int n = 0;
        if ((rc = need_num(cx, e, &v[0])))
            break;
        if (nv == 2) {
            if ((rc = need_num(cx, e, &v[1])))
                break;
            n = value_int(&v[1]);
            if (n > 30)
                n = 30;
            if (n < 0)
                n = 0;
        }
        set_double(out, round_sqlite(num_double(&v[0]), n));
        break;
    }
    case SQL_F_NULLIF:
        if (is_null(&v[0]) || is_null(&v[1]) ? is_null(&v[0]) && is_null(&v[1])
                                             : sql_value_cmp(&v[0], &v[1]) == 0) {
            set_null(out);
        } else {
            *out = v[0];
            set_null(&v[0]);
        }
        break;
    case SQL_F_SUBSTR: {
        Text t;
        if (nv > 1 && (rc = need_num(cx, e, &v[1])))
            break;
        if (nv > 2 && (rc = need_num(cx, e, &v[2])))
            break;
        int is_blob = v[0].type == DOC_BYTES;
        if (is_blob) {
            t.p = v[0].s;
            t.n = v[0].len;
            t.heap = NULL;
        } else if ((rc = to_text(cx, e, &v[0], &t, "substr"))) {
            break;
        }
        int64_t p1 = value_int(&v[1]), p2, len = 0;
        int negp2 = 0;
        len = is_blob ? (int64_t)t.n : (int64_t)u8count(t.p, t.n);
        if (nv == 3) {
            p2 = value_int(&v[2]);
            if (p2 < 0) {
                p2 = -p2;
                negp2 = 1;
            }
        } else {
            p2 = 1000000000; /* SQLite's default length limit */
        }
        if (p1 < 0) {
            p1 += len;
            if (p1 < 0) {
                p2 += p1;
                if (p2 < 0)
                    p2 = 0;
                p1 = 0;
            }
        } else if (p1 > 0) {
            p1--;
        } else if (p2 > 0) {
            p2--;
        }
        if (negp2) {
            p1 -= p2;
            if (p1 < 0) {
                p2 += p1;
                p1 = 0;
            }
        }
        size_t b0, b1;
        if (is_blob) {
            if (p1 + p2 > len) {
                p2 = len - p1;
                if (p2 < 0)
                    p2 = 0;
            }
            b0 = p1 > len ? (size_t)len : (size_t)p1;
            b1 = b0 + (size_t)p2;
            if (b1 > t.n)
                b1 = t.n;
        } else {
            b0 = 0;
            while (b0 < t.n && p1 > 0) {
                b0 += u8len(t.p, t.n, b0);
                p1--;
            }
            b1 = b0;
            while (b1 < t.n && p2 > 0) {
                b1 += u8len(t.p, t.n, b1);
                p2--;
            }
        }
        char *r = malloc(b1 - b0 + 1);
        if (!r) {
            rc = nomem(cx, e);
        } else {
            memcpy(r, t.p + b0, b1 - b0);
            set_str_take(out, r, b1 - b0);
            if (is_blob)
                out->type = DOC_BYTES;
        }
        text_done(&t);
        break;
    }
    case SQL_F_TYPEOF: {
        static const char *const names[] = {"null", "null", "boolean", "integer", "real",
                                            "text", "blob", "uuid", "date", "array",
                                            "object", "vector"};
        set_static_str(out, v[0].type < 12 ? names[v[0].type] : "null");
        break;
    }
    case SQL_F_TRIM:
    case SQL_F_LTRIM:
    case SQL_F_RTRIM: {
        Text t, ts;
        const char *set = " ";
        size_t sn = 1;
        ts.heap = NULL;
        if ((rc = to_text(cx, e, &v[0], &t, sql_func_name(f))))
            break;
        if (nv == 2) {
            if ((rc = to_text(cx, e, &v[1], &ts, sql_func_name(f)))) {
                text_done(&t);
                break;
            }
            set = ts.p;
            sn = ts.n;
        }
        size_t b0 = 0, b1 = t.n, l;
        if (f != SQL_F_RTRIM)
            while (b0 < b1 && trim_set_has(set, sn, t.p, t.n, b0, &l))
                b0 += l;
        if (f != SQL_F_LTRIM)
            while (b1 > b0) {
                size_t k = b1 - 1;
                while (k > b0 && ((unsigned char)t.p[k] & 0xc0) == 0x80)
                    k--;
                if (!trim_set_has(set, sn, t.p, b1, k, &l) || k + l != b1)
                    break;
                b1 = k;
            }
        if (!set_str_copy(out, t.p + b0, b1 - b0))
            rc = nomem(cx, e);
        text_done(&t);
        text_done(&ts);
        break;
    }
    case SQL_F_REPLACE: {
        Text t, tf, tt;
        if ((rc = to_text(cx, e, &v[1], &tf, "replace")))
            break;
        if (tf.n == 0) { /* SQLite returns X itself */
            text_done(&tf);
            *out = v[0];
            set_null(&v[0]);
            break;
        }
        if (is_null(&v[2])) { /* checked after the empty pattern, as SQLite */
            text_done(&tf);
            set_null(out);
            break;
        }
        if ((rc = to_text(cx, e, &v[0], &t, "replace"))) {
            text_done(&tf);
            break;
        }
        if ((rc = to_text(cx, e, &v[2], &tt, "replace"))) {
            text_done(&tf);
            text_done(&t);
            break;
        }
        size_t cnt = 0;
        for (size_t i = 0; i + tf.n <= t.n;)
            if (!memcmp(t.p + i, tf.p, tf.n)) {
                cnt++;
                i += tf.n;
            } else {
                i++;
            }
        size_t rn = t.n - cnt * tf.n + cnt * tt.n;
        char *r = NULL;
        if (tt.n && cnt > (BLAZEDB_MAX_VALUE - (t.n - cnt * tf.n)) / tt.n)
            rc = fail(cx, e, BLAZEDB_TOO_BIG, "string too long");
        else if (!(r = malloc(rn + 1)))
            rc = nomem(cx, e);
        if (r) {
            size_t k = 0;
            for (size_t i = 0; i < t.n;) {
                if (i + tf.n <= t.n && !memcmp(t.p + i, tf.p, tf.n)) {
                    memcpy(r + k, tt.p, tt.n);
                    k += tt.n;
                    i += tf.n;
                } else {
                    r[k++] = t.p[i++];
                }
            }
            set_str_take(out, r, k);
        }
        text_done(&t);
        text_done(&tf);
        text_done(&tt);
        break;
    }
    case SQL_F_INSTR: {
        if (v[0].type == DOC_BYTES && v[1].type == DOC_BYTES) {
            int64_t pos = 0;
            if (v[1].len == 0)
                pos = 1;
            for (size_t i = 0; !pos && i + v[1].len <= v[0].len; i++)
                if (!memcmp(v[0].s + i, v[1].s, v[1].len))
                    pos = (int64_t)i + 1;
            set_int(out, pos);
            break;
        }
        Text t, tn;
        if ((rc = to_text(cx, e, &v[0], &t, "instr")))
            break;
        if ((rc = to_text(cx, e, &v[1], &tn, "instr"))) {
            text_done(&t);
            break;
        }
        int64_t pos = 0, ch = 1;
        for (size_t i = 0; i + tn.n <= t.n; i += u8len(t.p, t.n, i), ch++)
            if (!memcmp(t.p + i, tn.p, tn.n)) {
                pos = ch;
                break;
            }
        set_int(out, pos);
        text_done(&t);
        text_done(&tn);
        break;
    }
    case SQL_F_DATE:
    case SQL_F_DATETIME:
    case SQL_F_YEAR:
    case SQL_F_MONTH:
    case SQL_F_DAY: {
        int64_t ms;
        char buf[25];
        int ok = date_arg(cx, e, &v[0], &ms, &rc);
        if (ok <= 0 || !doc_date_format(ms, buf)) {
            if (ok == 0 || ok == 1)
                set_null(out);
            break;
        }
        if (f == SQL_F_DATE || f == SQL_F_DATETIME) {
            if (!set_str_copy(out, buf, f == SQL_F_DATE ? 10 : 24))
                rc = nomem(cx, e);
        } else {
            int off = f == SQL_F_YEAR ? 0 : f == SQL_F_MONTH ? 5 : 8;
            int nd = f == SQL_F_YEAR ? 4 : 2, x = 0;
            for (int i = 0; i < nd; i++)
                x = x * 10 + (buf[off + i] - '0');
            set_int(out, x);
        }
        break;
    }
    case SQL_F_TO_DATE:
    case SQL_F_EPOCH_MS: {
        int64_t ms;
        int ok = date_arg(cx, e, &v[0], &ms, &rc);
        if (ok < 0)
            break;
        if (!ok)
            set_null(out);
        else if (f == SQL_F_TO_DATE)
            set_date(out, ms);
        else
            set_int(out, ms);
        break;
    }
    default: rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "unknown function"); break;
    }
done:
    for (size_t i = 0; i < nv; i++)
        sql_value_clear(&v[i]);
    if (rc)
        sql_value_clear(out);
    return rc;
}

int sql_expr_any(const SqlExpr *e, int (*pred)(const SqlExpr *node))
{
    if (!e)
        return 0;
    if (pred(e) || sql_expr_any(e->a, pred) || sql_expr_any(e->b, pred) ||
        sql_expr_any(e->c, pred))
        return 1;
    for (size_t i = 0; i < e->nlist; i++)
        if (sql_expr_any(e->list[i], pred))
            return 1;
    return 0;
}

static int is_agg(const SqlExpr *e) { return e->kind == SQL_E_AGG; }

int sql_has_agg(const SqlExpr *e) { return sql_expr_any(e, is_agg); }

/* ---- aggregates --------------------------------------------------------------- */

struct SqlAgg {
    int func;
    int distinct;
    const SqlExpr *node;
    int64_t cnt;
    int64_t isum;
    double rsum;
    int approx, overflow;
    SqlValue best;
    int has_best;
    /* DISTINCT: open addressing over owned copies */
    SqlValue *set;
    uint64_t *hash;
    uint8_t *used;
    size_t nset, cap;
    size_t mem;
};

int sql_agg_new(const SqlExpr *agg, SqlAgg **out)
{
    SqlAgg *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a)
        return BLAZEDB_NOMEM;
    a->func = agg->func;
    a->distinct = agg->distinct;
    a->node = agg;
    a->best.type = DOC_NULL;
    *out = a;
    return BLAZEDB_OK;
}

static size_t value_mem(const SqlValue *v)
{
    return sizeof *v + (v->owned ? v->len : 0);
}

/* 1 if v is new (a copy is kept), 0 if seen, <0 NOMEM. */
static int distinct_add(SqlAgg *a, const SqlValue *v)
{
    if (a->nset * 2 >= a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        SqlValue *ns = calloc(nc, sizeof *ns);
        uint64_t *nh = calloc(nc, sizeof *nh);
        uint8_t *nu = calloc(nc, 1);
        if (!ns || !nh || !nu) {
            free(ns);
            free(nh);
            free(nu);
            return -1;
        }
        for (size_t i = 0; i < a->cap; i++) {
            if (!a->used[i])
                continue;
            size_t j = a->hash[i] & (nc - 1);
            while (nu[j])
                j = (j + 1) & (nc - 1);
            nu[j] = 1;
            nh[j] = a->hash[i];
            ns[j] = a->set[i];
        }
        free(a->set);
        free(a->hash);
        free(a->used);
        a->mem += (nc - a->cap) * (sizeof *ns + sizeof *nh + 1);
        a->set = ns;
        a->hash = nh;
        a->used = nu;
        a->cap = nc;
    }
    uint64_t h = sql_value_hash(v);
    size_t j = h & (a->cap - 1);
    while (a->used[j]) {
        if (a->hash[j] == h && sql_value_cmp(&a->set[j], v) == 0)
            return 0;
        j = (j + 1) & (a->cap - 1);
    }
    if (sql_value_copy(&a->set[j], v) != BLAZEDB_OK)
        return -1;
    a->used[j] = 1;
    a->hash[j] = h;
    a->nset++;
    a->mem += value_mem(v);
    return 1;
}

int sql_agg_step(SqlAgg *a, SqlEvalCtx *cx)
{
    const SqlExpr *e = a->node;
    if (a->func == SQL_A_COUNT && e->nlist == 0) {
        a->cnt++;
        return 0;
    }
    SqlValue v;
    int rc = sql_eval(e->list[0], cx, &v);
    if (rc)
        return rc;
    if (is_null(&v))
        return 0;
    if (a->distinct) {
        int r = distinct_add(a, &v);
        if (r <= 0) {
            sql_value_clear(&v);
            return r < 0 ? nomem(cx, e) : 0;
        }
    }
    switch (a->func) {
    case SQL_A_COUNT: a->cnt++; break;
    case SQL_A_SUM:
    case SQL_A_AVG:
    case SQL_A_TOTAL:
        if (!is_num(&v)) {
            rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "cannot apply %s() to %s",
                      sql_func_name(a->func), type_name(v.type));
            break;
        }
        a->cnt++;
        if (v.type != DOC_DOUBLE) {
            /* SQLite 3.40 sumStep: plain double sum beside an exact int sum */
            a->rsum += (double)v.i;
            if (!(a->approx | a->overflow) && __builtin_add_overflow(a->isum, v.i, &a->isum)) {
                a->approx = a->overflow = 1;
                if (a->func == SQL_A_SUM)
                    rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "integer overflow");
            }
        } else {
            a->rsum += v.d;
            a->approx = 1;
        }
        break;
    case SQL_A_MIN:
    case SQL_A_MAX: {
        int c = a->has_best ? sql_value_cmp(&a->best, &v) : 0;
        if (!a->has_best || (a->func == SQL_A_MAX ? c < 0 : c > 0)) {
            a->mem -= a->has_best ? value_mem(&a->best) : 0;
            sql_value_clear(&a->best);
            if (sql_value_copy(&a->best, &v) != BLAZEDB_OK) {
                a->has_best = 0;
                rc = nomem(cx, e);
                break;
            }
            a->has_best = 1;
            a->mem += value_mem(&a->best);
        }
        break;
    }
    default: rc = fail(cx, e, BLAZEDB_INVALID_ARGUMENT, "unknown aggregate"); break;
    }
    sql_value_clear(&v);
    return rc;
}

int sql_agg_final(SqlAgg *a, SqlValue *out)
{
    set_null(out);
    switch (a->func) {
    case SQL_A_COUNT: set_int(out, a->cnt); return 0;
    case SQL_A_SUM:
        if (!a->cnt)
            return 0;
        if (a->overflow)
            return BLAZEDB_INVALID_ARGUMENT; /* reported by sql_agg_step */
        if (a->approx)
            set_double(out, a->rsum);
        else
            set_int(out, a->isum);
        return 0;
    case SQL_A_AVG:
        if (a->cnt)
            set_double(out, a->rsum / (double)a->cnt);
        return 0;
    case SQL_A_TOTAL: set_double(out, a->rsum); return 0;
    case SQL_A_MIN:
    case SQL_A_MAX:
        if (a->has_best)
            return sql_value_copy(out, &a->best);
        return 0;
    default: return BLAZEDB_INVALID_ARGUMENT;
    }
}

void sql_agg_free(SqlAgg *a)
{
    if (!a)
        return;
    sql_value_clear(&a->best);
    for (size_t i = 0; i < a->cap; i++)
        if (a->used[i])
            sql_value_clear(&a->set[i]);
    free(a->set);
    free(a->hash);
    free(a->used);
    free(a);
}

size_t sql_agg_mem(const SqlAgg *a)
{
    return sizeof *a + a->mem;
}
