/*
 * test_sql_oracle.c — a randomized differential test of BlazeDB's SQL
 * subset against SQLite as the oracle (issue 4: "for flat documents whose
 * fields each hold one type, every query returns exactly what SQLite
 * returns for the same rows in a table").
 *
 * The same rows go into SQLite tables declared without column types (so no
 * affinity conversions) and into BlazeDB collections: t1/t2 without
 * indexes and i1/i2 with a random set of secondary, compound, DESC, unique
 * and partial indexes.  A NULL is sometimes an explicit null and
 * sometimes a missing field in BlazeDB.  A typed generator then builds
 * random SELECTs (expressions, functions, LIKE, CASE, aggregates, GROUP BY
 * / HAVING, DISTINCT, ORDER BY / LIMIT / OFFSET, INNER and LEFT joins,
 * positional and named parameters), runs each in SQLite and in BlazeDB
 * over both copies, and compares: the same rows, the same value in each
 * column (doubles within 1e-9 relative) and the same type (SQLite's
 * integer/real/text/null against BLAZEDB_TYPE_INT/DOUBLE/STRING/NULL).
 * Without ORDER BY the rows are compared as multisets; with ORDER BY the
 * generator appends every output column as a tie-breaker, so the order is
 * total and compared as is.  Between batches of queries random UPDATE,
 * DELETE and INSERT statements change both sides (changes counted alike),
 * which also exercises index maintenance.
 *
 * The generator is typed (int, real, text, boolean) so that it never
 * produces what BlazeDB deliberately rejects (arithmetic on text, division
 * by zero, abs() of text, a LIKE pattern ending in its escape character);
 * test_documented_differences asserts those errors once.  Doubles in the
 * data are dyadic (multiples of 1/4) so that sums do not depend on the
 * order of addition.
 *
 * BLAZEDB_TEST_SEED=S replays a run; BLAZEDB_LONG_TESTS=1 runs many more
 * queries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "support/testutil.h"

/* ---- string builder ------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} Sb;

static void sb_add(Sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(Sb *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if (b->p && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + (size_t)k + 1)
            nc *= 2;
        b->p = realloc(b->p, nc);
        assert_non_null(b->p);
        b->cap = nc;
        b->p[b->n] = 0;
    }
}

static void sb_free(Sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- schema and data -------------------------------------------------------------------- */

enum { TY_INT = 0, TY_REAL, TY_TEXT, TY_BOOL, TY_N };

typedef struct {
    const char *name;
    int ty;
} Col;

typedef struct {
    const char *name;     /* SQLite table / BlazeDB collection without indexes */
    const char *iname;    /* BlazeDB collection with indexes */
    const Col *cols;
    size_t ncols;
} Table;

static const Col T1_COLS[] = {{"id", TY_TEXT}, {"a", TY_INT},  {"b", TY_REAL}, {"c", TY_TEXT},
                              {"d", TY_INT},   {"e", TY_REAL}, {"f", TY_TEXT}, {"u", TY_INT}};
static const Col T2_COLS[] = {{"id", TY_TEXT}, {"a", TY_INT}, {"b", TY_REAL},
                              {"c", TY_TEXT},  {"k", TY_INT}, {"r", TY_TEXT}};
static const Table TABLES[2] = {{"t1", "i1", T1_COLS, 8}, {"t2", "i2", T2_COLS, 6}};

/* A value on either side: 0 null, 1 int, 2 real, 3 text (SQLite's classes). */
typedef struct {
    int t;
    int64_t i;
    double d;
    char *s;
    size_t n;
} Val;

static const char *const ALPHA[] = {"a", "b", "A", "B", "%", "_", " ", "\xc3\xa9", "ab", "x"};
#define NALPHA (sizeof ALPHA / sizeof ALPHA[0])

typedef struct {
    TuRng rng;
    uint64_t seed;
    sqlite3 *lite;
    BlazeDB *db;
    char *dir;
    int next_row[2];      /* next id number per table */
    int64_t next_u;       /* next unique value of t1.u */
    /* statistics */
    long queries, rows_compared, both_errors, lite_rejects, writes;
    long failures;
    long skipped;             /* ORACLE_SKIP_ERR matches */
    Sb wlog;                  /* the writes since the last table comparison */
    int avoid_known;          /* ORACLE_AVOID_KNOWN: see create_indexes */
    int verbose;
} Ox;

static uint64_t rnd(Ox *o, uint64_t n) { return tu_rng_below(&o->rng, n); }
static int chance(Ox *o, int percent) { return (int)rnd(o, 100) < percent; }

static void rand_text(Ox *o, Sb *b, int maxparts)
{
    int n = (int)rnd(o, (uint64_t)maxparts + 1);
    for (int i = 0; i < n; i++)
        sb_add(b, "%s", ALPHA[rnd(o, NALPHA)]);
}

/* A random value of a column's type (never NULL). */
static void rand_value(Ox *o, int table, const Col *c, Val *v, int row)
{
    memset(v, 0, sizeof *v);
    if (strcmp(c->name, "id") == 0) {
        Sb b = {0};
        sb_add(&b, "%c%04d", table == 0 ? 'r' : 's', row);
        v->t = 3;
        v->s = b.p;
        v->n = b.n;
        return;
    }
    if (strcmp(c->name, "u") == 0) {
        v->t = 1;
        v->i = o->next_u;
        o->next_u += 1 + (int64_t)rnd(o, 3);
        return;
    }
    if (strcmp(c->name, "r") == 0) {
        Sb b = {0};
        if (chance(o, 85))
            sb_add(&b, "r%04d", (int)rnd(o, (uint64_t)o->next_row[0] + 5));
        else
            sb_add(&b, "zz");
        v->t = 3;
        v->s = b.p;
        v->n = b.n;
        return;
    }
    switch (c->ty) {
    case TY_INT:
        v->t = 1;
        if (strcmp(c->name, "a") == 0)
            v->i = (int64_t)rnd(o, 7) - 3;
        else
            v->i = (int64_t)rnd(o, 26);
        break;
    case TY_REAL:
        v->t = 2;
        if (strcmp(c->name, "b") == 0) {
            v->d = ((double)rnd(o, 25) - 12) / 4.0;
        } else {
            int k = (int)rnd(o, 20);
            /* large values stay small enough that sums and squares are
             * exact (dyadic, within 53 bits) */
            if (k == 0)
                v->d = 1048576.5;
            else if (k == 1)
                v->d = -0.25;
            else if (k == 2)
                v->d = 1e6;
            else
                v->d = ((double)rnd(o, 801) - 400) / 2.0;
        }
        break;
    default: {
        Sb b = {0};
        rand_text(o, &b, strcmp(c->name, "f") == 0 ? 6 : 3);
        if (!b.p)
            sb_add(&b, "%s", "");
        v->t = 3;
        v->s = b.p;
        v->n = b.n;
        break;
    }
    }
}

static void val_clear(Val *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* ---- running SQL on both sides ----------------------------------------------------------- */

typedef struct {
    int named;            /* 1: :pN names, 0: positional ? */
    Val v[64];
    int n;
} Params;

typedef struct {
    int rc;               /* SQLite: SQLITE_OK/error; BlazeDB: BLAZEDB_OK/error */
    char err[512];
    size_t ncols;
    size_t nrows;
    Val *cells;           /* nrows * ncols */
    uint64_t changes;
} Res;

static void res_free(Res *r)
{
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        val_clear(&r->cells[i]);
    free(r->cells);
    memset(r, 0, sizeof *r);
}

static void res_push(Res *r, const Val *row)
{
    r->cells = realloc(r->cells, (r->nrows + 1) * r->ncols * sizeof *r->cells + 1);
    assert_non_null(r->cells);
    memcpy(&r->cells[r->nrows * r->ncols], row, r->ncols * sizeof *row);
    r->nrows++;
}

static void lite_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sqlite: %s: %s", sql, err ? err : "?");
}

static void lite_bind(sqlite3_stmt *s, int i, const Val *v)
{
    switch (v->t) {
    case 1: sqlite3_bind_int64(s, i, v->i); break;
    case 2: sqlite3_bind_double(s, i, v->d); break;
    case 3: sqlite3_bind_text(s, i, v->s, (int)v->n, SQLITE_TRANSIENT); break;
    default: sqlite3_bind_null(s, i); break;
    }
}

static void lite_run(sqlite3 *db, const char *sql, const Params *ps, Res *r)
{
    memset(r, 0, sizeof *r);
    sqlite3_stmt *s = NULL;
    r->rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (r->rc != SQLITE_OK) {
        snprintf(r->err, sizeof r->err, "%s", sqlite3_errmsg(db));
        return;
    }
    for (int i = 0; ps && i < ps->n; i++) {
        int idx = i + 1;
        if (ps->named) {
            char nm[16];
            snprintf(nm, sizeof nm, ":p%d", i + 1);
            idx = sqlite3_bind_parameter_index(s, nm);
            if (!idx)
                continue; /* not used by this statement */
        }
        lite_bind(s, idx, &ps->v[i]);
    }
    r->ncols = (size_t)sqlite3_column_count(s);
    int rc;
    Val row[64];
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (size_t c = 0; c < r->ncols; c++) {
            Val *v = &row[c];
            memset(v, 0, sizeof *v);
            switch (sqlite3_column_type(s, (int)c)) {
            case SQLITE_INTEGER: v->t = 1; v->i = sqlite3_column_int64(s, (int)c); break;
            case SQLITE_FLOAT: v->t = 2; v->d = sqlite3_column_double(s, (int)c); break;
            case SQLITE_TEXT: {
                const unsigned char *t = sqlite3_column_text(s, (int)c);
                v->n = (size_t)sqlite3_column_bytes(s, (int)c);
                v->s = malloc(v->n + 1);
                assert_non_null(v->s);
                memcpy(v->s, t, v->n);
                v->s[v->n] = 0;
                v->t = 3;
                break;
            }
            case SQLITE_NULL: break;
            default: v->t = 9; break; /* blob: never expected */
            }
        }
        res_push(r, row);
    }
    if (rc != SQLITE_DONE) {
        r->rc = rc;
        snprintf(r->err, sizeof r->err, "%s", sqlite3_errmsg(db));
    }
    r->changes = (uint64_t)sqlite3_changes(db);
    sqlite3_finalize(s);
}

static void blz_bind(BlazeDBStmt *s, int i, const Val *v)
{
    BlazeDBResult rc;
    switch (v->t) {
    case 1: rc = blazedb_bind_int(s, i, v->i); break;
    case 2: rc = blazedb_bind_double(s, i, v->d); break;
    case 3: rc = blazedb_bind_text(s, i, v->s, v->n); break;
    default: rc = blazedb_bind_null(s, i); break;
    }
    assert_int_equal(rc, BLAZEDB_OK);
}

static void blz_run(BlazeDB *db, const char *sql, const Params *ps, Res *r)
{
    memset(r, 0, sizeof *r);
    BlazeDBStmt *s = NULL;
    r->rc = (int)blazedb_prepare(db, sql, (size_t)-1, &s, NULL);
    if (r->rc != BLAZEDB_OK || !s) {
        snprintf(r->err, sizeof r->err, "prepare: %s", blazedb_errmsg(db));
        if (!r->rc)
            r->rc = -1;
        return;
    }
    for (int i = 0; ps && i < ps->n; i++) {
        int idx = i + 1;
        if (ps->named) {
            char nm[16];
            snprintf(nm, sizeof nm, ":p%d", i + 1);
            idx = blazedb_bind_index(s, nm);
            if (!idx)
                continue;
        }
        blz_bind(s, idx, &ps->v[i]);
    }
    BlazeDBResult rc;
    Val row[64];
    int first = 1;
    while ((rc = blazedb_step(s)) == BLAZEDB_ROW) {
        if (first) {
            r->ncols = blazedb_column_count(s);
            assert_true(r->ncols <= 64);
            first = 0;
        }
        for (size_t c = 0; c < r->ncols; c++) {
            Val *v = &row[c];
            memset(v, 0, sizeof *v);
            switch (blazedb_column_type(s, c)) {
            case BLAZEDB_TYPE_INT: v->t = 1; v->i = blazedb_column_int(s, c); break;
            case BLAZEDB_TYPE_DOUBLE: v->t = 2; v->d = blazedb_column_double(s, c); break;
            case BLAZEDB_TYPE_STRING: {
                size_t n = 0;
                const char *t = blazedb_column_text(s, c, &n);
                assert_non_null(t);
                v->s = malloc(n + 1);
                assert_non_null(v->s);
                memcpy(v->s, t, n);
                v->s[n] = 0;
                v->n = n;
                v->t = 3;
                break;
            }
            case BLAZEDB_TYPE_NULL:
            case BLAZEDB_TYPE_MISSING: break;
            default: v->t = 10 + (int)blazedb_column_type(s, c); break;
            }
        }
        res_push(r, row);
    }
    if (first)
        r->ncols = blazedb_column_count(s);
    if (rc != BLAZEDB_DONE) {
        r->rc = (int)rc;
        snprintf(r->err, sizeof r->err, "%s: %s", blazedb_strerror(rc), blazedb_errmsg(db));
    }
    r->changes = blazedb_stmt_changes(s);
    blazedb_finalize(s);
}

/* ---- comparing results ------------------------------------------------------------------ */

static int val_cmp(const Val *a, const Val *b)
{
    int ca = a->t == 2 ? 1 : a->t, cb = b->t == 2 ? 1 : b->t;
    if (ca != cb)
        return ca < cb ? -1 : 1;
    if (ca == 1) {
        double x = a->t == 1 ? (double)a->i : a->d, y = b->t == 1 ? (double)b->i : b->d;
        if (a->t == 1 && b->t == 1)
            return a->i < b->i ? -1 : a->i > b->i;
        return x < y ? -1 : x > y;
    }
    if (ca == 3) {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = memcmp(a->s, b->s, n);
        return c ? c : a->n < b->n ? -1 : a->n > b->n;
    }
    return 0;
}

static size_t g_sort_ncols;
static int row_cmp(const void *x, const void *y)
{
    const Val *a = x, *b = y;
    for (size_t c = 0; c < g_sort_ncols; c++) {
        int r = val_cmp(&a[c], &b[c]);
        if (r)
            return r;
    }
    return 0;
}

static void res_sort(Res *r)
{
    if (!r->nrows || !r->ncols)
        return;
    /* rows are contiguous runs of ncols values: sort them as blocks */
    size_t rs = r->ncols * sizeof(Val);
    Val *tmp = malloc(r->nrows * rs);
    assert_non_null(tmp);
    memcpy(tmp, r->cells, r->nrows * rs);
    g_sort_ncols = r->ncols;
    /* qsort over blocks of rs bytes */
    qsort(tmp, r->nrows, rs, row_cmp);
    memcpy(r->cells, tmp, r->nrows * rs);
    free(tmp);
}

static int val_same(const Val *lite, const Val *blz)
{
    if (lite->t != blz->t)
        return 0;
    switch (lite->t) {
    case 0: return 1;
    case 1: return lite->i == blz->i;
    case 2: {
        double x = lite->d, y = blz->d;
        if (x == y)
            return 1;
        double m = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
        return fabs(x - y) <= 1e-9 * m;
    }
    case 3: return lite->n == blz->n && memcmp(lite->s, blz->s, lite->n) == 0;
    default: return 0;
    }
}

static void val_print(Sb *b, const Val *v)
{
    switch (v->t) {
    case 0: sb_add(b, "NULL"); break;
    case 1: sb_add(b, "%" PRId64, v->i); break;
    case 2: sb_add(b, "%.17g(real)", v->d); break;
    case 3: sb_add(b, "'%.*s'", (int)v->n, v->s); break;
    default: sb_add(b, "<blazedb type %d>", v->t - 10); break;
    }
}

static void res_print(Sb *b, const char *who, const Res *r)
{
    sb_add(b, "  %s: ", who);
    if (r->rc) {
        sb_add(b, "error %d: %s\n", r->rc, r->err);
        return;
    }
    sb_add(b, "%zu rows\n", r->nrows);
    for (size_t i = 0; i < r->nrows && i < 8; i++) {
        sb_add(b, "    (");
        for (size_t c = 0; c < r->ncols; c++) {
            if (c)
                sb_add(b, ", ");
            val_print(b, &r->cells[i * r->ncols + c]);
        }
        sb_add(b, ")\n");
    }
    if (r->nrows > 8)
        sb_add(b, "    ...\n");
}

static void params_print(Sb *b, const Params *ps)
{
    if (!ps || !ps->n)
        return;
    sb_add(b, "  params:");
    for (int i = 0; i < ps->n; i++) {
        sb_add(b, " %s%d=", ps->named ? ":p" : "?", i + 1);
        val_print(b, &ps->v[i]);
    }
    sb_add(b, "\n");
}

/* Compares; returns 1 when they agree.  `ordered`: compare row by row in
 * the order given, else as multisets.  Prints the difference. */
static int compare(Ox *o, const char *what, const char *sql, const Params *ps, Res *lite,
                   Res *blz, int ordered)
{
    const char *why = NULL;
    char whybuf[160];
    if (lite->rc && blz->rc) {
        o->both_errors++;
        return 1;
    }
    if (lite->rc || blz->rc) {
        /* triage aid: ORACLE_SKIP_ERR=text counts BlazeDB errors whose
         * message holds text apart (they still fail the test) */
        const char *skip = getenv("ORACLE_SKIP_ERR");
        if (blz->rc && skip && *skip && strstr(blz->err, skip)) {
            o->skipped++;
            return 1;
        }
        why = lite->rc ? "only SQLite failed" : "only BlazeDB failed";
    } else if (lite->nrows != blz->nrows) {
        snprintf(whybuf, sizeof whybuf, "row counts differ (SQLite %zu, BlazeDB %zu)",
                 lite->nrows, blz->nrows);
        why = whybuf;
    } else if (lite->nrows && lite->ncols != blz->ncols) {
        snprintf(whybuf, sizeof whybuf, "column counts differ (SQLite %zu, BlazeDB %zu)",
                 lite->ncols, blz->ncols);
        why = whybuf;
    } else {
        if (!ordered) {
            res_sort(lite);
            res_sort(blz);
        }
        for (size_t i = 0; i < lite->nrows && !why; i++)
            for (size_t c = 0; c < lite->ncols && !why; c++) {
                const Val *x = &lite->cells[i * lite->ncols + c];
                const Val *y = &blz->cells[i * lite->ncols + c];
                if (!val_same(x, y)) {
                    snprintf(whybuf, sizeof whybuf, "%s at row %zu column %zu%s",
                             x->t != y->t ? "type/value differs" : "value differs", i, c,
                             ordered ? "" : " (rows sorted)");
                    why = whybuf;
                }
            }
    }
    o->rows_compared += (long)lite->nrows;
    if (!why)
        return 1;
    o->failures++;
    Sb b = {0};
    sb_add(&b, "MISMATCH (seed %" PRIu64 ", %s): %s\n  query: %s\n", o->seed, what, why, sql);
    params_print(&b, ps);
    res_print(&b, "SQLite ", lite);
    res_print(&b, "BlazeDB", blz);
    fprintf(stderr, "%s", b.p);
    sb_free(&b);
    return 0;
}

/* ---- the expression generator ------------------------------------------------------------- */

enum { M_ROW = 0, M_GROUP, M_AGGARG };

typedef struct {
    char *text;
    int ty;
} Key;

typedef struct {
    Ox *o;
    Sb *b;
    int mode;
    int ntabs;            /* 1 or 2 */
    int tab[2];           /* TABLES index per slot */
    const char *alias[2]; /* qualifier per slot, or NULL (unqualified) */
    Key keys[4];          /* GROUP BY keys (M_GROUP) */
    int nkeys;
    int has_group;        /* grouped query (keys or aggregates) */
    Params *ps;           /* NULL: no parameters here */
    int nested_agg;
} Gen;

static void gen(Gen *g, int ty, int depth);

static void lit(Gen *g, int ty)
{
    Ox *o = g->o;
    switch (ty) {
    case TY_INT: {
        int64_t v = (int64_t)rnd(o, 32) - 4;
        if (v < 0)
            sb_add(g->b, "(%" PRId64 ")", v);
        else
            sb_add(g->b, "%" PRId64, v);
        break;
    }
    case TY_REAL: {
        double v = ((double)rnd(o, 41) - 20) / 4.0;
        if (v < 0)
            sb_add(g->b, "(%.2f)", v);
        else
            sb_add(g->b, "%.2f", v);
        break;
    }
    case TY_TEXT: {
        Sb t = {0};
        rand_text(o, &t, 3);
        sb_add(g->b, "'");
        for (size_t i = 0; i < t.n; i++)
            sb_add(g->b, "%c", t.p[i]);
        sb_add(g->b, "'");
        sb_free(&t);
        break;
    }
    default: sb_add(g->b, "%d", (int)rnd(o, 2)); break;
    }
}

static void param(Gen *g, int ty)
{
    Ox *o = g->o;
    Params *ps = g->ps;
    /* named: sometimes reuse an earlier parameter of the same type */
    if (ps->named && ps->n && chance(o, 30)) {
        int k = (int)rnd(o, (uint64_t)ps->n);
        int want = ty == TY_INT || ty == TY_BOOL ? 1 : ty == TY_REAL ? 2 : 3;
        if (ps->v[k].t == want || ps->v[k].t == 0) {
            sb_add(g->b, ":p%d", k + 1);
            return;
        }
    }
    Val *v = &ps->v[ps->n++];
    memset(v, 0, sizeof *v);
    if (chance(o, 8)) {
        v->t = 0;
    } else if (ty == TY_INT || ty == TY_BOOL) {
        v->t = 1;
        v->i = ty == TY_BOOL ? (int64_t)rnd(o, 2) : (int64_t)rnd(o, 30) - 4;
    } else if (ty == TY_REAL) {
        v->t = 2;
        v->d = ((double)rnd(o, 41) - 20) / 4.0;
    } else {
        Sb t = {0};
        rand_text(o, &t, 3);
        if (!t.p)
            sb_add(&t, "%s", "");
        v->t = 3;
        v->s = t.p;
        v->n = t.n;
    }
    if (ps->named)
        sb_add(g->b, ":p%d", ps->n);
    else
        sb_add(g->b, "?");
}

/* A column of type ty from the FROM clause; 0 when there is none. */
static int column(Gen *g, int ty)
{
    int cand[32][2], n = 0;
    for (int s = 0; s < g->ntabs; s++) {
        const Table *t = &TABLES[g->tab[s]];
        for (size_t c = 0; c < t->ncols; c++)
            if (t->cols[c].ty == ty)
                cand[n][0] = s, cand[n++][1] = (int)c;
    }
    if (!n)
        return 0;
    int k = (int)rnd(g->o, (uint64_t)n);
    int s = cand[k][0];
    const Col *c = &TABLES[g->tab[s]].cols[cand[k][1]];
    if (g->alias[s])
        sb_add(g->b, "%s.%s", g->alias[s], c->name);
    else
        sb_add(g->b, "%s", c->name);
    return 1;
}

static void agg(Gen *g, int ty)
{
    Ox *o = g->o;
    Gen a = *g;
    a.mode = M_AGGARG;
    a.ps = NULL;
    int d = (int)rnd(o, 2);
    int distinct = chance(o, 15);
    switch (ty) {
    case TY_INT:
    case TY_BOOL:
        switch (rnd(o, 5)) {
        case 0: sb_add(g->b, "count(*)"); return;
        case 1:
        case 2:
            sb_add(g->b, "count(%s", distinct ? "DISTINCT " : "");
            gen(&a, (int)rnd(o, 3), d);
            break;
        case 3:
            sb_add(g->b, "sum(%s", distinct ? "DISTINCT " : "");
            gen(&a, TY_INT, d);
            break;
        default:
            sb_add(g->b, "%s(", chance(o, 50) ? "min" : "max");
            gen(&a, TY_INT, d);
            break;
        }
        break;
    case TY_REAL:
        switch (rnd(o, 4)) {
        case 0:
            sb_add(g->b, "avg(%s", distinct ? "DISTINCT " : "");
            gen(&a, chance(o, 50) ? TY_INT : TY_REAL, d);
            break;
        case 1:
            sb_add(g->b, "total(%s", distinct ? "DISTINCT " : "");
            gen(&a, chance(o, 50) ? TY_INT : TY_REAL, d);
            break;
        case 2:
            sb_add(g->b, "sum(%s", distinct ? "DISTINCT " : "");
            gen(&a, TY_REAL, d);
            break;
        default:
            sb_add(g->b, "%s(", chance(o, 50) ? "min" : "max");
            gen(&a, TY_REAL, d);
            break;
        }
        break;
    default:
        sb_add(g->b, "%s(", chance(o, 50) ? "min" : "max");
        gen(&a, TY_TEXT, d);
        break;
    }
    sb_add(g->b, ")");
}

static void leaf(Gen *g, int ty)
{
    Ox *o = g->o;
    if (ty == TY_BOOL) {
        if (chance(o, 80) && g->mode != M_GROUP) {
            sb_add(g->b, "(");
            gen(g, (int)rnd(o, 3), 0);
            sb_add(g->b, " IS NOT NULL)");
        } else if (g->mode == M_GROUP) {
            /* not a bare 0/1: SQLite folds "0 AND max(x)" to 0 while
             * parsing, which turns an aggregate query into a plain one */
            sb_add(g->b, "(%d > 0)", (int)rnd(o, 2));
        } else {
            lit(g, TY_BOOL);
        }
        return;
    }
    if (g->ps && chance(o, 8)) {
        param(g, ty);
        return;
    }
    if (g->mode == M_GROUP) {
        int cand[4], n = 0;
        for (int i = 0; i < g->nkeys; i++)
            if (g->keys[i].ty == ty)
                cand[n++] = i;
        int r = (int)rnd(o, 10);
        if (n && r < 5) {
            sb_add(g->b, "%s", g->keys[cand[rnd(o, (uint64_t)n)]].text);
            return;
        }
        if (r < 8) {
            agg(g, ty);
            return;
        }
        lit(g, ty);
        return;
    }
    if (chance(o, 75) && column(g, ty))
        return;
    lit(g, ty);
}

static const char *cmp_op(Ox *o)
{
    static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">=", "!=", "=="};
    return ops[rnd(o, 8)];
}

static void like_pattern(Gen *g, int esc)
{
    Ox *o = g->o;
    int n = (int)rnd(o, 5);
    sb_add(g->b, "'");
    for (int i = 0; i < n; i++) {
        int r = (int)rnd(o, 10);
        if (r < 3)
            sb_add(g->b, "%%");
        else if (r < 5)
            sb_add(g->b, "_");
        else if (esc && r < 6)
            sb_add(g->b, "!%s", rnd(o, 3) == 0 ? "%" : rnd(o, 2) ? "_" : "!");
        else
            sb_add(g->b, "%s", ALPHA[rnd(o, NALPHA)][0] == '%' ? "a" : ALPHA[rnd(o, NALPHA)]);
    }
    sb_add(g->b, "'");
}

static void gen_bool1(Gen *g, int depth);

/* A truth value, parenthesized so it is one operand wherever it lands. */
static void gen_bool(Gen *g, int depth)
{
    sb_add(g->b, "(");
    gen_bool1(g, depth);
    sb_add(g->b, ")");
}

static void gen_bool1(Gen *g, int depth)
{
    Ox *o = g->o;
    int t = (int)rnd(o, 3), t2;
    switch (rnd(o, 12)) {
    case 0:
    case 1:
    case 2:
        /* comparison; mostly the same type, sometimes int vs real or mixed */
        t2 = chance(o, 85) ? t : (int)rnd(o, 3);
        gen(g, t, depth - 1);
        sb_add(g->b, " %s ", cmp_op(o));
        gen(g, t2, depth - 1);
        break;
    case 3:
        sb_add(g->b, "(");
        gen(g, TY_BOOL, depth - 1);
        sb_add(g->b, chance(o, 50) ? " AND " : " OR ");
        gen(g, TY_BOOL, depth - 1);
        sb_add(g->b, ")");
        break;
    case 4:
        sb_add(g->b, "NOT (");
        gen(g, TY_BOOL, depth - 1);
        sb_add(g->b, ")");
        break;
    case 5: {
        gen(g, t, depth - 1);
        sb_add(g->b, chance(o, 25) ? " NOT IN (" : " IN (");
        int n = 1 + (int)rnd(o, 5);
        for (int i = 0; i < n; i++) {
            if (i)
                sb_add(g->b, ", ");
            if (chance(o, 8))
                sb_add(g->b, "NULL");
            else if (chance(o, 15))
                gen(g, t, 0);
            else
                lit(g, chance(o, 90) ? t : (int)rnd(o, 3));
        }
        sb_add(g->b, ")");
        break;
    }
    case 6:
        gen(g, t, depth - 1);
        sb_add(g->b, chance(o, 25) ? " NOT BETWEEN " : " BETWEEN ");
        gen(g, t, depth - 1);
        sb_add(g->b, " AND ");
        gen(g, t, depth - 1);
        break;
    case 7: {
        gen(g, chance(o, 85) ? TY_TEXT : (int)rnd(o, 3), depth - 1);
        sb_add(g->b, chance(o, 25) ? " NOT LIKE " : " LIKE ");
        int r = (int)rnd(o, 10);
        if (r < 6) {
            like_pattern(g, 0);
        } else if (r < 8) {
            like_pattern(g, 1);
            sb_add(g->b, " ESCAPE '!'");
        } else {
            gen(g, TY_TEXT, depth - 1);
        }
        break;
    }
    case 8:
        gen(g, t, depth - 1);
        sb_add(g->b, chance(o, 50) ? " IS NULL" : " IS NOT NULL");
        break;
    case 9:
        gen(g, t, depth - 1);
        sb_add(g->b, chance(o, 50) ? " IS " : " IS NOT ");
        gen(g, t, depth - 1);
        break;
    case 10:
        /* comparisons of a real with an int */
        gen(g, TY_INT, depth - 1);
        sb_add(g->b, " %s ", cmp_op(o));
        gen(g, TY_REAL, depth - 1);
        break;
    default:
        sb_add(g->b, "(");
        gen(g, TY_BOOL, depth - 1);
        sb_add(g->b, " AND ");
        gen(g, TY_BOOL, depth - 1);
        sb_add(g->b, ")");
        break;
    }
}

/* CASE, coalesce, ifnull, nullif, min(,), max(,) over values of type ty. */
static void gen_generic(Gen *g, int ty, int depth)
{
    Ox *o = g->o;
    switch (rnd(o, 6)) {
    case 0: {
        int n = 1 + (int)rnd(o, 2);
        if (chance(o, 40)) {
            int bt = (int)rnd(o, 3);
            sb_add(g->b, "CASE ");
            gen(g, bt, depth - 1);
            for (int i = 0; i < n; i++) {
                sb_add(g->b, " WHEN ");
                gen(g, bt, 0);
                sb_add(g->b, " THEN ");
                gen(g, ty, depth - 1);
            }
        } else {
            sb_add(g->b, "CASE");
            for (int i = 0; i < n; i++) {
                sb_add(g->b, " WHEN ");
                gen(g, TY_BOOL, depth - 1);
                sb_add(g->b, " THEN ");
                gen(g, ty, depth - 1);
            }
        }
        if (chance(o, 70)) {
            sb_add(g->b, " ELSE ");
            gen(g, ty, depth - 1);
        }
        sb_add(g->b, " END");
        break;
    }
    case 1: {
        int n = 2 + (int)rnd(o, 2);
        sb_add(g->b, "coalesce(");
        for (int i = 0; i < n; i++) {
            if (i)
                sb_add(g->b, ", ");
            gen(g, ty, depth - 1);
        }
        sb_add(g->b, ")");
        break;
    }
    case 2:
    case 3:
        sb_add(g->b, "%s(", rnd(o, 2) ? "ifnull" : "nullif");
        gen(g, ty, depth - 1);
        sb_add(g->b, ", ");
        gen(g, ty, depth - 1);
        sb_add(g->b, ")");
        break;
    default:
        sb_add(g->b, "%s(", rnd(o, 2) ? "min" : "max");
        gen(g, ty, depth - 1);
        sb_add(g->b, ", ");
        gen(g, ty, depth - 1);
        sb_add(g->b, ")");
        break;
    }
}

static void gen(Gen *g, int ty, int depth)
{
    Ox *o = g->o;
    if (ty == TY_BOOL) {
        if (depth <= 0 && chance(o, 50)) {
            leaf(g, ty);
            return;
        }
        gen_bool(g, depth < 1 ? 1 : depth);
        return;
    }
    if (depth <= 0 || chance(o, 30)) {
        leaf(g, ty);
        return;
    }
    if (chance(o, 15)) {
        gen_generic(g, ty, depth);
        return;
    }
    switch (ty) {
    case TY_INT:
        switch (rnd(o, 9)) {
        case 0:
        case 1:
        case 2:
            sb_add(g->b, "(");
            gen(g, TY_INT, depth - 1);
            sb_add(g->b, " %s ", rnd(o, 3) == 0 ? "*" : rnd(o, 2) ? "+" : "-");
            gen(g, TY_INT, depth - 1);
            sb_add(g->b, ")");
            break;
        case 3:
            sb_add(g->b, "-(");
            gen(g, TY_INT, depth - 1);
            sb_add(g->b, ")");
            break;
        case 4:
            sb_add(g->b, "abs(");
            gen(g, TY_INT, depth - 1);
            sb_add(g->b, ")");
            break;
        case 5:
            sb_add(g->b, "length(");
            gen(g, chance(o, 80) ? TY_TEXT : (int)rnd(o, 3), depth - 1);
            sb_add(g->b, ")");
            break;
        case 6:
            sb_add(g->b, "instr(");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ", ");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ")");
            break;
        case 7:
            gen(g, TY_BOOL, depth - 1); /* a truth value is an integer */
            break;
        default:
            sb_add(g->b, "+");
            gen(g, TY_INT, depth - 1);
            break;
        }
        break;
    case TY_REAL:
        switch (rnd(o, 6)) {
        case 0:
        case 1: {
            int l = chance(o, 50) ? TY_REAL : TY_INT;
            sb_add(g->b, "(");
            gen(g, l, depth - 1);
            sb_add(g->b, " %s ", rnd(o, 3) == 0 ? "*" : rnd(o, 2) ? "+" : "-");
            gen(g, l == TY_INT ? TY_REAL : chance(o, 50) ? TY_REAL : TY_INT, depth - 1);
            sb_add(g->b, ")");
            break;
        }
        case 2:
            sb_add(g->b, "-(");
            gen(g, TY_REAL, depth - 1);
            sb_add(g->b, ")");
            break;
        case 3:
            sb_add(g->b, "abs(");
            gen(g, TY_REAL, depth - 1);
            sb_add(g->b, ")");
            break;
        case 4:
            sb_add(g->b, "round(");
            gen(g, chance(o, 70) ? TY_REAL : TY_INT, depth - 1);
            if (chance(o, 50))
                sb_add(g->b, ", %d", (int)rnd(o, 3));
            sb_add(g->b, ")");
            break;
        default:
            sb_add(g->b, "(");
            gen(g, TY_REAL, depth - 1);
            sb_add(g->b, " * 0.5)");
            break;
        }
        break;
    default: /* TY_TEXT */
        switch (rnd(o, 10)) {
        case 0:
            sb_add(g->b, "%s(", rnd(o, 2) ? "lower" : "upper");
            gen(g, chance(o, 85) ? TY_TEXT : (int)rnd(o, 3), depth - 1);
            sb_add(g->b, ")");
            break;
        case 1: {
            static const char *const fn[] = {"trim", "ltrim", "rtrim"};
            sb_add(g->b, "%s(", fn[rnd(o, 3)]);
            gen(g, TY_TEXT, depth - 1);
            if (chance(o, 40)) {
                sb_add(g->b, ", ");
                gen(g, TY_TEXT, 0);
            }
            sb_add(g->b, ")");
            break;
        }
        case 2:
            sb_add(g->b, "replace(");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ", ");
            gen(g, TY_TEXT, 0);
            sb_add(g->b, ", ");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ")");
            break;
        case 3:
        case 4:
            sb_add(g->b, "substr(");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ", %d", (int)rnd(o, 9) - 4);
            if (chance(o, 60))
                sb_add(g->b, ", %d", (int)rnd(o, 8) - 3);
            sb_add(g->b, ")");
            break;
        case 5:
        case 6:
        case 7:
            sb_add(g->b, "(");
            gen(g, chance(o, 60) ? TY_TEXT : (int)rnd(o, 3), depth - 1);
            sb_add(g->b, " || ");
            gen(g, chance(o, 60) ? TY_TEXT : (int)rnd(o, 3), depth - 1);
            sb_add(g->b, ")");
            break;
        case 8:
            sb_add(g->b, "typeof(");
            gen(g, (int)rnd(o, 3), depth - 1);
            sb_add(g->b, ")");
            break;
        default:
            sb_add(g->b, "substr(");
            gen(g, TY_TEXT, depth - 1);
            sb_add(g->b, ", ");
            gen(g, TY_INT, 0);
            sb_add(g->b, ")");
            break;
        }
        break;
    }
}

/* ---- queries --------------------------------------------------------------------------------- */

/* Placeholders for the table names in generated text: \001 = first table,
 * \002 = second; expanded per target (SQLite, BlazeDB t*, BlazeDB i*). */
static char *expand(const char *tmpl, const char *n1, const char *n2)
{
    Sb b = {0};
    for (const char *p = tmpl; *p; p++) {
        if (*p == '\001')
            sb_add(&b, "%s", n1);
        else if (*p == '\002')
            sb_add(&b, "%s", n2);
        else
            sb_add(&b, "%c", *p);
    }
    return b.p;
}

typedef struct {
    Sb text;
    int ordered;
    int tab[2];
    int ntabs;
    Params ps;
} Query;

static void query_free(Query *q)
{
    sb_free(&q->text);
    for (int i = 0; i < q->ps.n; i++)
        val_clear(&q->ps.v[i]);
    memset(q, 0, sizeof *q);
}

/* A GROUP BY key: a column, or a simple expression over one (never a
 * bare literal, which SQLite would read as a column number).  Its type. */
static int group_key(Gen *k)
{
    Ox *o = k->o;
    int ty = (int)rnd(o, 3);
    if (chance(o, 65)) {
        column(k, ty);
        return ty;
    }
    Sb *b = k->b;
    switch (ty) {
    case TY_INT:
        if (rnd(o, 2)) {
            sb_add(b, "(");
            column(k, TY_INT);
            sb_add(b, " + %d)", (int)rnd(o, 5));
        } else {
            sb_add(b, "length(");
            column(k, TY_TEXT);
            sb_add(b, ")");
        }
        break;
    case TY_REAL:
        sb_add(b, "(");
        column(k, TY_REAL);
        sb_add(b, " * 2)");
        break;
    default:
        if (rnd(o, 2)) {
            sb_add(b, "lower(");
            column(k, TY_TEXT);
            sb_add(b, ")");
        } else {
            sb_add(b, "substr(");
            column(k, TY_TEXT);
            sb_add(b, ", 1, 1)");
        }
        break;
    }
    return ty;
}

static void gen_query(Ox *o, Query *q)
{
    memset(q, 0, sizeof *q);
    Sb *b = &q->text;
    Gen g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.b = b;
    q->ps.named = chance(o, 40);
    Sb from = {0};
    if (chance(o, 4)) {
        g.ntabs = 0; /* SELECT without FROM: evaluated once */
        sb_add(&from, "%s", "");
    } else if (chance(o, 30)) {
        static const char *const on[][2] = {
            {"d", "k"}, {"a", "a"}, {"id", "r"}, {"c", "c"}, {"u", "k"}, {"b", "b"}};
        int j = (int)rnd(o, 6);
        g.ntabs = 2;
        g.tab[0] = 0;
        g.tab[1] = 1;
        g.alias[0] = "x";
        g.alias[1] = "y";
        int left = chance(o, 40);
        sb_add(&from, " FROM \001 x %sJOIN \002 y ON x.%s = y.%s", left ? "LEFT " : "",
               on[j][0], on[j][1]);
        if (chance(o, 20)) {
            sb_add(&from, " AND ");
            Gen h = g;
            h.b = &from;
            h.ps = NULL;
            gen(&h, TY_BOOL, 1);
        }
    } else {
        g.ntabs = 1;
        g.tab[0] = chance(o, 70) ? 0 : 1;
        if (chance(o, 30)) {
            g.alias[0] = "x";
            sb_add(&from, " FROM \001 x");
        } else {
            sb_add(&from, " FROM \001");
        }
    }
    q->ntabs = g.ntabs;
    q->tab[0] = g.tab[0];
    q->tab[1] = g.tab[1];

    int grouped = g.ntabs > 0 && chance(o, 35);
    int distinct = !grouped && chance(o, 15);
    int ncols = 1 + (int)rnd(o, 4);
    /* GROUP BY keys first (they are leaves of the select list) */
    Sb keys[4] = {{0}};
    if (grouped) {
        g.nkeys = (int)rnd(o, 3);
        for (int i = 0; i < g.nkeys; i++) {
            Gen k = g;
            k.b = &keys[i];
            k.mode = M_ROW;
            g.keys[i].ty = group_key(&k);
            g.keys[i].text = keys[i].p;
        }
        g.mode = M_GROUP;
    }
    sb_add(b, "SELECT %s", distinct ? "DISTINCT " : "");
    for (int i = 0; i < ncols; i++) {
        if (i)
            sb_add(b, ", ");
        if (grouped && i < g.nkeys && chance(o, 70))
            sb_add(b, "%s", g.keys[i].text);
        else
            gen(&g, (int)rnd(o, 4), (int)rnd(o, 4));
        if (chance(o, 20))
            sb_add(b, " AS c%d", i);
    }
    sb_add(b, "%s", from.p);
    sb_free(&from);
    if (chance(o, 75)) {
        Gen w = g;
        w.mode = M_ROW;
        w.ps = &q->ps;
        sb_add(b, " WHERE ");
        gen(&w, TY_BOOL, 1 + (int)rnd(o, 3));
    }
    if (grouped && g.nkeys) {
        sb_add(b, " GROUP BY ");
        for (int i = 0; i < g.nkeys; i++)
            sb_add(b, "%s%s", i ? ", " : "", g.keys[i].text);
    }
    if (grouped && chance(o, 35)) {
        sb_add(b, " HAVING ");
        gen(&g, TY_BOOL, 1 + (int)rnd(o, 2));
    }
    if (chance(o, 55)) {
        q->ordered = 1;
        sb_add(b, " ORDER BY ");
        int n = (int)rnd(o, 3);
        for (int i = 0; i < n; i++) {
            if (distinct || chance(o, 30)) {
                sb_add(b, "%d", 1 + (int)rnd(o, (uint64_t)ncols));
            } else {
                /* SQLite reads 2, +1, ++2 and -(-3) as column numbers:
                 * regenerate a term that starts with a number */
                for (;;) {
                    size_t at = b->n;
                    gen(&g, (int)rnd(o, 4), (int)rnd(o, 3));
                    const char *p = b->p + at;
                    while (*p == '+' || *p == '-' || *p == '(')
                        p++;
                    if (!(*p >= '0' && *p <= '9'))
                        break;
                    b->n = at;
                    b->p[at] = 0;
                }
            }
            sb_add(b, "%s, ", rnd(o, 2) ? " DESC" : rnd(o, 2) ? " ASC" : "");
        }
        /* every output column as a tie-breaker: a total order */
        for (int i = 0; i < ncols; i++)
            sb_add(b, "%s%d%s", i ? ", " : "", i + 1, chance(o, 30) ? " DESC" : "");
        if (!o->avoid_known && chance(o, 45)) {
            sb_add(b, " LIMIT %d", (int)rnd(o, 25));
            if (chance(o, 50))
                sb_add(b, " OFFSET %d", (int)rnd(o, 15));
        }
    }
    for (int i = 0; i < 4; i++)
        sb_free(&keys[i]);
}

/* After a mismatch: BlazeDB's plan, to see which access path failed. */
static void print_plan(Ox *o, const char *sql)
{
    char *plan = NULL;
    if (blazedb_explain(o->db, sql, 0, &plan) == BLAZEDB_OK && plan)
        fprintf(stderr, "  BlazeDB plan:\n%s\n", plan);
    blazedb_free(plan);
}

/* Runs q on SQLite and on both BlazeDB copies; compares. */
static void run_query(Ox *o, Query *q)
{
    const char *n1 = TABLES[q->tab[0]].name, *n2 = TABLES[1].name;
    char *ls = expand(q->text.p, n1, n2);
    char *is = expand(q->text.p, TABLES[q->tab[0]].iname, TABLES[1].iname);
    Res lite, blz;
    lite_run(o->lite, ls, &q->ps, &lite);
    o->queries++;
    if (lite.rc && strstr(lite.err, "integer overflow") == NULL) {
        /* the generator made something SQLite rejects: count it */
        o->lite_rejects++;
        if (o->verbose)
            fprintf(stderr, "sqlite rejects: %s: %s\n", ls, lite.err);
        res_free(&lite);
        free(ls);
        free(is);
        return;
    }
    blz_run(o->db, ls, &q->ps, &blz);
    if (!compare(o, "no indexes", ls, &q->ps, &lite, &blz, q->ordered))
        print_plan(o, ls);
    res_free(&blz);
    blz_run(o->db, is, &q->ps, &blz);
    if (!compare(o, "indexed copy", is, &q->ps, &lite, &blz, q->ordered))
        print_plan(o, is);
    res_free(&blz);
    res_free(&lite);
    free(ls);
    free(is);
}

/* ---- data loading and writes ------------------------------------------------------------------- */

/* One random row of table ti as values; NULL cells: t = 0 and *missing
 * says whether BlazeDB leaves the field out. */
static void rand_row(Ox *o, int ti, Val *vals, int *missing)
{
    const Table *t = &TABLES[ti];
    int row = o->next_row[ti]++;
    for (size_t c = 0; c < t->ncols; c++) {
        missing[c] = 0;
        if (c > 0 && chance(o, 12)) {
            memset(&vals[c], 0, sizeof vals[c]);
            missing[c] = chance(o, 50);
            if (strcmp(t->cols[c].name, "u") == 0)
                o->next_u++;
            continue;
        }
        rand_value(o, ti, &t->cols[c], &vals[c], row);
    }
}

/* Inserts a row into SQLite and into BlazeDB's two copies.  Table 0 goes
 * into BlazeDB as a document (blazedb_insert), table 1 through a prepared
 * INSERT with bound parameters (a missing field is left out of the
 * column list). */
static void insert_row(Ox *o, int ti, BlazeDBTxn *txn)
{
    const Table *t = &TABLES[ti];
    Val vals[16];
    int missing[16];
    rand_row(o, ti, vals, missing);
    /* SQLite */
    Sb s = {0};
    sb_add(&s, "INSERT INTO %s VALUES (", t->name);
    for (size_t c = 0; c < t->ncols; c++)
        sb_add(&s, "%s?", c ? ", " : "");
    sb_add(&s, ")");
    sqlite3_stmt *ls = NULL;
    assert_int_equal(sqlite3_prepare_v2(o->lite, s.p, -1, &ls, NULL), SQLITE_OK);
    for (size_t c = 0; c < t->ncols; c++)
        lite_bind(ls, (int)c + 1, &vals[c]);
    assert_int_equal(sqlite3_step(ls), SQLITE_DONE);
    sqlite3_finalize(ls);
    sb_free(&s);
    /* BlazeDB */
    for (int copy = 0; copy < 2; copy++) {
        const char *coll = copy ? t->iname : t->name;
        if (ti == 0) {
            BlazeDBDoc *d = NULL;
            assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
            for (size_t c = 0; c < t->ncols; c++) {
                const char *f = t->cols[c].name;
                const Val *v = &vals[c];
                BlazeDBResult rc = BLAZEDB_OK;
                if (v->t == 1)
                    rc = blazedb_doc_set_int(d, f, v->i);
                else if (v->t == 2)
                    rc = blazedb_doc_set_double(d, f, v->d);
                else if (v->t == 3)
                    rc = blazedb_doc_set_stringn(d, f, v->s, v->n);
                else if (!missing[c])
                    rc = blazedb_doc_set_null(d, f);
                assert_int_equal(rc, BLAZEDB_OK);
            }
            BlazeDBResult rc = blazedb_insert(o->db, txn, coll, d);
            if (rc)
                fail_msg("insert into %s: %s", coll, blazedb_errmsg(o->db));
            blazedb_doc_free(d);
        } else {
            Sb q = {0};
            sb_add(&q, "INSERT INTO %s (", coll);
            int n = 0;
            for (size_t c = 0; c < t->ncols; c++)
                if (!missing[c])
                    sb_add(&q, "%s%s", n++ ? ", " : "", t->cols[c].name);
            sb_add(&q, ") VALUES (");
            for (int i = 0; i < n; i++)
                sb_add(&q, "%s?", i ? ", " : "");
            sb_add(&q, ")");
            BlazeDBStmt *st = NULL;
            assert_int_equal(blazedb_prepare(o->db, q.p, (size_t)-1, &st, NULL), BLAZEDB_OK);
            if (txn)
                assert_int_equal(blazedb_stmt_set_txn(st, txn), BLAZEDB_OK);
            int k = 1;
            for (size_t c = 0; c < t->ncols; c++)
                if (!missing[c])
                    blz_bind(st, k++, &vals[c]);
            BlazeDBResult rc = blazedb_step(st);
            if (rc != BLAZEDB_DONE)
                fail_msg("%s: %s", q.p, blazedb_errmsg(o->db));
            assert_int_equal(blazedb_stmt_changes(st), 1);
            blazedb_finalize(st);
            sb_free(&q);
        }
    }
    for (size_t c = 0; c < t->ncols; c++)
        val_clear(&vals[c]);
}

typedef struct {
    const char *name;
    int table;
    const char *cols;     /* column list as written */
    int unique;
    const char *where;    /* partial, or NULL */
} IndexDef;

static const IndexDef INDEXES[] = {
    {"ix1_a", 0, "a", 0, NULL},
    {"ix1_d_c", 0, "d, c DESC", 0, NULL},
    {"ix1_b", 0, "b DESC", 0, NULL},
    {"ix1_c", 0, "c", 0, NULL},
    {"ix1_u", 0, "u", 1, NULL},
    {"ix1_a_b", 0, "a, b", 0, NULL},
    {"ix1_e_part", 0, "e", 0, "d > 10"},
    {"ix1_f", 0, "f DESC, a", 0, NULL},
    {"ix2_k", 1, "k", 0, NULL},
    {"ix2_r", 1, "r", 0, NULL},
    {"ix2_c_a", 1, "c, a DESC", 0, NULL},
    {"ix2_a", 1, "a DESC", 0, NULL},
    {"ix2_b_part", 1, "b", 0, "a >= 0"},
};
#define NINDEXES (sizeof INDEXES / sizeof INDEXES[0])

static void create_indexes(Ox *o, int lite_too)
{
    for (size_t i = 0; i < NINDEXES; i++) {
        const IndexDef *x = &INDEXES[i];
        if (!chance(o, 75))
            continue;
        if (o->avoid_known && strstr(x->cols, "DESC"))
            continue;
        Sb s = {0};
        sb_add(&s, "CREATE %sINDEX %s ON %s (%s)%s%s", x->unique ? "UNIQUE " : "", x->name,
               TABLES[x->table].iname, x->cols, x->where ? " WHERE " : "",
               x->where ? x->where : "");
        BlazeDBResult rc = blazedb_exec(o->db, s.p, NULL, NULL);
        if (rc)
            fail_msg("seed %" PRIu64 ": %s: %s (%s)", o->seed, s.p, blazedb_strerror(rc),
                     blazedb_errmsg(o->db));
        if (lite_too) {
            Sb l = {0};
            sb_add(&l, "CREATE %sINDEX %s ON %s (%s)%s%s", x->unique ? "UNIQUE " : "", x->name,
                   TABLES[x->table].name, x->cols, x->where ? " WHERE " : "",
                   x->where ? x->where : "");
            lite_exec(o->lite, l.p);
            sb_free(&l);
        }
        sb_free(&s);
    }
}

/* A random UPDATE, DELETE or INSERT applied to both sides. */
static void random_write(Ox *o)
{
    int ti = (int)rnd(o, 2);
    const Table *t = &TABLES[ti];
    int kind = (int)rnd(o, 3);
    if (kind == 2) {
        int n = 1 + (int)rnd(o, 6);
        for (int i = 0; i < n; i++)
            insert_row(o, ti, NULL);
        sb_add(&o->wlog, "  %d random rows inserted into %s\n", n, t->name);
        o->writes++;
        return;
    }
    Query q;
    memset(&q, 0, sizeof q);
    Gen g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.b = &q.text;
    g.ntabs = 1;
    g.tab[0] = ti;
    g.ps = &q.ps;
    q.ps.named = chance(o, 50);
    if (kind == 0) {
        sb_add(&q.text, "UPDATE \001 SET ");
        int n = 1 + (int)rnd(o, 2);
        int used = 0, nset = 0;
        for (int i = 0; i < n; i++) {
            size_t c = 1 + rnd(o, t->ncols - 1);
            const Col *col = &t->cols[c];
            if (strcmp(col->name, "u") == 0 || (used & (1 << c)))
                continue;
            used |= 1 << c;
            sb_add(&q.text, "%s%s = ", nset++ ? ", " : "", col->name);
            if (chance(o, 10))
                sb_add(&q.text, "NULL");
            else
                gen(&g, col->ty, (int)rnd(o, 3));
        }
        if (!used) {
            query_free(&q);
            return;
        }
    } else {
        sb_add(&q.text, "DELETE FROM \001");
    }
    sb_add(&q.text, " WHERE ");
    gen(&g, TY_BOOL, 1 + (int)rnd(o, 2));
    if (kind == 1) {
        /* keep deletes small */
        sb_add(&q.text, " AND %s < %d", ti == 0 ? "d" : "k", 2 + (int)rnd(o, 3));
    }
    char *ls = expand(q.text.p, t->name, t->name);
    Res lite, blz;
    lite_run(o->lite, ls, &q.ps, &lite);
    if (lite.rc) {
        o->lite_rejects++;
        if (o->verbose)
            fprintf(stderr, "sqlite rejects: %s: %s\n", ls, lite.err);
        res_free(&lite);
        free(ls);
        query_free(&q);
        return;
    }
    for (int copy = 0; copy < 2; copy++) {
        char *bs = expand(q.text.p, copy ? t->iname : t->name, t->name);
        blz_run(o->db, bs, &q.ps, &blz);
        if (blz.rc || blz.changes != lite.changes) {
            o->failures++;
            Sb m = {0};
            sb_add(&m, "WRITE MISMATCH (seed %" PRIu64 "): %s\n", o->seed, bs);
            params_print(&m, &q.ps);
            sb_add(&m, "  SQLite changes %" PRIu64 "; BlazeDB rc %d (%s) changes %" PRIu64 "\n",
                   lite.changes, blz.rc, blz.err, blz.changes);
            fprintf(stderr, "%s", m.p);
            sb_free(&m);
        }
        res_free(&blz);
        free(bs);
    }
    o->writes++;
    sb_add(&o->wlog, "  %s (%" PRIu64 " changes)\n", ls, lite.changes);
    if (q.ps.n)
        params_print(&o->wlog, &q.ps);
    res_free(&lite);
    free(ls);
    query_free(&q);
}

/* Full contents of each table, compared (also a check of the writes). */
static void compare_tables(Ox *o, const char *when)
{
    for (int ti = 0; ti < 2; ti++) {
        const Table *t = &TABLES[ti];
        Sb s = {0};
        sb_add(&s, "SELECT ");
        for (size_t c = 0; c < t->ncols; c++)
            sb_add(&s, "%s%s", c ? ", " : "", t->cols[c].name);
        sb_add(&s, " FROM \001 ORDER BY id");
        char *ls = expand(s.p, t->name, "");
        char *is = expand(s.p, t->iname, "");
        Res lite, blz;
        lite_run(o->lite, ls, NULL, &lite);
        assert_int_equal(lite.rc, SQLITE_OK);
        blz_run(o->db, ls, NULL, &blz);
        int ok = compare(o, when, ls, NULL, &lite, &blz, 1);
        res_free(&blz);
        blz_run(o->db, is, NULL, &blz);
        ok &= compare(o, when, is, NULL, &lite, &blz, 1);
        if (!ok && o->wlog.p)
            fprintf(stderr, "  the writes since the last comparison:\n%s", o->wlog.p);
        res_free(&blz);
        res_free(&lite);
        free(ls);
        free(is);
        sb_free(&s);
    }
    sb_free(&o->wlog);
}

static void ox_open(Ox *o, const char *name)
{
    memset(o, 0, sizeof *o);
    o->seed = tu_seed(name);
    tu_rng_seed(&o->rng, o->seed);
    o->verbose = getenv("ORACLE_VERBOSE") != NULL;
    o->avoid_known = getenv("ORACLE_AVOID_KNOWN") != NULL;
    o->dir = tu_mkdtemp("sqloracle");
    assert_non_null(o->dir);
    char *path = tu_path(o->dir, "o.blazedb");
    BlazeDBOptions opts;
    tu_fast_opts(&opts);
    opts.durability = BLAZEDB_DURABILITY_OFF;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &opts, &o->db), BLAZEDB_OK);
    free(path);
    assert_int_equal(sqlite3_open(":memory:", &o->lite), SQLITE_OK);
    o->next_u = (int64_t)rnd(o, 10);
}

static void ox_close(Ox *o)
{
    sb_free(&o->wlog);
    sqlite3_close(o->lite);
    blazedb_close(o->db);
    tu_rmrf(o->dir);
    free(o->dir);
}

static void load(Ox *o, int n1, int n2)
{
    for (int ti = 0; ti < 2; ti++) {
        const Table *t = &TABLES[ti];
        Sb s = {0};
        sb_add(&s, "CREATE TABLE %s (", t->name);
        for (size_t c = 0; c < t->ncols; c++)
            sb_add(&s, "%s%s", c ? ", " : "", t->cols[c].name);
        sb_add(&s, ")");
        lite_exec(o->lite, s.p);
        sb_free(&s);
        BlazeDBCollectionOptions co;
        blazedb_collection_options_init(&co);
        co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
        assert_int_equal(blazedb_collection_create(o->db, NULL, t->name, &co), BLAZEDB_OK);
        assert_int_equal(blazedb_collection_create(o->db, NULL, t->iname, &co), BLAZEDB_OK);
    }
    BlazeDBTxn *txn = NULL;
    assert_int_equal(blazedb_txn_begin(o->db, 0, &txn), BLAZEDB_OK);
    lite_exec(o->lite, "BEGIN");
    /* half the rows before the indexes exist (bulk build), half after */
    for (int i = 0; i < n1 / 2; i++)
        insert_row(o, 0, txn);
    for (int i = 0; i < n2 / 2; i++)
        insert_row(o, 1, txn);
    assert_int_equal(blazedb_txn_commit(txn), BLAZEDB_OK);
    lite_exec(o->lite, "COMMIT");
    create_indexes(o, chance(o, 50));
    assert_int_equal(blazedb_txn_begin(o->db, 0, &txn), BLAZEDB_OK);
    for (int i = n1 / 2; i < n1; i++)
        insert_row(o, 0, txn);
    for (int i = n2 / 2; i < n2; i++)
        insert_row(o, 1, txn);
    assert_int_equal(blazedb_txn_commit(txn), BLAZEDB_OK);
}

/* Prints the summary; returns the number of mismatches (the caller
 * closes everything, then fails when it is not 0, so that a failure leaves
 * no leaks behind to confuse the sanitizers). */
static long report(Ox *o, const char *name)
{
    fprintf(stderr,
            "%s: seed %" PRIu64 ": %ld queries, %ld rows compared, %ld errors in both, %ld "
            "rejected by SQLite (generator), %ld writes, %ld mismatches\n",
            name, o->seed, o->queries, o->rows_compared, o->both_errors, o->lite_rejects,
            o->writes, o->failures);
    if (o->skipped)
        fprintf(stderr, "%s: %ld BlazeDB errors matched ORACLE_SKIP_ERR (not compared)\n", name,
                o->skipped);
    return o->failures + o->skipped;
}

static void finish(Ox *o, const char *name)
{
    long bad = report(o, name);
    uint64_t seed = o->seed;
    ox_close(o);
    if (bad)
        fail_msg("%ld mismatches between BlazeDB and SQLite (seed %" PRIu64 ")", bad, seed);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_random_queries(void **state)
{
    (void)state;
    Ox o;
    ox_open(&o, "test_sql_oracle");
    load(&o, 300, 100);
    compare_tables(&o, "after loading");
    long total = tu_long_tests() ? 100000 : 12000;
#if defined(__SANITIZE_ADDRESS__)
    total /= 3; /* the sanitizers make each query several times slower */
#endif
    const char *env = getenv("ORACLE_QUERIES");
    if (env)
        total = atol(env);
    for (long i = 0; i < total; i++) {
        Query q;
        gen_query(&o, &q);
        run_query(&o, &q);
        query_free(&q);
        if (i % 100 == 99) {
            int n = 1 + (int)rnd(&o, 4);
            for (int k = 0; k < n; k++)
                random_write(&o);
            compare_tables(&o, "after writes");
        }
        if (o.failures >= 30) {
            fprintf(stderr, "stopping after %ld mismatches\n", o.failures);
            break;
        }
    }
    compare_tables(&o, "at the end");
    finish(&o, "test_random_queries");
}

/* Fixed queries whose answers must agree, run through the same harness:
 * edge cases of the functions and of rendering doubles. */
static void test_fixed_queries(void **state)
{
    (void)state;
    Ox o;
    ox_open(&o, "test_sql_oracle_fixed");
    load(&o, 60, 30);
    static const char *const qs[] = {
        "SELECT 2.0 || '', 0.5 || 'x', 1e15 || '', 1099511627776.5 || '', -0.25 || ''",
        "SELECT (0.0 * -1) || '', (1.0 / 3) || '', 100.0 || '', 1e100 || ''",
        "SELECT round(2.5), round(-2.5), round(2.25, 1), round(2.675, 2), round(0.5, 0)",
        "SELECT typeof(1), typeof(1.0), typeof('a'), typeof(NULL), typeof(1 = 1)",
        "SELECT substr('abcdef', 0, 2), substr('abcdef', -2), substr('abcdef', 2, -1), "
        "substr('\xc3\xa9t\xc3\xa9', 2, 1)",
        "SELECT length('\xc3\xa9t\xc3\xa9'), length(12.5), length(-3), upper('\xc3\xa9" "a'), "
        "lower('AbC')",
        "SELECT trim('  a  '), ltrim('xxaxx', 'x'), rtrim('xxaxx', 'x'), trim('abcba', 'ab')",
        "SELECT replace('aaa', 'a', 'bb'), replace('abc', '', 'x'), instr('abcabc', 'ca'), "
        "instr('abc', '')",
        "SELECT 'abc' LIKE 'A_C', 'a%c' LIKE 'a!%c' ESCAPE '!', 'abc' LIKE '%', '' LIKE '%', "
        "'ab' LIKE 'a'",
        "SELECT 1 < 'a', 2 = 2.0, 'B' < 'a', NULL = NULL, NULL IS NULL, 1 IS 1.0",
        "SELECT min(3, 1.0, 2), max('a', 'B'), coalesce(NULL, NULL, 3), nullif(2, 2.0), "
        "ifnull(NULL, 'x')",
        "SELECT 5 IN (1, 2, NULL), 5 NOT IN (1, 2), NULL IN (1), 2 BETWEEN 1 AND 3, "
        "'b' BETWEEN 'a' AND 'c'",
        "SELECT CASE 2 WHEN 2.0 THEN 'two' ELSE 'other' END, CASE WHEN NULL THEN 1 ELSE 0 END",
        "SELECT count(*), count(a), count(DISTINCT a), sum(a), avg(a), min(a), max(a), "
        "total(a) FROM t1",
        "SELECT count(*), sum(a), avg(b), min(c), max(c), total(e) FROM t1 WHERE 0",
        "SELECT a, count(*), sum(b), avg(e) FROM t1 GROUP BY a ORDER BY 1",
        "SELECT c, count(*) FROM t1 GROUP BY c HAVING count(*) > 1 ORDER BY 2 DESC, 1",
        "SELECT DISTINCT a FROM t1 ORDER BY 1 DESC",
        "SELECT x.id, y.id FROM t1 x JOIN t2 y ON x.id = y.r ORDER BY 1, 2",
        "SELECT x.id, y.id FROM t1 x LEFT JOIN t2 y ON x.d = y.k ORDER BY 1, 2",
        "SELECT x.a, count(y.id) FROM t1 x LEFT JOIN t2 y ON x.a = y.a GROUP BY x.a ORDER BY 1",
        "SELECT id, a FROM t1 ORDER BY a DESC, id LIMIT 5 OFFSET 3",
        "SELECT id FROM t1 WHERE c LIKE '%a%' AND b > 0 ORDER BY id",
        "SELECT sum(DISTINCT d), count(DISTINCT c), avg(DISTINCT b) FROM t1",
        "SELECT -a, +c, NOT a, a AND b, a OR NULL FROM t1 ORDER BY id LIMIT 20",
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        Res lite, blz;
        lite_run(o.lite, qs[i], NULL, &lite);
        if (lite.rc)
            fail_msg("sqlite: %s: %s", qs[i], lite.err);
        blz_run(o.db, qs[i], NULL, &blz);
        compare(&o, "fixed", qs[i], NULL, &lite, &blz, strstr(qs[i], "ORDER BY") != NULL);
        res_free(&lite);
        res_free(&blz);
        char *is = NULL;
        /* and on the indexed copies */
        Sb s = {0};
        for (const char *p = qs[i]; *p; p++) {
            if ((p[0] == 't') && (p[1] == '1' || p[1] == '2') && (p == qs[i] || p[-1] == ' '))
                sb_add(&s, "i");
            else
                sb_add(&s, "%c", *p);
        }
        is = s.p;
        lite_run(o.lite, qs[i], NULL, &lite);
        blz_run(o.db, is, NULL, &blz);
        compare(&o, "fixed, indexed copy", is, NULL, &lite, &blz,
                strstr(qs[i], "ORDER BY") != NULL);
        res_free(&lite);
        res_free(&blz);
        free(is);
    }
    finish(&o, "test_fixed_queries");
}

static BlazeDBResult blz_error(BlazeDB *db, const char *sql)
{
    Res r;
    blz_run(db, sql, NULL, &r);
    BlazeDBResult rc = (BlazeDBResult)r.rc;
    res_free(&r);
    return rc;
}

/* What BlazeDB deliberately does differently from SQLite (errors where
 * SQLite returns NULL or converts text to a number), asserted once so the
 * random test need not generate them. */
static void test_documented_differences(void **state)
{
    (void)state;
    Ox o;
    ox_open(&o, "test_sql_oracle_diff");
    load(&o, 20, 10);
    assert_int_not_equal(blz_error(o.db, "SELECT 1 / 0"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT 1.5 / 0"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT 5 % 0"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT 'a' + 1"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT '3' * 2"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT -'x'"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT abs('x')"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT 'a' LIKE 'a!' ESCAPE '!'"), BLAZEDB_OK);
    assert_int_not_equal(blz_error(o.db, "SELECT c + 1 FROM t1 WHERE c IS NOT NULL"), BLAZEDB_OK);
    /* division that is defined gives what SQLite gives */
    Res lite, blz;
    const char *q = "SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3, 7.0 / 2, 7 / 2.0, 7.5 % 2";
    lite_run(o.lite, q, NULL, &lite);
    blz_run(o.db, q, NULL, &blz);
    assert_true(compare(&o, "division", q, NULL, &lite, &blz, 1));
    res_free(&lite);
    res_free(&blz);
    finish(&o, "test_documented_differences");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_queries),
        cmocka_unit_test(test_documented_differences),
        cmocka_unit_test(test_random_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
