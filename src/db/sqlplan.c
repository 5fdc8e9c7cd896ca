/*
 * sqlplan.c — SQL SELECT: binding names to tables and fields, choosing an
 * access path for each table (cost-based), the operators that run a plan
 * (pull model: open / next / close), and EXPLAIN [ANALYZE].
 *
 * Owns: plans and their execution.  Not: parsing and expression semantics
 * (query/sql*.c), the statement API, transactions and writes (sqlapi.c).
 *
 * Access paths, for each table of the FROM clause:
 *   - Scan: the collection's document tree in id order (also what gives
 *     ORDER BY id without sorting);
 *   - Lookup: id = e / id IN (...), point reads of the document tree;
 *   - IndexScan: an index's entries between key bounds built from
 *     equality (=, IN, IS NULL, CONTAINS on an each-field) on a prefix of
 *     its fields and a range (<, <=, >, >=, BETWEEN) on the next one, then
 *     the documents they name; in index order, forwards or backwards, so
 *     an ORDER BY that the index supplies needs no sort;
 *   - IndexCount: count(*) answered from index entries alone, when the
 *     bounds express the whole WHERE clause;
 *   - Union: an OR of indexable terms, one index scan per term, ids
 *     de-duplicated.
 * The planner estimates rows from the collection's document count and
 * each index's distinct-value statistics (index.h) and picks the cheapest
 * path, counting the sort a path leaves to do.  Joins run left to right:
 * an index nested-loop join when the inner table has an id or index
 * lookup on the join key, else a hash join on an equality, else a nested
 * loop.  Conjuncts are applied at the first operator where every table
 * they mention is bound (for LEFT JOIN, WHERE conjuncts on the inner table
 * wait until after the join).
 *
 * Memory: sorts, groupings, DISTINCT and hash-join tables count the bytes
 * they hold and fail past SQLX_MEM_LIMIT with a message (no spilling).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlexec.h"
#include "db.h"
#include "../btree/btree.h"
#include "../doc/docbin.h"
#include "../doc/textbuf.h"
#include "../index/keyenc.h"

/* ---- small utilities ------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- operators ---------------------------------------------------------------------- */

typedef enum {
    NK_ONEROW = 1, /* SELECT without FROM: one empty row */
    NK_SCAN,       /* table scan (document tree) */
    NK_LOOKUP,     /* id = / id IN */
    NK_IXSCAN,     /* index range scan */
    NK_IXCOUNT,    /* count(*) from index entries */
    NK_COUNTALL,   /* count(*) of a whole collection from its counters */
    NK_UNION,      /* OR of index scans */
    NK_INTERSECT,  /* AND of index scans: ids in every arm's entries */
    NK_FILTER,     /* conds over the child's rows */
    NK_NLJOIN,     /* child = outer, inner = access node re-opened per row */
    NK_HASHJOIN,   /* child = outer, inner = access node run once (build) */
    NK_AGG,        /* grouping and aggregates */
    NK_PROJECT,    /* output columns (+ hidden sort keys) */
    NK_SORT,       /* sort (top-K with a limit) */
    NK_DISTINCT,
    NK_LIMIT
} NodeKind;

/* How one index field is constrained for a scan. */
enum { EQ_VALUE = 1, EQ_IN, EQ_NULL };

typedef struct {
    int idx;                           /* index number in the table */
    int neq;                           /* fields with an equality */
    int eqkind[IDX_MAX_FIELDS];
    SqlExpr *eq[IDX_MAX_FIELDS];       /* EQ_VALUE: the value; EQ_IN: the IN node */
    SqlExpr *lo, *hi;                  /* range on field neq (value order) */
    int lo_incl, hi_incl;
    int reverse;                       /* walk backwards (ORDER BY ... DESC) */
    int dedupe;                        /* several entries per document possible */
} IxSpec;

struct SqlxNode {
    NodeKind kind;
    SqlxNode *child;       /* outer / input */
    SqlxNode *inner;       /* joins */
    SqlxNode **arms;       /* union */
    size_t narms;
    int table;             /* access nodes */
    SqlExpr **conds;       /* conjuncts tested on this node's rows */
    size_t nconds;
    int consumed_all;      /* (IXCOUNT) */
    IxSpec ix;
    SqlExpr *lookup;       /* NK_LOOKUP: = value, or an IN node */
    int reverse;           /* NK_SCAN backwards */
    int left;              /* LEFT JOIN */
    SqlExpr *hkey_outer, *hkey_inner;  /* hash join keys */
    /* AGG */
    SqlExpr **group;
    size_t ngroup;
    /* PROJECT: output expressions (NULL = a table's whole document, see
     * star_table) then hidden sort keys */
    SqlExpr **cols;
    int *star_table;
    size_t ncols, nhidden;
    /* SORT */
    int *desc;             /* per hidden key */
    size_t nkeys;
    SqlExpr *topk_limit, *topk_offset;
    /* LIMIT */
    SqlExpr *limit, *offset;
    /* estimates and actuals */
    double est, cost;
    uint64_t rows, loops, ns;
    void *st;              /* run state */
};

static void node_free(SqlxNode *n)
{
    if (!n)
        return;
    node_free(n->child);
    node_free(n->inner);
    for (size_t i = 0; i < n->narms; i++)
        node_free(n->arms[i]);
    free(n->arms);
    free(n->conds);
    free(n->group);
    free(n->cols);
    free(n->star_table);
    free(n->desc);
    free(n);
}

static SqlxNode *node_new(NodeKind k, SqlxNode *child)
{
    SqlxNode *n = calloc(1, sizeof *n);
    if (!n) {
        node_free(child);
        return NULL;
    }
    n->kind = k;
    n->child = child;
    n->table = -1;
    return n;
}

static int node_add_cond(SqlxNode *n, SqlExpr *e)
{
    SqlExpr **c = realloc(n->conds, (n->nconds + 1) * sizeof *c);
    if (!c)
        return BLAZEDB_NOMEM;
    c[n->nconds++] = e;
    n->conds = c;
    return BLAZEDB_OK;
}

/* ---- evaluation over the current row ------------------------------------------------- */

static int col_value(SqlEvalCtx *cx, const SqlExpr *col, SqlValue *out)
{
    SqlxExec *x = cx->arg;
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    if (col->table == -2) { /* a GROUP BY expression's value */
        if (!x->group)
            return BLAZEDB_INTERNAL_ERROR;
        *out = x->group[col->slot];
        out->owned = 0;
        return BLAZEDB_OK;
    }
    if (col->table < 0 || col->table >= SQLX_MAX_TABLES)
        return BLAZEDB_INTERNAL_ERROR;
    const uint8_t *d = x->doc[col->table];
    if (!d)
        return BLAZEDB_OK; /* the NULL row of an outer join */
    DocView v;
    int rc;
    SqlExpr *cc = (SqlExpr *)col; /* its lookup cache (sql.h) */
    if (cc->simple < 0)
        cc->simple = col->path && col->path[0] && !strchr(col->path, '.')
                         ? (int)strlen(col->path) + 1
                         : 0;
    if (cc->simple > 0)
        rc = docbin_lookup_field(d, x->dlen[col->table], col->path, (size_t)cc->simple - 1,
                                 &cc->hint, &v);
    else
        rc = docbin_lookup_valid(d, x->dlen[col->table], col->path ? col->path : "", &v);
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK;
    if (rc) {
        snprintf(cx->err, sizeof cx->err, "a stored document does not decode");
        return rc;
    }
    sql_value_from_view(&v, out);
    return BLAZEDB_OK;
}

void sqlx_ctx(SqlxExec *x, SqlEvalCtx *cx)
{
    memset(cx, 0, sizeof *cx);
    cx->column = col_value;
    cx->arg = x;
    cx->params = x->params;
    cx->nparams = x->nparams;
    cx->aggs = x->aggv;
    cx->now_ms = x->now_ms;
}

/* Evaluates e; on error copies the message into x->err.  The context is
 * set up once per run (sqlx_open); only what changes per row is updated. */
static int eval(SqlxExec *x, const SqlExpr *e, SqlValue *out)
{
    SqlEvalCtx *cx = &x->cx;
    if (cx->arg != x)
        sqlx_ctx(x, cx);
    cx->aggs = x->aggv;
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    int rc = sql_eval(e, cx, out);
    if (rc) {
        snprintf(x->err, sizeof x->err, "%s", cx->err[0] ? cx->err : blazedb_strerror(rc));
        cx->err[0] = 0;
        sql_value_clear(out);
    }
    return rc;
}

/* 1 when every cond is true, 0 when one is not, <0 error (negated). */
static int conds_pass(SqlxExec *x, SqlExpr **conds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        SqlValue v;
        int rc = eval(x, conds[i], &v);
        if (rc)
            return -rc;
        int t = sql_truth(&v);
        sql_value_clear(&v);
        if (t != 1)
            return 0;
    }
    return 1;
}

static int interrupted(SqlxExec *x)
{
    if (db_interrupts(x->db) != x->intr) {
        snprintf(x->err, sizeof x->err, "interrupted");
        return 1;
    }
    return 0;
}

/* ---- memory accounting ---------------------------------------------------------------- */

static size_t value_mem(const SqlValue *v) { return sizeof *v + (v->owned ? v->len : 0); }

static int mem_charge(SqlxExec *x, size_t *used, size_t n, const char *what)
{
    *used += n;
    if (*used > SQLX_MEM_LIMIT) {
        snprintf(x->err, sizeof x->err,
                 "the %s needs more than %u MiB of memory; add an index, a LIMIT or a "
                 "narrower WHERE",
                 what, (unsigned)(SQLX_MEM_LIMIT >> 20));
        return BLAZEDB_NOMEM;
    }
    return BLAZEDB_OK;
}

/* ---- a hash set of byte strings (ids for de-duplication) ------------------------------- */

typedef struct {
    uint8_t **k;
    size_t *kl;
    size_t cap, n;
} IdSet;

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* 1 when added, 0 when present, <0 on NOMEM. */
static int idset_add(IdSet *s, const void *k, size_t kl)
{
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint8_t **nk = calloc(cap, sizeof *nk);
        size_t *nl = calloc(cap, sizeof *nl);
        if (!nk || !nl) {
            free(nk);
            free(nl);
            return -BLAZEDB_NOMEM;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i]) {
                size_t j = fnv(s->k[i], s->kl[i]) & (cap - 1);
                while (nk[j])
                    j = (j + 1) & (cap - 1);
                nk[j] = s->k[i];
                nl[j] = s->kl[i];
            }
        free(s->k);
        free(s->kl);
        s->k = nk;
        s->kl = nl;
        s->cap = cap;
    }
    size_t j = fnv(k, kl) & (s->cap - 1);
    while (s->k[j]) {
        if (s->kl[j] == kl && memcmp(s->k[j], k, kl) == 0)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    uint8_t *c = malloc(kl ? kl : 1);
    if (!c)
        return -BLAZEDB_NOMEM;
    memcpy(c, k, kl);
    s->k[j] = c;
    s->kl[j] = kl;
    s->n++;
    return 1;
}

static int idset_has(const IdSet *s, const void *k, size_t kl)
{
    if (!s->cap)
        return 0;
    size_t j = fnv(k, kl) & (s->cap - 1);
    while (s->k[j]) {
        if (s->kl[j] == kl && memcmp(s->k[j], k, kl) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

static void idset_free(IdSet *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->k[i]);
    free(s->k);
    free(s->kl);
    memset(s, 0, sizeof *s);
}

/* ---- index key bounds ------------------------------------------------------------------- */

typedef struct {
    uint8_t *lo, *hi; /* scan keys in [lo, hi) (memcmp) */
    size_t lol, hil;
} KeyRange;

/* Encodes one scalar value (as a component of field f). */
static int enc_value(KeyBuf *b, const SqlValue *v, int desc)
{
    if (v->type == DOC_NULL)
        return keyenc_null(b, desc);
    DocValue *dv = NULL;
    int rc = sql_value_to_doc(v, &dv);
    if (rc)
        return rc;
    rc = keyenc_value(b, dv, desc);
    doc_free(dv);
    return rc;
}

typedef struct {
    KeyRange *r;
    size_t n, cap;
} RangeList;

static int ranges_push(RangeList *l, KeyBuf *lo, KeyBuf *hi)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        KeyRange *r = realloc(l->r, cap * sizeof *r);
        if (!r)
            return BLAZEDB_NOMEM;
        l->r = r;
        l->cap = cap;
    }
    l->r[l->n].lo = lo->p;
    l->r[l->n].lol = lo->len;
    l->r[l->n].hi = hi->p;
    l->r[l->n].hil = hi->len;
    l->n++;
    memset(lo, 0, sizeof *lo);
    memset(hi, 0, sizeof *hi);
    return BLAZEDB_OK;
}

static void ranges_free(RangeList *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->r[i].lo);
        free(l->r[i].hi);
    }
    free(l->r);
    memset(l, 0, sizeof *l);
}

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int range_cmp(const void *a, const void *b)
{
    const KeyRange *x = a, *y = b;
    return keycmp(x->lo, x->lol, y->lo, y->lol);
}

#define MAX_RANGES 100000

/* Builds the key ranges of spec for index d: the cartesian product of the
 * equality values (IN lists), each with the range on the next field.
 * Ranges come out sorted and non-overlapping (equal prefixes merged). */
static int build_ranges(SqlxExec *x, const IxSpec *s, const IdxDef *d, RangeList *out)
{
    memset(out, 0, sizeof *out);
    /* values per equality field */
    SqlValue *vals[IDX_MAX_FIELDS] = {0};
    size_t nv[IDX_MAX_FIELDS] = {0};
    int rc = BLAZEDB_OK;
    size_t total = 1;
    for (int f = 0; f < s->neq && rc == BLAZEDB_OK; f++) {
        size_t cnt = s->eqkind[f] == EQ_IN ? s->eq[f]->nlist : 1;
        vals[f] = calloc(cnt ? cnt : 1, sizeof(SqlValue));
        if (!vals[f]) {
            rc = BLAZEDB_NOMEM;
            break;
        }
        for (size_t i = 0; i < cnt && rc == BLAZEDB_OK; i++) {
            SqlValue v;
            if (s->eqkind[f] == EQ_NULL) {
                memset(&v, 0, sizeof v);
                v.type = DOC_NULL;
            } else if ((rc = eval(x, s->eqkind[f] == EQ_IN ? s->eq[f]->list[i] : s->eq[f], &v))) {
                break;
            }
            /* = NULL matches nothing (unknown); IN drops null members */
            if (v.type == DOC_NULL && s->eqkind[f] != EQ_NULL) {
                sql_value_clear(&v);
                continue;
            }
            vals[f][nv[f]++] = v;
        }
        total *= nv[f] ? nv[f] : 0;
        if (total > MAX_RANGES) {
            snprintf(x->err, sizeof x->err, "too many index ranges (IN lists multiply to more than %d)",
                     MAX_RANGES);
            rc = BLAZEDB_SQL_ERROR;
        }
    }
    SqlValue lo = {.type = DOC_NULL}, hi = {.type = DOC_NULL};
    int have_lo = 0, have_hi = 0;
    if (rc == BLAZEDB_OK && s->lo) {
        if ((rc = eval(x, s->lo, &lo)) == BLAZEDB_OK)
            have_lo = 1;
    }
    if (rc == BLAZEDB_OK && s->hi) {
        if ((rc = eval(x, s->hi, &hi)) == BLAZEDB_OK)
            have_hi = 1;
    }
    /* a comparison with NULL is unknown: no rows */
    int empty = (have_lo && lo.type == DOC_NULL) || (have_hi && hi.type == DOC_NULL);
    if (rc == BLAZEDB_OK && !empty && total > 0) {
        size_t idx[IDX_MAX_FIELDS] = {0};
        for (size_t done = 0; done < total && rc == BLAZEDB_OK; done++) {
            KeyBuf p = {0};
            for (int f = 0; f < s->neq && rc == BLAZEDB_OK; f++)
                rc = enc_value(&p, &vals[f][idx[f]], d->fields[f].desc);
            KeyBuf lk = {0}, hk = {0};
            if (rc == BLAZEDB_OK)
                rc = keybuf_put(&lk, p.p, p.len);
            if (rc == BLAZEDB_OK)
                rc = keybuf_put(&hk, p.p, p.len);
            if (rc == BLAZEDB_OK && s->neq < (int)d->nfields && (s->lo || s->hi)) {
                int desc = d->fields[s->neq].desc;
                /* value bounds -> key bounds; a missing lower value bound
                 * still excludes nulls (a comparison with null is unknown) */
                SqlValue nul = {.type = DOC_NULL};
                const SqlValue *vlo = have_lo ? &lo : &nul;
                int vlo_incl = have_lo ? s->lo_incl : 0;
                if (!desc) {
                    rc = enc_value(&lk, vlo, 0);
                    if (rc == BLAZEDB_OK && !vlo_incl)
                        rc = keybuf_put(&lk, "\xff", 1);
                    if (rc == BLAZEDB_OK && have_hi) {
                        rc = enc_value(&hk, &hi, 0);
                        if (rc == BLAZEDB_OK && s->hi_incl)
                            rc = keybuf_put(&hk, "\xff", 1);
                    } else if (rc == BLAZEDB_OK) {
                        rc = keybuf_put(&hk, "\xff", 1);
                    }
                } else {
                    if (have_hi) {
                        rc = enc_value(&lk, &hi, 1);
                        if (rc == BLAZEDB_OK && !s->hi_incl)
                            rc = keybuf_put(&lk, "\xff", 1);
                    }
                    if (rc == BLAZEDB_OK) {
                        rc = enc_value(&hk, vlo, 1);
                        if (rc == BLAZEDB_OK && vlo_incl)
                            rc = keybuf_put(&hk, "\xff", 1);
                    }
                }
            } else if (rc == BLAZEDB_OK) {
                rc = keybuf_put(&hk, "\xff", 1);
            }
            if (rc == BLAZEDB_OK && keycmp(lk.p, lk.len, hk.p, hk.len) < 0)
                rc = ranges_push(out, &lk, &hk);
            free(p.p);
            free(lk.p);
            free(hk.p);
            /* next combination */
            for (int f = s->neq - 1; f >= 0; f--) {
                if (++idx[f] < nv[f])
                    break;
                idx[f] = 0;
            }
        }
    }
    for (int f = 0; f < s->neq; f++) {
        for (size_t i = 0; i < nv[f]; i++)
            sql_value_clear(&vals[f][i]);
        free(vals[f]);
    }
    sql_value_clear(&lo);
    sql_value_clear(&hi);
    if (rc) {
        ranges_free(out);
        return rc;
    }
    if (out->n > 1) {
        qsort(out->r, out->n, sizeof *out->r, range_cmp);
        size_t w = 0;
        for (size_t i = 1; i < out->n; i++) {
            KeyRange *a = &out->r[w], *b = &out->r[i];
            if (keycmp(b->lo, b->lol, a->hi, a->hil) <= 0) { /* overlap: merge */
                if (keycmp(b->hi, b->hil, a->hi, a->hil) > 0) {
                    free(a->hi);
                    a->hi = b->hi;
                    a->hil = b->hil;
                } else {
                    free(b->hi);
                }
                free(b->lo);
            } else {
                out->r[++w] = *b;
            }
        }
        out->n = w + 1;
    }
    return BLAZEDB_OK;
}

/* ---- access operators -------------------------------------------------------------------- */

typedef struct {
    BtCursor *cur;       /* documents (scan), or index entries */
    BtCursor *docs;      /* documents, for index scans */
    RangeList ranges;
    size_t ri;
    int started;
    IdSet seen;
    IdSet seen2;         /* NK_INTERSECT: ids already returned */
    /* lookup */
    SqlValue *keys;
    size_t nkeys, ki;
    uint8_t *copy;       /* a fetched document (lookups) */
    /* union */
    size_t arm;
    int done;
    uint64_t count;      /* IXCOUNT / COUNTALL */
    SqlValue cval;
} AccState;

static void acc_state_free(AccState *s)
{
    if (!s)
        return;
    if (s->cur)
        btc_close(s->cur);
    if (s->docs)
        btc_close(s->docs);
    ranges_free(&s->ranges);
    idset_free(&s->seen);
    idset_free(&s->seen2);
    for (size_t i = 0; i < s->nkeys; i++)
        sql_value_clear(&s->keys[i]);
    free(s->keys);
    free(s->copy);
    free(s);
}

static int node_open(SqlxExec *x, SqlxNode *n);
static int node_next(SqlxExec *x, SqlxNode *n);
static void node_close(SqlxExec *x, SqlxNode *n);

static SqlxTable *tab_of(SqlxExec *x, SqlxNode *n) { return &x->plan->tabs[n->table]; }

/* Positions s->docs on document id; 1 when found (x->doc set), 0 not. */
static int fetch_doc(SqlxExec *x, SqlxNode *n, AccState *s, const void *id, size_t idlen)
{
    SqlxTable *t = tab_of(x, n);
    if (!t->c.docs.root.pgno || idlen == 0) /* ids are never empty */
        return 0;
    int rc;
    if (!s->docs && (rc = btc_open(x->pt, &t->c.docs, &s->docs)))
        return -rc;
    int exact = 0;
    rc = btc_seek(s->docs, id, idlen, &exact);
    if (rc == BLAZEDB_NOT_FOUND || (rc == BLAZEDB_OK && !exact))
        return 0;
    if (rc)
        return -rc;
    const void *v;
    size_t vl;
    if ((rc = btc_value(s->docs, &v, &vl)))
        return -rc;
    if (t->c.deleted && cat_doc_deleted(v, vl))
        return 0;
    x->doc[n->table] = v;
    x->dlen[n->table] = vl;
    return 1;
}

static int ix_step(SqlxNode *n, AccState *s, const char **id, size_t *idlen);

static int acc_open(SqlxExec *x, SqlxNode *n)
{
    AccState *s = calloc(1, sizeof *s);
    if (!s)
        return BLAZEDB_NOMEM;
    n->st = s;
    SqlxTable *t = tab_of(x, n);
    int rc = BLAZEDB_OK;
    if (n->kind == NK_LOOKUP) {
        size_t cnt = n->lookup->kind == SQL_E_IN ? n->lookup->nlist : 1;
        s->keys = calloc(cnt ? cnt : 1, sizeof *s->keys);
        if (!s->keys)
            return BLAZEDB_NOMEM;
        for (size_t i = 0; i < cnt && rc == BLAZEDB_OK; i++) {
            SqlValue v;
            rc = eval(x, n->lookup->kind == SQL_E_IN ? n->lookup->list[i] : n->lookup, &v);
            if (rc == BLAZEDB_OK && v.type == DOC_STRING)
                s->keys[s->nkeys++] = v;
            else if (rc == BLAZEDB_OK)
                sql_value_clear(&v); /* ids are strings: nothing else matches */
        }
        /* IN lists may repeat an id: de-duplicate */
        return rc;
    }
    if (n->kind == NK_COUNTALL) {
        s->count = t->exists ? t->c.docs.count - t->c.deleted : 0;
        return BLAZEDB_OK;
    }
    if (!t->exists)
        return BLAZEDB_OK;
    if (n->kind == NK_SCAN) {
        if (!t->c.docs.root.pgno)
            return BLAZEDB_OK;
        return btc_open(x->pt, &t->c.docs, &s->cur);
    }
    if (n->kind == NK_IXSCAN || n->kind == NK_IXCOUNT) {
        IdxDef *d = &t->idx[n->ix.idx];
        if ((rc = build_ranges(x, &n->ix, d, &s->ranges)))
            return rc;
        if (!d->root.root.pgno || s->ranges.n == 0) {
            s->done = 1;
            return BLAZEDB_OK;
        }
        if ((rc = btc_open(x->pt, &d->root, &s->cur)))
            return rc;
        if (n->kind == NK_IXCOUNT) {
            /* count every entry in the ranges now */
            for (size_t i = 0; i < s->ranges.n && rc == BLAZEDB_OK; i++) {
                KeyRange *r = &s->ranges.r[i];
                rc = r->lol ? btc_seek(s->cur, r->lo, r->lol, NULL) : btc_first(s->cur);
                if (rc == BLAZEDB_OK) {
                    uint64_t k = 0;
                    rc = btc_count_lt(s->cur, r->hi, r->hil, &k);
                    s->count += k;
                }
                if (rc == BLAZEDB_NOT_FOUND)
                    rc = BLAZEDB_OK;
            }
            return rc;
        }
        s->ri = n->ix.reverse ? s->ranges.n : 0;
        return BLAZEDB_OK;
    }
    if (n->kind == NK_UNION) {
        for (size_t i = 0; i < n->narms && rc == BLAZEDB_OK; i++)
            rc = node_open(x, n->arms[i]);
        return rc;
    }
    if (n->kind == NK_INTERSECT) {
        for (size_t i = 0; i < n->narms && rc == BLAZEDB_OK; i++)
            rc = node_open(x, n->arms[i]);
        if (rc)
            return rc;
        /* the ids of arms 1.. (index entries only), intersected */
        size_t mem = 0;
        for (size_t a = 1; a < n->narms && rc == BLAZEDB_OK; a++) {
            IdSet next = {0};
            const char *id;
            size_t idlen;
            int st;
            while ((st = ix_step(n->arms[a], n->arms[a]->st, &id, &idlen)) == 1) {
                n->arms[a]->rows++;
                if (a > 1 && !idset_has(&s->seen, id, idlen))
                    continue;
                int r = idset_add(&next, id, idlen);
                if (r < 0) {
                    st = r;
                    break;
                }
                if (r && (rc = mem_charge(x, &mem, idlen + 48, "index intersection")))
                    break;
            }
            if (st < 0)
                rc = -st;
            idset_free(&s->seen);
            s->seen = next;
        }
        return rc;
    }
    return BLAZEDB_INTERNAL_ERROR;
}

/* Next index entry in the ranges (forwards or backwards): 1 with the
 * entry's document id, 0 at the end, <0 error. */
static int ix_step(SqlxNode *n, AccState *s, const char **id, size_t *idlen)
{
    int rc;
    for (;;) {
        if (s->done)
            return 0;
        KeyRange *r;
        if (!n->ix.reverse) {
            if (s->ri >= s->ranges.n)
                return 0;
            r = &s->ranges.r[s->ri];
            if (s->started)
                rc = btc_next(s->cur);
            else /* an empty lower bound: from the first entry */
                rc = r->lol ? btc_seek(s->cur, r->lo, r->lol, NULL) : btc_first(s->cur);
        } else {
            if (s->ri == 0)
                return 0;
            r = &s->ranges.r[s->ri - 1];
            if (s->started) {
                rc = btc_prev(s->cur);
            } else {
                int exact = 0;
                rc = btc_seek_le(s->cur, r->hi, r->hil, &exact);
                if (rc == BLAZEDB_OK && exact)
                    rc = btc_prev(s->cur);
            }
        }
        s->started = 1;
        const void *k = NULL;
        size_t kl = 0;
        if (rc == BLAZEDB_OK)
            rc = btc_key(s->cur, &k, &kl);
        int in = 0;
        if (rc == BLAZEDB_OK)
            in = !n->ix.reverse ? keycmp(k, kl, r->hi, r->hil) < 0
                                : keycmp(k, kl, r->lo, r->lol) >= 0;
        if (rc && rc != BLAZEDB_NOT_FOUND)
            return -rc;
        if (rc == BLAZEDB_NOT_FOUND || !in) {
            /* this range is done */
            s->started = 0;
            if (!n->ix.reverse)
                s->ri++;
            else
                s->ri--;
            continue;
        }
        if ((rc = idx_key_id(k, kl, id, idlen)))
            return -rc;
        return 1;
    }
}

static int acc_next(SqlxExec *x, SqlxNode *n)
{
    AccState *s = n->st;
    SqlxTable *t = tab_of(x, n);
    int rc;
    for (;;) {
        if (interrupted(x))
            return BLAZEDB_CANCELLED;
        int got = 0;
        switch (n->kind) {
        case NK_SCAN:
            if (!s->cur)
                return BLAZEDB_DONE;
            if (!s->started)
                rc = n->reverse ? btc_last(s->cur) : btc_first(s->cur);
            else
                rc = n->reverse ? btc_prev(s->cur) : btc_next(s->cur);
            s->started = 1;
            if (rc == BLAZEDB_NOT_FOUND)
                return BLAZEDB_DONE;
            if (rc)
                return rc;
            {
                const void *v;
                size_t vl;
                if ((rc = btc_value(s->cur, &v, &vl)))
                    return rc;
                if (t->c.deleted && cat_doc_deleted(v, vl))
                    continue;
                x->doc[n->table] = v;
                x->dlen[n->table] = vl;
            }
            got = 1;
            break;
        case NK_LOOKUP:
            while (!got && s->ki < s->nkeys) {
                SqlValue *k = &s->keys[s->ki++];
                int dup = 0;
                for (size_t j = 0; j + 1 < s->ki; j++)
                    if (sql_value_cmp(&s->keys[j], k) == 0)
                        dup = 1;
                if (dup)
                    continue;
                int f = fetch_doc(x, n, s, k->s, k->len);
                if (f < 0)
                    return -f;
                got = f;
            }
            if (!got)
                return BLAZEDB_DONE;
            break;
        case NK_IXSCAN: {
            const char *id;
            size_t idlen;
            int st = ix_step(n, s, &id, &idlen);
            if (st < 0)
                return -st;
            if (st == 0)
                return BLAZEDB_DONE;
            if (n->ix.dedupe) {
                int a = idset_add(&s->seen, id, idlen);
                if (a < 0)
                    return -a;
                if (a == 0)
                    continue;
            }
            int f = fetch_doc(x, n, s, id, idlen);
            if (f < 0)
                return -f;
            if (f == 0) {
                snprintf(x->err, sizeof x->err,
                         "index %s names document '%.*s', which is not in '%s'",
                         t->idx[n->ix.idx].name, (int)idlen, id, t->coll);
                return BLAZEDB_CORRUPT;
            }
            got = 1;
            break;
        }
        case NK_INTERSECT: {
            const char *id;
            size_t idlen;
            int st = ix_step(n->arms[0], n->arms[0]->st, &id, &idlen);
            if (st < 0)
                return -st;
            if (st == 0)
                return BLAZEDB_DONE;
            n->arms[0]->rows++;
            if (!idset_has(&s->seen, id, idlen))
                continue;
            if (n->arms[0]->ix.dedupe) {
                int a = idset_add(&s->seen2, id, idlen);
                if (a < 0)
                    return -a;
                if (a == 0)
                    continue;
            }
            int f = fetch_doc(x, n, s, id, idlen);
            if (f < 0)
                return -f;
            if (f == 0)
                continue;
            got = 1;
            break;
        }
        case NK_UNION:
            while (!got && s->arm < n->narms) {
                rc = node_next(x, n->arms[s->arm]);
                if (rc == BLAZEDB_DONE) {
                    s->arm++;
                    continue;
                }
                if (rc != BLAZEDB_ROW)
                    return rc;
                /* de-duplicate by id */
                DocView v;
                const uint8_t *d = x->doc[n->table];
                if (docbin_lookup_valid(d, x->dlen[n->table], "id", &v) == BLAZEDB_OK &&
                    v.type == DOC_STRING) {
                    int a = idset_add(&s->seen, v.data, v.dlen);
                    if (a < 0)
                        return -a;
                    if (a == 0)
                        continue;
                }
                got = 1;
            }
            if (!got)
                return BLAZEDB_DONE;
            break;
        default:
            return BLAZEDB_INTERNAL_ERROR;
        }
        int p = conds_pass(x, n->conds, n->nconds);
        if (p < 0)
            return -p;
        if (p)
            return BLAZEDB_ROW;
    }
}

/* ---- joins ------------------------------------------------------------------------------ */

typedef struct HashEnt {
    struct HashEnt *next;
    uint64_t h;
    SqlValue key;
    uint8_t *doc;
    size_t len;
} HashEnt;

typedef struct {
    int have_outer;
    int matched;
    int inner_open;
    /* hash join */
    HashEnt **tab;
    size_t cap;
    HashEnt *cur;
    SqlValue okey;
    uint64_t oh;
    size_t mem;
    int built;
} JoinState;

static void join_state_free(JoinState *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        for (HashEnt *e = s->tab[i], *nx; e; e = nx) {
            nx = e->next;
            sql_value_clear(&e->key);
            free(e->doc);
            free(e);
        }
    free(s->tab);
    sql_value_clear(&s->okey);
    free(s);
}

static int hash_build(SqlxExec *x, SqlxNode *n, JoinState *s)
{
    int rc = node_open(x, n->inner);
    s->cap = 1024;
    s->tab = calloc(s->cap, sizeof *s->tab);
    if (!s->tab)
        rc = BLAZEDB_NOMEM;
    size_t cnt = 0;
    while (rc == BLAZEDB_OK) {
        rc = node_next(x, n->inner);
        if (rc == BLAZEDB_DONE) {
            rc = BLAZEDB_OK;
            break;
        }
        if (rc != BLAZEDB_ROW)
            break;
        rc = BLAZEDB_OK;
        SqlValue k;
        if ((rc = eval(x, n->hkey_inner, &k)))
            break;
        if (k.type == DOC_NULL)
            continue; /* null never joins */
        HashEnt *e = calloc(1, sizeof *e);
        int t = n->inner->table;
        if (e)
            e->doc = malloc(x->dlen[t] ? x->dlen[t] : 1);
        if (!e || !e->doc || sql_value_copy(&e->key, &k)) {
            sql_value_clear(&k);
            if (e)
                free(e->doc);
            free(e);
            rc = BLAZEDB_NOMEM;
            break;
        }
        sql_value_clear(&k);
        memcpy(e->doc, x->doc[t], x->dlen[t]);
        e->len = x->dlen[t];
        e->h = sql_value_hash(&e->key);
        if ((rc = mem_charge(x, &s->mem, sizeof *e + e->len + value_mem(&e->key), "hash join"))) {
            sql_value_clear(&e->key);
            free(e->doc);
            free(e);
            break;
        }
        if (++cnt > s->cap) {
            size_t cap = s->cap * 2;
            HashEnt **nt = calloc(cap, sizeof *nt);
            if (!nt) {
                rc = BLAZEDB_NOMEM;
                sql_value_clear(&e->key);
                free(e->doc);
                free(e);
                break;
            }
            for (size_t i = 0; i < s->cap; i++)
                for (HashEnt *a = s->tab[i], *nx; a; a = nx) {
                    nx = a->next;
                    a->next = nt[a->h & (cap - 1)];
                    nt[a->h & (cap - 1)] = a;
                }
            free(s->tab);
            s->tab = nt;
            s->cap = cap;
        }
        e->next = s->tab[e->h & (s->cap - 1)];
        s->tab[e->h & (s->cap - 1)] = e;
    }
    node_close(x, n->inner);
    s->built = 1;
    return rc;
}

static int join_next(SqlxExec *x, SqlxNode *n)
{
    JoinState *s = n->st;
    int t = n->inner->table;
    int rc;
    if (n->kind == NK_HASHJOIN && !s->built && (rc = hash_build(x, n, s)))
        return rc;
    for (;;) {
        if (!s->have_outer) {
            rc = node_next(x, n->child);
            if (rc != BLAZEDB_ROW)
                return rc;
            s->have_outer = 1;
            s->matched = 0;
            if (n->kind == NK_NLJOIN) {
                if (s->inner_open)
                    node_close(x, n->inner);
                s->inner_open = 0;
                if ((rc = node_open(x, n->inner)))
                    return rc;
                s->inner_open = 1;
            } else {
                sql_value_clear(&s->okey);
                if ((rc = eval(x, n->hkey_outer, &s->okey)))
                    return rc;
                s->oh = sql_value_hash(&s->okey);
                s->cur = s->okey.type == DOC_NULL ? NULL : s->tab[s->oh & (s->cap - 1)];
            }
        }
        /* next inner match */
        int got = 0;
        if (n->kind == NK_NLJOIN) {
            rc = node_next(x, n->inner);
            if (rc == BLAZEDB_ROW)
                got = 1;
            else if (rc != BLAZEDB_DONE)
                return rc;
        } else {
            while (s->cur) {
                HashEnt *e = s->cur;
                s->cur = e->next;
                if (e->h == s->oh && sql_value_cmp(&e->key, &s->okey) == 0) {
                    x->doc[t] = e->doc;
                    x->dlen[t] = e->len;
                    got = 1;
                    break;
                }
            }
        }
        if (got) {
            int p = conds_pass(x, n->conds, n->nconds);
            if (p < 0)
                return -p;
            if (!p)
                continue;
            s->matched = 1;
            return BLAZEDB_ROW;
        }
        s->have_outer = 0;
        if (n->left && !s->matched) {
            x->doc[t] = NULL;
            x->dlen[t] = 0;
            return BLAZEDB_ROW;
        }
    }
}

/* ---- grouping ---------------------------------------------------------------------------- */

typedef struct Group {
    struct Group *next;
    uint64_t h;
    SqlValue *keys;
    SqlAgg **aggs;
    SqlValue *vals;      /* final values (after the input ends) */
} Group;

typedef struct {
    Group **tab;
    size_t cap, n;
    Group **order;       /* groups sorted by key, for output */
    size_t oi;
    size_t mem;
    int built;
} AggState;

static void agg_state_free(AggState *s, size_t ngroup, size_t nagg)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        for (Group *g = s->tab[i], *nx; g; g = nx) {
            nx = g->next;
            for (size_t k = 0; k < ngroup; k++)
                sql_value_clear(&g->keys[k]);
            for (size_t a = 0; a < nagg; a++) {
                if (g->aggs[a])
                    sql_agg_free(g->aggs[a]);
                if (g->vals)
                    sql_value_clear(&g->vals[a]);
            }
            free(g->keys);
            free(g->aggs);
            free(g->vals);
            free(g);
        }
    free(s->tab);
    free(s->order);
    free(s);
}

static int keys_equal(const SqlValue *a, const SqlValue *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (sql_value_cmp(&a[k], &b[k]))
            return 0;
    return 1;
}

static int group_cmp_n(const Group *a, const Group *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int c = sql_value_cmp(&a->keys[k], &b->keys[k]);
        if (c)
            return c;
    }
    return 0;
}

/* Sorting groups by key: a merge sort with the key count passed
 * explicitly (qsort has no context argument in C11). */
static void group_sort(Group **v, Group **tmp, size_t n, size_t ng)
{
    if (n < 2)
        return;
    size_t m = n / 2;
    group_sort(v, tmp, m, ng);
    group_sort(v + m, tmp, n - m, ng);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n)
        tmp[k++] = group_cmp_n(v[j], v[i], ng) < 0 ? v[j++] : v[i++];
    while (i < m)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static Group *group_new(size_t ng, size_t na)
{
    Group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->keys = calloc(ng ? ng : 1, sizeof *g->keys);
    g->aggs = calloc(na ? na : 1, sizeof *g->aggs);
    if (!g->keys || !g->aggs) {
        free(g->keys);
        free(g->aggs);
        free(g);
        return NULL;
    }
    return g;
}

static int groups_grow(AggState *s)
{
    size_t cap = s->cap * 2;
    Group **nt = calloc(cap, sizeof *nt);
    if (!nt)
        return BLAZEDB_NOMEM;
    for (size_t i = 0; i < s->cap; i++)
        for (Group *a = s->tab[i], *nx; a; a = nx) {
            nx = a->next;
            a->next = nt[a->h & (cap - 1)];
            nt[a->h & (cap - 1)] = a;
        }
    free(s->tab);
    s->tab = nt;
    s->cap = cap;
    return BLAZEDB_OK;
}

static int agg_build(SqlxExec *x, SqlxNode *n, AggState *s)
{
    SqlxPlan *p = x->plan;
    size_t ng = n->ngroup, na = p->nagg;
    int rc = node_open(x, n->child);
    s->cap = 64;
    s->tab = calloc(s->cap, sizeof *s->tab);
    if (!s->tab)
        rc = BLAZEDB_NOMEM;
    SqlValue *keys = calloc(ng ? ng : 1, sizeof *keys);
    if (!keys)
        rc = BLAZEDB_NOMEM;
    while (rc == BLAZEDB_OK) {
        rc = node_next(x, n->child);
        if (rc == BLAZEDB_DONE) {
            rc = BLAZEDB_OK;
            break;
        }
        if (rc != BLAZEDB_ROW)
            break;
        rc = BLAZEDB_OK;
        uint64_t h = 7;
        for (size_t k = 0; k < ng && rc == BLAZEDB_OK; k++) {
            rc = eval(x, n->group[k], &keys[k]);
            if (rc == BLAZEDB_OK)
                h = h * 31 + sql_value_hash(&keys[k]);
        }
        if (rc)
            break;
        Group *g = s->tab[h & (s->cap - 1)];
        while (g && !(g->h == h && keys_equal(g->keys, keys, ng)))
            g = g->next;
        if (!g) {
            if (!(g = group_new(ng, na))) {
                rc = BLAZEDB_NOMEM;
            } else {
                /* linked first, so that agg_state_free frees it on failure */
                g->h = h;
                g->next = s->tab[h & (s->cap - 1)];
                s->tab[h & (s->cap - 1)] = g;
                s->n++;
                size_t m = sizeof *g;
                for (size_t k = 0; k < ng && rc == BLAZEDB_OK; k++) {
                    rc = sql_value_copy(&g->keys[k], &keys[k]);
                    m += value_mem(&g->keys[k]);
                }
                for (size_t a = 0; a < na && rc == BLAZEDB_OK; a++)
                    rc = sql_agg_new(p->aggs[a], &g->aggs[a]);
                if (rc == BLAZEDB_OK)
                    rc = mem_charge(x, &s->mem, m + 64 * na, "GROUP BY");
                if (rc == BLAZEDB_OK && s->n > s->cap)
                    rc = groups_grow(s);
            }
        }
        for (size_t k = 0; k < ng; k++)
            sql_value_clear(&keys[k]);
        if (rc)
            break;
        SqlEvalCtx *cx = &x->cx;
        if (cx->arg != x)
            sqlx_ctx(x, cx);
        cx->aggs = NULL;
        size_t before = 0, after = 0;
        for (size_t a = 0; a < na && rc == BLAZEDB_OK; a++) {
            before += sql_agg_mem(g->aggs[a]);
            rc = sql_agg_step(g->aggs[a], cx);
            after += sql_agg_mem(g->aggs[a]);
        }
        if (rc) {
            snprintf(x->err, sizeof x->err, "%s", cx->err[0] ? cx->err : blazedb_strerror(rc));
            cx->err[0] = 0;
        } else if (after > before)
            rc = mem_charge(x, &s->mem, after - before, "aggregate");
    }
    node_close(x, n->child);
    free(keys);
    /* no GROUP BY: exactly one group, even over no rows */
    if (rc == BLAZEDB_OK && ng == 0 && s->n == 0) {
        Group *g = group_new(1, na);
        if (!g) {
            rc = BLAZEDB_NOMEM;
        } else {
            s->tab[0] = g;
            s->n = 1;
            for (size_t a = 0; a < na && rc == BLAZEDB_OK; a++)
                rc = sql_agg_new(p->aggs[a], &g->aggs[a]);
        }
    }
    if (rc == BLAZEDB_OK) {
        s->order = malloc((s->n ? s->n : 1) * sizeof *s->order);
        Group **tmp = malloc((s->n ? s->n : 1) * sizeof *tmp);
        if (!s->order || !tmp) {
            free(tmp);
            rc = BLAZEDB_NOMEM;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < s->cap; i++)
                for (Group *g = s->tab[i]; g; g = g->next)
                    s->order[k++] = g;
            group_sort(s->order, tmp, s->n, ng);
            free(tmp);
        }
    }
    s->built = 1;
    return rc;
}

static int agg_next(SqlxExec *x, SqlxNode *n)
{
    AggState *s = n->st;
    size_t na = x->plan->nagg;
    int rc;
    if (!s->built && (rc = agg_build(x, n, s)))
        return rc;
    for (;;) {
        if (s->oi >= s->n)
            return BLAZEDB_DONE;
        Group *g = s->order[s->oi++];
        if (!g->vals) {
            g->vals = calloc(na ? na : 1, sizeof *g->vals);
            if (!g->vals)
                return BLAZEDB_NOMEM;
            for (size_t a = 0; a < na; a++)
                if ((rc = sql_agg_final(g->aggs[a], &g->vals[a]))) {
                    snprintf(x->err, sizeof x->err, "aggregate %s failed: %s",
                             sql_func_name(x->plan->aggs[a]->func), blazedb_strerror(rc));
                    return rc;
                }
        }
        x->group = g->keys;
        x->aggv = g->vals;
        int p = conds_pass(x, n->conds, n->nconds); /* HAVING */
        if (p < 0)
            return -p;
        if (p)
            return BLAZEDB_ROW;
    }
}

/* ---- projection, sort, distinct, limit ----------------------------------------------------- */

typedef struct {
    SqlValue *vals;      /* ncols + nhidden */
} ProjState;

static void proj_clear(SqlValue *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sql_value_clear(&v[i]);
}

static int proj_next(SqlxExec *x, SqlxNode *n)
{
    ProjState *s = n->st;
    size_t all = n->ncols + n->nhidden;
    int rc = node_next(x, n->child);
    if (rc != BLAZEDB_ROW)
        return rc;
    proj_clear(s->vals, all);
    for (size_t i = 0; i < all; i++) {
        if (!n->cols[i]) {
            int t = n->star_table[i];
            SqlValue *v = &s->vals[i];
            memset(v, 0, sizeof *v);
            if (x->doc[t]) {
                v->type = DOC_OBJECT;
                v->s = (const char *)x->doc[t];
                v->len = x->dlen[t];
            } else {
                v->type = DOC_NULL;
            }
            continue;
        }
        if ((rc = eval(x, n->cols[i], &s->vals[i])))
            return rc;
    }
    x->out = s->vals;
    x->nout = n->ncols;
    return BLAZEDB_ROW;
}

typedef struct {
    SqlValue **rows;     /* each ncols + nkeys values, owned */
    size_t n, cap, i;
    size_t width;
    size_t mem;
    int built;
    int64_t k;           /* top-K bound, or -1 */
    const int *desc;
    size_t nkeys, key0;
} SortState;

static int row_cmp(const SortState *s, SqlValue *a, SqlValue *b)
{
    for (size_t k = 0; k < s->nkeys; k++) {
        int c = sql_value_cmp(&a[s->key0 + k], &b[s->key0 + k]);
        if (c)
            return s->desc[k] ? -c : c;
    }
    return 0;
}

static void sort_rows(SortState *s, SqlValue **v, SqlValue **tmp, size_t n)
{
    if (n < 2)
        return;
    size_t m = n / 2;
    sort_rows(s, v, tmp, m);
    sort_rows(s, v + m, tmp, n - m);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n)
        tmp[k++] = row_cmp(s, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < m)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

/* Max-heap on the sort order (the worst row on top) for top-K. */
static void heap_down(SortState *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && row_cmp(s, s->rows[l], s->rows[m]) > 0)
            m = l;
        if (r < s->n && row_cmp(s, s->rows[r], s->rows[m]) > 0)
            m = r;
        if (m == i)
            return;
        SqlValue *t = s->rows[i];
        s->rows[i] = s->rows[m];
        s->rows[m] = t;
        i = m;
    }
}

static void heap_up(SortState *s, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (row_cmp(s, s->rows[i], s->rows[p]) <= 0)
            return;
        SqlValue *t = s->rows[i];
        s->rows[i] = s->rows[p];
        s->rows[p] = t;
        i = p;
    }
}

static void free_row(SqlValue *r, size_t w)
{
    if (r) {
        proj_clear(r, w);
        free(r);
    }
}

static int const_int(SqlxExec *x, SqlExpr *e, int64_t *out, const char *what)
{
    SqlValue v;
    int rc = eval(x, e, &v);
    if (rc)
        return rc;
    if (v.type == DOC_INT) {
        *out = v.i;
    } else if (v.type == DOC_DOUBLE && v.d == (double)(int64_t)v.d) {
        *out = (int64_t)v.d;
    } else {
        sql_value_clear(&v);
        snprintf(x->err, sizeof x->err, "%s must be an integer", what);
        return BLAZEDB_SQL_ERROR;
    }
    sql_value_clear(&v);
    return BLAZEDB_OK;
}

static int sort_build(SqlxExec *x, SqlxNode *n, SortState *s)
{
    SqlxNode *proj = n->child; /* PROJECT or DISTINCT over it */
    s->width = n->ncols + n->nhidden;
    s->desc = n->desc;
    s->nkeys = n->nkeys;
    s->key0 = n->ncols;
    s->k = -1;
    int rc = BLAZEDB_OK;
    if (n->topk_limit) {
        int64_t lim = 0, off = 0;
        rc = const_int(x, n->topk_limit, &lim, "LIMIT");
        if (rc == BLAZEDB_OK && n->topk_offset)
            rc = const_int(x, n->topk_offset, &off, "OFFSET");
        if (rc)
            return rc;
        if (lim >= 0)
            s->k = lim + (off > 0 ? off : 0);
    }
    rc = node_open(x, proj);
    while (rc == BLAZEDB_OK) {
        rc = node_next(x, proj);
        if (rc == BLAZEDB_DONE) {
            rc = BLAZEDB_OK;
            break;
        }
        if (rc != BLAZEDB_ROW)
            break;
        rc = BLAZEDB_OK;
        if (s->k == 0)
            continue;
        SqlValue *row = calloc(s->width, sizeof *row);
        if (!row) {
            rc = BLAZEDB_NOMEM;
            break;
        }
        size_t m = s->width * sizeof *row;
        for (size_t i = 0; i < s->width && rc == BLAZEDB_OK; i++) {
            rc = sql_value_copy(&row[i], &x->out[i] /* vals incl. hidden */);
            m += row[i].len;
        }
        if (rc) {
            free_row(row, s->width);
            break;
        }
        if (s->k > 0 && s->n == (size_t)s->k) {
            /* top-K: keep it only if it sorts before the worst kept */
            if (row_cmp(s, row, s->rows[0]) >= 0) {
                free_row(row, s->width);
                continue;
            }
            free_row(s->rows[0], s->width);
            s->rows[0] = row;
            heap_down(s, 0);
            continue;
        }
        if ((rc = mem_charge(x, &s->mem, m, "sort"))) {
            free_row(row, s->width);
            break;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 256;
            SqlValue **nr = realloc(s->rows, cap * sizeof *nr);
            if (!nr) {
                free_row(row, s->width);
                rc = BLAZEDB_NOMEM;
                break;
            }
            s->rows = nr;
            s->cap = cap;
        }
        s->rows[s->n++] = row;
        if (s->k > 0)
            heap_up(s, s->n - 1);
    }
    node_close(x, proj);
    if (rc == BLAZEDB_OK && s->n > 1) {
        SqlValue **tmp = malloc(s->n * sizeof *tmp);
        if (!tmp)
            return BLAZEDB_NOMEM;
        sort_rows(s, s->rows, tmp, s->n);
        free(tmp);
    }
    s->built = 1;
    return rc;
}

static int sort_next(SqlxExec *x, SqlxNode *n)
{
    SortState *s = n->st;
    int rc;
    if (!s->built && (rc = sort_build(x, n, s)))
        return rc;
    if (s->i >= s->n)
        return BLAZEDB_DONE;
    x->out = s->rows[s->i++];
    x->nout = n->ncols;
    return BLAZEDB_ROW;
}

typedef struct {
    SqlValue **rows;
    uint64_t *h;
    size_t cap, n;
    size_t mem;
} DistState;

static int distinct_next(SqlxExec *x, SqlxNode *n)
{
    DistState *s = n->st;
    for (;;) {
        int rc = node_next(x, n->child);
        if (rc != BLAZEDB_ROW)
            return rc;
        size_t w = x->nout;
        uint64_t h = 3;
        for (size_t i = 0; i < w; i++)
            h = h * 1000003u + sql_value_hash(&x->out[i]);
        if (s->n * 2 >= s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 256;
            SqlValue **nr = calloc(cap, sizeof *nr);
            uint64_t *nh = calloc(cap, sizeof *nh);
            if (!nr || !nh) {
                free(nr);
                free(nh);
                return BLAZEDB_NOMEM;
            }
            for (size_t i = 0; i < s->cap; i++)
                if (s->rows[i]) {
                    size_t j = s->h[i] & (cap - 1);
                    while (nr[j])
                        j = (j + 1) & (cap - 1);
                    nr[j] = s->rows[i];
                    nh[j] = s->h[i];
                }
            free(s->rows);
            free(s->h);
            s->rows = nr;
            s->h = nh;
            s->cap = cap;
        }
        size_t j = h & (s->cap - 1);
        int dup = 0;
        while (s->rows[j]) {
            if (s->h[j] == h) {
                size_t i = 0;
                while (i < w && sql_value_cmp(&s->rows[j][i], &x->out[i]) == 0)
                    i++;
                if (i == w) {
                    dup = 1;
                    break;
                }
            }
            j = (j + 1) & (s->cap - 1);
        }
        if (dup)
            continue;
        SqlValue *row = calloc(w ? w : 1, sizeof *row);
        if (!row)
            return BLAZEDB_NOMEM;
        size_t m = (w ? w : 1) * sizeof *row;
        for (size_t i = 0; i < w; i++) {
            if (sql_value_copy(&row[i], &x->out[i])) {
                free_row(row, w);
                return BLAZEDB_NOMEM;
            }
            m += row[i].len;
        }
        s->rows[j] = row;
        s->h[j] = h;
        s->n++;
        if ((rc = mem_charge(x, &s->mem, m, "DISTINCT")))
            return rc;
        return BLAZEDB_ROW;
    }
}

typedef struct {
    int64_t limit, offset, seen, emitted;
    int ready;
} LimitState;

static int limit_next(SqlxExec *x, SqlxNode *n)
{
    LimitState *s = n->st;
    int rc;
    if (!s->ready) {
        s->limit = -1;
        if (n->limit && (rc = const_int(x, n->limit, &s->limit, "LIMIT")))
            return rc;
        if (n->offset && (rc = const_int(x, n->offset, &s->offset, "OFFSET")))
            return rc;
        s->ready = 1;
    }
    for (;;) {
        if (s->limit >= 0 && s->emitted >= s->limit)
            return BLAZEDB_DONE;
        rc = node_next(x, n->child);
        if (rc != BLAZEDB_ROW)
            return rc;
        if (s->seen++ < s->offset)
            continue;
        s->emitted++;
        return BLAZEDB_ROW;
    }
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int node_open(SqlxExec *x, SqlxNode *n)
{
    int rc = BLAZEDB_OK;
    n->loops++;
    uint64_t t0 = x->analyze ? now_ns() : 0;
    switch (n->kind) {
    case NK_ONEROW:
        n->st = calloc(1, sizeof(int));
        rc = n->st ? BLAZEDB_OK : BLAZEDB_NOMEM;
        break;
    case NK_SCAN:
    case NK_LOOKUP:
    case NK_IXSCAN:
    case NK_IXCOUNT:
    case NK_COUNTALL:
    case NK_UNION:
    case NK_INTERSECT:
        rc = acc_open(x, n);
        break;
    case NK_FILTER:
    case NK_PROJECT:
    case NK_DISTINCT:
    case NK_LIMIT:
        if (n->kind == NK_PROJECT) {
            ProjState *s = calloc(1, sizeof *s);
            if (s)
                s->vals = calloc(n->ncols + n->nhidden + 1, sizeof *s->vals);
            if (!s || !s->vals) {
                free(s);
                return BLAZEDB_NOMEM;
            }
            n->st = s;
        } else if (n->kind == NK_DISTINCT) {
            n->st = calloc(1, sizeof(DistState));
        } else if (n->kind == NK_LIMIT) {
            n->st = calloc(1, sizeof(LimitState));
        } else {
            n->st = calloc(1, sizeof(int));
        }
        if (!n->st)
            return BLAZEDB_NOMEM;
        rc = node_open(x, n->child);
        break;
    case NK_NLJOIN:
    case NK_HASHJOIN:
        n->st = calloc(1, sizeof(JoinState));
        if (!n->st)
            return BLAZEDB_NOMEM;
        rc = node_open(x, n->child);
        break;
    case NK_AGG:
        n->st = calloc(1, sizeof(AggState));
        rc = n->st ? BLAZEDB_OK : BLAZEDB_NOMEM; /* the child opens at the first row */
        break;
    case NK_SORT:
        n->st = calloc(1, sizeof(SortState));
        rc = n->st ? BLAZEDB_OK : BLAZEDB_NOMEM;
        break;
    }
    if (x->analyze)
        n->ns += now_ns() - t0;
    return rc;
}

static int node_next(SqlxExec *x, SqlxNode *n)
{
    uint64_t t0 = x->analyze ? now_ns() : 0;
    int rc;
    switch (n->kind) {
    case NK_ONEROW: {
        int *done = n->st;
        rc = *done ? BLAZEDB_DONE : BLAZEDB_ROW;
        *done = 1;
        break;
    }
    case NK_IXCOUNT:
    case NK_COUNTALL: {
        AccState *s = n->st;
        if (s->done) {
            rc = BLAZEDB_DONE;
            break;
        }
        s->done = 1;
        /* the single output row: count(*) */
        sql_value_clear(&s->cval);
        s->cval.type = DOC_INT;
        s->cval.i = (int64_t)s->count;
        x->out = &s->cval;
        x->nout = 1;
        rc = BLAZEDB_ROW;
        break;
    }
    case NK_SCAN:
    case NK_LOOKUP:
    case NK_IXSCAN:
    case NK_UNION:
    case NK_INTERSECT:
        rc = acc_next(x, n);
        break;
    case NK_FILTER:
        for (;;) {
            rc = node_next(x, n->child);
            if (rc != BLAZEDB_ROW)
                break;
            int p = conds_pass(x, n->conds, n->nconds);
            if (p < 0) {
                rc = -p;
                break;
            }
            if (p)
                break;
        }
        break;
    case NK_NLJOIN:
    case NK_HASHJOIN:
        rc = join_next(x, n);
        break;
    case NK_AGG:
        rc = agg_next(x, n);
        break;
    case NK_PROJECT:
        rc = proj_next(x, n);
        break;
    case NK_SORT:
        rc = sort_next(x, n);
        break;
    case NK_DISTINCT:
        rc = distinct_next(x, n);
        break;
    case NK_LIMIT:
        rc = limit_next(x, n);
        break;
    default:
        rc = BLAZEDB_INTERNAL_ERROR;
    }
    if (rc == BLAZEDB_ROW)
        n->rows++;
    if (x->analyze)
        n->ns += now_ns() - t0;
    return rc;
}

static void node_close(SqlxExec *x, SqlxNode *n)
{
    if (!n)
        return;
    if (n->child && n->kind != NK_AGG && n->kind != NK_SORT)
        node_close(x, n->child);
    if (!n->st) {
        if (n->kind == NK_UNION || n->kind == NK_INTERSECT)
            for (size_t i = 0; i < n->narms; i++)
                node_close(x, n->arms[i]);
        return;
    }
    switch (n->kind) {
    case NK_SCAN:
    case NK_LOOKUP:
    case NK_IXSCAN:
    case NK_IXCOUNT:
    case NK_COUNTALL:
    case NK_UNION:
    case NK_INTERSECT: {
        AccState *s = n->st;
        for (size_t i = 0; i < n->narms; i++)
            node_close(x, n->arms[i]);
        sql_value_clear(&s->cval);
        acc_state_free(s);
        break;
    }
    case NK_NLJOIN:
    case NK_HASHJOIN: {
        JoinState *s = n->st;
        if (s->inner_open)
            node_close(x, n->inner);
        join_state_free(s);
        break;
    }
    case NK_AGG:
        agg_state_free(n->st, n->ngroup, x->plan->nagg);
        x->group = NULL;
        x->aggv = NULL;
        break;
    case NK_PROJECT: {
        ProjState *s = n->st;
        proj_clear(s->vals, n->ncols + n->nhidden);
        free(s->vals);
        free(s);
        break;
    }
    case NK_SORT: {
        SortState *s = n->st;
        for (size_t i = 0; i < s->n; i++)
            free_row(s->rows[i], s->width);
        free(s->rows);
        free(s);
        break;
    }
    case NK_DISTINCT: {
        DistState *s = n->st;
        for (size_t i = 0; i < s->cap; i++)
            free_row(s->rows[i], x->plan->ncols);
        free(s->rows);
        free(s->h);
        free(s);
        break;
    }
    default:
        free(n->st);
    }
    n->st = NULL;
}

static void node_reset(SqlxNode *n)
{
    if (!n)
        return;
    n->rows = n->loops = n->ns = 0;
    node_reset(n->child);
    node_reset(n->inner);
    for (size_t i = 0; i < n->narms; i++)
        node_reset(n->arms[i]);
}

int sqlx_open(SqlxExec *x)
{
    node_reset(x->plan->root);
    x->intr = db_interrupts(x->db);
    x->group = NULL;
    x->aggv = NULL;
    return node_open(x, x->plan->root);
}

int sqlx_next(SqlxExec *x)
{
    int rc = node_next(x, x->plan->root);
    if (rc != BLAZEDB_ROW && rc != BLAZEDB_DONE && !x->err[0])
        snprintf(x->err, sizeof x->err, "%s", blazedb_strerror(rc));
    return rc;
}

void sqlx_close(SqlxExec *x)
{
    if (x->plan)
        node_close(x, x->plan->root);
}

/* ==== planning ============================================================================ */

/* Relative costs (units: reading one document during a scan = 1). */
#define C_SCAN 1.0     /* a document of a scan */
#define C_FETCH 1.6    /* a document by id (a tree descent, mostly cached) */
#define C_IXENT 0.15   /* an index entry */
#define C_CMP 0.02     /* one comparison of a sort */

typedef struct {
    SqlExpr *node;
    SqlExpr saved;
} Saved;

/* Everything the planner works with, freed at the end of sqlx_plan. */
typedef struct {
    SqlxPlan *p;
    PagerTxn *pt;
    const char *sql;
    char *err;
    size_t errlen;
    int grouped;            /* GROUP BY or aggregates */
    Saved *saved;           /* group-marked nodes (restored at plan free) */
    size_t nsaved;
    char **owned;           /* strings owned by the plan */
    size_t nowned;
} Pl;

struct SqlxPlanPriv {
    Saved *saved;
    size_t nsaved;
    char **owned;
    size_t nowned;
};

static int perr(Pl *pl, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(Pl *pl, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->err, pl->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static char *pl_own(Pl *pl, char *s)
{
    if (!s)
        return NULL;
    char **o = realloc(pl->owned, (pl->nowned + 1) * sizeof *o);
    if (!o) {
        free(s);
        return NULL;
    }
    o[pl->nowned++] = s;
    pl->owned = o;
    return s;
}

/* ---- binding ----------------------------------------------------------------------------- */

enum { B_ROW = 0, B_NO_AGG = 1, B_IN_AGG = 2 };

static int bind_expr(Pl *pl, SqlExpr *e, int mode, const char *where);

static int bind_column(Pl *pl, SqlExpr *e)
{
    SqlxPlan *p = pl->p;
    if (e->table >= 0)
        return BLAZEDB_OK; /* bound by an earlier plan of this statement */
    if (p->ntabs == 0)
        return perr(pl, BLAZEDB_SQL_ERROR, "no such field '%s' at offset %u: the query has no FROM",
                    e->path, e->pos);
    const char *path = e->path;
    const char *dot = strchr(path, '.');
    size_t seg = dot ? (size_t)(dot - path) : strlen(path);
    if (e->qual) {
        for (size_t t = 0; t < p->ntabs; t++)
            if (strcmp(p->tabs[t].alias, e->qual) == 0) {
                e->table = (int)t;
                return BLAZEDB_OK;
            }
        return perr(pl, BLAZEDB_SQL_ERROR, "no table '%s' in FROM at offset %u", e->qual, e->pos);
    }
    for (size_t t = 0; t < p->ntabs; t++) {
        const char *a = p->tabs[t].alias;
        if (strlen(a) == seg && memcmp(a, path, seg) == 0 && (p->ntabs > 1 || dot)) {
            e->table = (int)t;
            /* the rest of the path; "" = the whole document */
            memmove(e->path, dot ? dot + 1 : path + seg, strlen(dot ? dot + 1 : path + seg) + 1);
            return BLAZEDB_OK;
        }
    }
    if (p->ntabs == 1) {
        e->table = 0;
        return BLAZEDB_OK;
    }
    return perr(pl, BLAZEDB_SQL_ERROR,
                "field '%s' at offset %u is ambiguous in a join: qualify it with a table alias",
                e->path, e->pos);
}

static int bind_expr(Pl *pl, SqlExpr *e, int mode, const char *where)
{
    if (!e)
        return BLAZEDB_OK;
    int rc;
    switch (e->kind) {
    case SQL_E_COLUMN:
        return bind_column(pl, e);
    case SQL_E_AGG: {
        if (mode == B_NO_AGG)
            return perr(pl, BLAZEDB_SQL_ERROR, "aggregate %s() is not allowed in %s (offset %u)",
                        sql_func_name(e->func), where, e->pos);
        if (mode == B_IN_AGG)
            return perr(pl, BLAZEDB_SQL_ERROR, "aggregate %s() inside another aggregate (offset %u)",
                        sql_func_name(e->func), e->pos);
        SqlxPlan *p = pl->p;
        SqlExpr **a = realloc(p->aggs, (p->nagg + 1) * sizeof *a);
        if (!a)
            return BLAZEDB_NOMEM;
        p->aggs = a;
        e->slot = (int)p->nagg;
        a[p->nagg++] = e;
        for (size_t i = 0; i < e->nlist; i++)
            if ((rc = bind_expr(pl, e->list[i], B_IN_AGG, where)))
                return rc;
        return BLAZEDB_OK;
    }
    default:
        break;
    }
    if ((rc = bind_expr(pl, e->a, mode, where)) || (rc = bind_expr(pl, e->b, mode, where)) ||
        (rc = bind_expr(pl, e->c, mode, where)))
        return rc;
    for (size_t i = 0; i < e->nlist; i++)
        if ((rc = bind_expr(pl, e->list[i], mode, where)))
            return rc;
    return BLAZEDB_OK;
}

/* Tables an expression reads (bit t = table t); groups and aggregates are
 * not tables.  *agg set when it holds an aggregate. */
static uint32_t expr_mask(const SqlExpr *e, int *agg)
{
    if (!e)
        return 0;
    if (e->kind == SQL_E_COLUMN)
        return e->table >= 0 ? 1u << e->table : 0;
    if (e->kind == SQL_E_AGG && agg)
        *agg = 1;
    uint32_t m = expr_mask(e->a, agg) | expr_mask(e->b, agg) | expr_mask(e->c, agg);
    for (size_t i = 0; i < e->nlist; i++)
        m |= expr_mask(e->list[i], agg);
    return m;
}

int sqlx_is_const(const SqlExpr *e)
{
    int agg = 0;
    return expr_mask(e, &agg) == 0 && !agg && !(e && e->kind == SQL_E_COLUMN);
}

/* Structural equality of two bound expressions (same tables, fields,
 * operators, literals). */
static int text_eq(const SqlExpr *a, const SqlExpr *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->op != b->op || a->negated != b->negated ||
        a->func != b->func || a->distinct != b->distinct || a->nlist != b->nlist)
        return 0;
    switch (a->kind) {
    case SQL_E_LITERAL:
        if (a->lit.type != b->lit.type || sql_value_cmp(&a->lit, &b->lit) != 0)
            return 0;
        break;
    case SQL_E_PARAM:
        if (a->param != b->param)
            return 0;
        break;
    case SQL_E_COLUMN:
        return a->table == b->table && a->slot == b->slot && a->path && b->path &&
               strcmp(a->path, b->path) == 0;
    default:
        break;
    }
    if (!text_eq(a->a, b->a) || !text_eq(a->b, b->b) || !text_eq(a->c, b->c))
        return 0;
    for (size_t i = 0; i < a->nlist; i++)
        if (!text_eq(a->list[i], b->list[i]))
            return 0;
    return 1;
}

/* In a grouped query: turns each subexpression equal to a GROUP BY
 * expression into a reference to the group's key (restored at plan free);
 * any other field reference outside an aggregate is an error. */
static int mark_groups(Pl *pl, SqlExpr *e, const char *where)
{
    if (!e || e->kind == SQL_E_AGG)
        return BLAZEDB_OK;
    SqlSelect *sel = pl->p->sel;
    for (size_t i = 0; i < sel->ngroup; i++) {
        if (!text_eq(e, sel->group[i]))
            continue;
        Saved *s = realloc(pl->saved, (pl->nsaved + 1) * sizeof *s);
        if (!s)
            return BLAZEDB_NOMEM;
        pl->saved = s;
        char *name = pl_own(pl, sql_expr_text(sel->group[i]));
        if (!name)
            return BLAZEDB_NOMEM;
        s[pl->nsaved].node = e;
        s[pl->nsaved].saved = *e;
        pl->nsaved++;
        memset(e, 0, sizeof *e);
        e->kind = SQL_E_COLUMN;
        e->table = -2;
        e->slot = (int)i;
        e->path = name;
        e->pos = s[pl->nsaved - 1].saved.pos;
        return BLAZEDB_OK;
    }
    if (e->kind == SQL_E_COLUMN && e->table >= 0)
        return perr(pl, BLAZEDB_SQL_ERROR,
                    "field '%s' in %s (offset %u) must appear in GROUP BY or inside an aggregate",
                    e->path[0] ? e->path : pl->p->tabs[e->table].alias, where, e->pos);
    int rc;
    if ((rc = mark_groups(pl, e->a, where)) || (rc = mark_groups(pl, e->b, where)) ||
        (rc = mark_groups(pl, e->c, where)))
        return rc;
    for (size_t i = 0; i < e->nlist; i++)
        if ((rc = mark_groups(pl, e->list[i], where)))
            return rc;
    return BLAZEDB_OK;
}

/* ---- conjuncts and sargable terms ------------------------------------------------------------ */

typedef struct {
    SqlExpr *e;
    uint32_t mask;
    int level;      /* the join level that applies it */
    int post;       /* after the join at `level` (LEFT JOIN WHERE terms) */
    int from_on;    /* from an ON clause */
    int used;       /* placed */
} Conj;

typedef struct {
    Conj *c;
    size_t n, cap;
} ConjList;

static int conj_add(ConjList *l, SqlExpr *e, int from_on)
{
    if (!e)
        return BLAZEDB_OK;
    if (e->kind == SQL_E_BINARY && e->op == SQL_OP_AND) {
        int rc = conj_add(l, e->a, from_on);
        return rc ? rc : conj_add(l, e->b, from_on);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        Conj *c = realloc(l->c, cap * sizeof *c);
        if (!c)
            return BLAZEDB_NOMEM;
        l->c = c;
        l->cap = cap;
    }
    memset(&l->c[l->n], 0, sizeof l->c[l->n]);
    l->c[l->n].e = e;
    l->c[l->n].mask = expr_mask(e, NULL);
    l->c[l->n].from_on = from_on;
    l->n++;
    return BLAZEDB_OK;
}

enum { S_EQ = 1, S_LT, S_LE, S_GT, S_GE, S_IN, S_NULL, S_CONTAINS, S_BETWEEN };

typedef struct {
    int op;
    const char *path;
    SqlExpr *v, *v2;   /* value(s); S_IN: the IN node */
    size_t conj;       /* index in the ConjList */
} Sarg;

/* Is e, as a term of table t whose other side may read tables in `ok`,
 * sargable?  Fills s. */
static int sargable(SqlExpr *e, int t, uint32_t ok, Sarg *s)
{
    memset(s, 0, sizeof *s);
    int agg = 0;
#define IS_COL(x) ((x) && (x)->kind == SQL_E_COLUMN && (x)->table == t && (x)->path[0])
#define OTHER_OK(x) ((agg = 0, (expr_mask((x), &agg) & ~ok) == 0) && !agg)
    if (e->kind == SQL_E_BINARY && e->op >= SQL_OP_EQ && e->op <= SQL_OP_GE && e->op != SQL_OP_NE) {
        SqlExpr *col = NULL, *val = NULL;
        int op = e->op, flip = 0;
        if (IS_COL(e->a) && OTHER_OK(e->b)) {
            col = e->a;
            val = e->b;
        } else if (IS_COL(e->b) && OTHER_OK(e->a)) {
            col = e->b;
            val = e->a;
            flip = 1;
        } else {
            return 0;
        }
        switch (op) {
        case SQL_OP_EQ: s->op = S_EQ; break;
        case SQL_OP_LT: s->op = flip ? S_GT : S_LT; break;
        case SQL_OP_LE: s->op = flip ? S_GE : S_LE; break;
        case SQL_OP_GT: s->op = flip ? S_LT : S_GT; break;
        case SQL_OP_GE: s->op = flip ? S_LE : S_GE; break;
        default: return 0;
        }
        s->path = col->path;
        s->v = val;
        return 1;
    }
    if (e->kind == SQL_E_BETWEEN && !e->negated && IS_COL(e->a) && OTHER_OK(e->b) &&
        OTHER_OK(e->c)) {
        s->op = S_BETWEEN;
        s->path = e->a->path;
        s->v = e->b;
        s->v2 = e->c;
        return 1;
    }
    if (e->kind == SQL_E_IN && !e->negated && IS_COL(e->a)) {
        for (size_t i = 0; i < e->nlist; i++)
            if (!OTHER_OK(e->list[i]))
                return 0;
        s->op = S_IN;
        s->path = e->a->path;
        s->v = e;
        return 1;
    }
    if (e->kind == SQL_E_ISNULL && !e->negated && IS_COL(e->a)) {
        s->op = S_NULL;
        s->path = e->a->path;
        return 1;
    }
    if (e->kind == SQL_E_CONTAINS && IS_COL(e->a) && OTHER_OK(e->b)) {
        s->op = S_CONTAINS;
        s->path = e->a->path;
        s->v = e->b;
        return 1;
    }
#undef IS_COL
#undef OTHER_OK
    return 0;
}

/* ---- access path choice ------------------------------------------------------------------ */

typedef struct {
    NodeKind kind;         /* NK_SCAN, NK_LOOKUP, NK_IXSCAN, NK_UNION */
    IxSpec ix;
    SqlExpr *lookup;
    int reverse;
    double rows, cost;
    int order_ok;          /* supplies the ORDER BY */
    int exact;             /* every term consumed (count from index) */
    size_t consumed[64];   /* conjunct indexes the path makes true */
    size_t nconsumed;
    SqlExpr *uarms[16];    /* NK_UNION: one term per arm */
    IxSpec uix[16];
    double urows[16];
    size_t narms;
} Path;

/* What the query wants in order from table 0 (plain fields of it). */
typedef struct {
    size_t n;
    const char *path[IDX_MAX_FIELDS];
    int desc[IDX_MAX_FIELDS];
    int want;              /* ORDER BY present */
    int usable;            /* all terms are plain fields of table 0 */
    double limit;          /* rows needed when known, else -1 */
} OrderWant;

static double live_rows(const SqlxTable *t)
{
    if (!t->exists)
        return 0;
    double n = (double)(t->c.docs.count - t->c.deleted);
    return n < 1 ? 1 : n;
}

/* Does the partial predicate of d hold for every row (each of its
 * conjuncts appears among the query's)?  Marks those conjuncts consumed. */
static int partial_implied(Pl *pl, const IdxDef *d, ConjList *cl, int t, Path *path)
{
    if (!d->where)
        return 1;
    SqlExpr *w = NULL;
    uint32_t epos;
    char err[SQL_ERRMAX];
    if (sql_parse_expr(d->where, strlen(d->where), &w, &epos, err, sizeof err))
        return 0;
    ConjList need = {0};
    int ok = conj_add(&need, w, 0) == BLAZEDB_OK;
    /* bind the predicate's fields to table t */
    SqlxPlan *p = pl->p;
    for (size_t i = 0; ok && i < need.n; i++) {
        SqlExpr *stack[256];
        size_t sp = 0;
        stack[sp++] = need.c[i].e;
        while (sp && ok) {
            SqlExpr *e = stack[--sp];
            if (!e)
                continue;
            if (e->kind == SQL_E_COLUMN)
                e->table = t;
            if (sp + 3 + e->nlist > 256) {
                ok = 0;
                break;
            }
            stack[sp++] = e->a;
            stack[sp++] = e->b;
            stack[sp++] = e->c;
            for (size_t k = 0; k < e->nlist; k++)
                stack[sp++] = e->list[k];
        }
        int found = 0;
        for (size_t j = 0; ok && j < cl->n && !found; j++)
            if (cl->c[j].mask == (1u << t) && text_eq(need.c[i].e, cl->c[j].e)) {
                found = 1;
                if (path && path->nconsumed < 64)
                    path->consumed[path->nconsumed++] = j;
            }
        ok = ok && found;
    }
    (void)p;
    free(need.c);
    sql_expr_free(w);
    return ok;
}

static const Sarg *find_sarg(const Sarg *s, size_t n, const char *path, int ops_mask)
{
    for (size_t i = 0; i < n; i++)
        if ((ops_mask & (1 << s[i].op)) && strcmp(s[i].path, path) == 0)
            return &s[i];
    return NULL;
}

/* The best use of index d of table t for the sargs given.  0 if unusable. */
static int index_path(Pl *pl, int t, int di, const Sarg *sa, size_t ns, ConjList *cl,
                      const OrderWant *ow, Path *out)
{
    SqlxTable *tab = &pl->p->tabs[t];
    const IdxDef *d = &tab->idx[di];
    memset(out, 0, sizeof *out);
    out->kind = NK_IXSCAN;
    out->ix.idx = di;
    if (!partial_implied(pl, d, cl, t, out))
        return 0;
    double n = live_rows(tab);
    double entries = (double)d->root.count;
    double rows = entries;
    int has_each = 0, each_bound = 0, multi = 0;
    for (size_t f = 0; f < d->nfields; f++)
        has_each |= d->fields[f].each;
    int k = 0;
    for (; k < (int)d->nfields; k++) {
        const IdxField *f = &d->fields[k];
        const Sarg *s = f->each ? find_sarg(sa, ns, f->path, 1 << S_CONTAINS)
                                : find_sarg(sa, ns, f->path, (1 << S_EQ) | (1 << S_IN) | (1 << S_NULL));
        if (!s)
            break;
        out->ix.eqkind[k] = s->op == S_IN ? EQ_IN : s->op == S_NULL ? EQ_NULL : EQ_VALUE;
        out->ix.eq[k] = s->v;
        if (f->each)
            each_bound = 1;
        if (s->op == S_IN && s->v->nlist > 1)
            multi = 1;
        out->consumed[out->nconsumed++] = s->conj;
    }
    out->ix.neq = k;
    double per;
    if (k > 0) {
        uint64_t dist = d->distinct[k - 1];
        if (dist && d->stat_rows)
            per = (double)d->stat_rows / (double)dist;
        else
            per = k == (int)d->nfields && (d->flags & IDX_F_UNIQUE) ? 1.0 : (entries > 100 ? 10.0 : 1.0);
        if (d->flags & IDX_F_UNIQUE && k == (int)d->nfields)
            per = 1.0;
        rows = per;
        for (int f = 0; f < k; f++)
            if (out->ix.eqkind[f] == EQ_IN)
                rows *= (double)out->ix.eq[f]->nlist;
    }
    /* a range on the next field */
    int ranged = 0;
    if (k < (int)d->nfields && !d->fields[k].each) {
        const char *fp = d->fields[k].path;
        for (size_t i = 0; i < ns; i++) {
            if (strcmp(sa[i].path, fp))
                continue;
            int op = sa[i].op;
            if ((op == S_GT || op == S_GE) && !out->ix.lo) {
                out->ix.lo = sa[i].v;
                out->ix.lo_incl = op == S_GE;
            } else if ((op == S_LT || op == S_LE) && !out->ix.hi) {
                out->ix.hi = sa[i].v;
                out->ix.hi_incl = op == S_LE;
            } else if (op == S_BETWEEN && !out->ix.lo && !out->ix.hi) {
                out->ix.lo = sa[i].v;
                out->ix.hi = sa[i].v2;
                out->ix.lo_incl = out->ix.hi_incl = 1;
            } else {
                continue;
            }
            out->consumed[out->nconsumed++] = sa[i].conj;
            ranged++;
        }
        if (ranged)
            rows *= out->ix.lo && out->ix.hi ? 0.25 : 0.33;
    }
    out->ix.dedupe = has_each && !each_bound;
    /* order */
    if (ow->want && ow->usable && !multi && !has_each && t == 0) {
        size_t m = 0;
        int dir = -1, ok = 1;
        for (size_t i = 0; i < ow->n && ok; i++) {
            size_t f = (size_t)k + m;
            if (f >= d->nfields || strcmp(d->fields[f].path, ow->path[i])) {
                ok = 0;
                break;
            }
            int rev = ow->desc[i] != d->fields[f].desc;
            if (dir == -1)
                dir = rev;
            else if (dir != rev)
                ok = 0;
            m++;
        }
        if (ok && ow->n) {
            out->order_ok = 1;
            out->ix.reverse = dir == 1;
        }
    }
    if (k == 0 && !ranged && !out->order_ok)
        return 0; /* nothing to gain */
    if (rows > n * (has_each ? 8 : 1))
        rows = n;
    if (rows < 1)
        rows = 1;
    out->rows = rows;
    out->cost = rows * (C_IXENT + C_FETCH);
    out->exact = !out->ix.dedupe;
    return 1;
}

/* Sargs of table t usable with tables `ok` bound, from the conjuncts
 * assigned to its level. */
static size_t collect_sargs(ConjList *cl, int t, uint32_t ok, int level, Sarg *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < cl->n && n < max; i++) {
        Conj *c = &cl->c[i];
        if (c->level != level || c->post || !(c->mask & (1u << t)))
            continue;
        if (sargable(c->e, t, ok, &out[n])) {
            out[n].conj = i;
            n++;
        }
    }
    return n;
}

static int consumed(const Path *pa, size_t ci);

/* What a path costs in all: its reads (only the part a LIMIT needs when
 * the path supplies the order: the rows it must read to find that many
 * passing the conditions it leaves, each of which keeps about a quarter)
 * plus the sort it leaves to do. */
static double path_total(ConjList *cl, int t, int level, const OrderWant *ow, const Path *pa)
{
    double sel = 1;
    for (size_t i = 0; i < cl->n; i++) {
        const Conj *c = &cl->c[i];
        if (c->level == level && !c->post && (c->mask & (1u << t)) && !consumed(pa, i))
            sel *= 0.25;
    }
    double out = pa->rows * sel;
    double total = pa->cost;
    if (pa->order_ok && ow->limit >= 0 && out > ow->limit)
        total = pa->cost * (ow->limit / out);
    if (ow->want && t == 0 && !pa->order_ok && out > 1) {
        double lg = 0;
        for (double v = out; v > 1; v /= 2)
            lg++;
        total += out * lg * C_CMP;
    }
    return total;
}

/* Chooses the access path of table t. */
static void best_path(Pl *pl, int t, uint32_t ok, int level, ConjList *cl, const OrderWant *ow,
                      Path *best)
{
    SqlxTable *tab = &pl->p->tabs[t];
    Sarg sa[64];
    size_t ns = collect_sargs(cl, t, ok, level, sa, 64);
    double n = live_rows(tab);
    /* the baseline: a scan */
    memset(best, 0, sizeof *best);
    best->kind = NK_SCAN;
    best->rows = n;
    best->cost = n * C_SCAN;
    if (ow->want && ow->usable && t == 0 && ow->n == 1 && strcmp(ow->path[0], "id") == 0) {
        best->order_ok = 1;
        best->reverse = ow->desc[0];
    }
    double best_total = path_total(cl, t, level, ow, best);
    if (tab->forced == -2 || !tab->exists)
        return;
    /* id lookups */
    for (size_t i = 0; i < ns; i++)
        if ((sa[i].op == S_EQ || sa[i].op == S_IN) && strcmp(sa[i].path, "id") == 0) {
            Path p;
            memset(&p, 0, sizeof p);
            p.kind = NK_LOOKUP;
            p.lookup = sa[i].op == S_IN ? sa[i].v : sa[i].v;
            p.rows = sa[i].op == S_IN ? (double)sa[i].v->nlist : 1;
            p.cost = p.rows * C_FETCH;
            p.consumed[p.nconsumed++] = sa[i].conj;
            p.exact = 1;
            double tot = path_total(cl, t, level, ow, &p);
            if (tot < best_total && tab->forced < 0) {
                *best = p;
                best_total = tot;
            }
        }
    Path cand[16];
    size_t ncand = 0;
    for (size_t di = 0; di < tab->nidx; di++) {
        if (tab->forced >= 0 && (size_t)tab->forced != di)
            continue;
        Path p;
        if (!index_path(pl, t, (int)di, sa, ns, cl, ow, &p))
            continue;
        if (ncand < 16 && (p.ix.neq > 0 || p.ix.lo || p.ix.hi))
            cand[ncand++] = p;
        double tot = path_total(cl, t, level, ow, &p);
        if (tot < best_total || tab->forced >= 0) {
            *best = p;
            best_total = tot;
        }
    }
    /* AND of conditions on different indexes: intersect their ids, read
     * from the index entries alone, and fetch only the documents in all */
    if (tab->forced == -1 && ncand >= 2 && t == 0) {
        /* most selective first */
        for (size_t i = 1; i < ncand; i++)
            for (size_t j = i; j > 0 && cand[j].rows < cand[j - 1].rows; j--) {
                Path tmp = cand[j];
                cand[j] = cand[j - 1];
                cand[j - 1] = tmp;
            }
        Path in;
        memset(&in, 0, sizeof in);
        in.kind = NK_INTERSECT;
        double n = live_rows(tab), frac = 1, entries = 0;
        for (size_t i = 0; i < ncand && in.narms < 4; i++) {
            int overlap = 0;
            for (size_t k = 0; k < cand[i].nconsumed && !overlap; k++)
                overlap = consumed(&in, cand[i].consumed[k]);
            if (overlap)
                continue;
            for (size_t k = 0; k < cand[i].nconsumed && in.nconsumed < 64; k++)
                in.consumed[in.nconsumed++] = cand[i].consumed[k];
            in.urows[in.narms] = cand[i].rows;
            in.uix[in.narms++] = cand[i].ix;
            frac *= cand[i].rows / (n > 0 ? n : 1);
            entries += cand[i].rows;
        }
        if (in.narms >= 2) {
            /* stream the largest arm, keep the others' ids */
            IxSpec last = in.uix[in.narms - 1];
            double lr = in.urows[in.narms - 1];
            in.uix[in.narms - 1] = in.uix[0];
            in.urows[in.narms - 1] = in.urows[0];
            in.uix[0] = last;
            in.urows[0] = lr;
            in.rows = n * frac < 1 ? 1 : n * frac;
            in.cost = entries * C_IXENT + in.rows * C_FETCH;
            double tot = path_total(cl, t, level, ow, &in);
            if (tot < best_total) {
                *best = in;
                best_total = tot;
            }
        }
    }
}

/* ---- building the plan ---------------------------------------------------------------------- */

static int load_table(Pl *pl, SqlxTable *t, const SqlTableRef *r)
{
    t->coll = r->coll;
    t->alias = r->alias ? r->alias : r->coll;
    t->forced = r->not_indexed ? -2 : -1;
    int rc = cat_get(pl->pt, r->coll, strlen(r->coll), &t->c);
    if (rc == BLAZEDB_NOT_FOUND)
        return perr(pl, BLAZEDB_NOT_FOUND, "no collection '%s' (offset %u)", r->coll, r->pos);
    if (rc == BLAZEDB_OK) {
        t->exists = 1;
        if (t->c.flags & CAT_F_HAS_INDEXES)
            rc = idx_list(pl->pt, t->c.id, &t->idx, &t->nidx);
    }
    if (rc)
        return perr(pl, rc, "cannot read collection '%s': %s", r->coll, blazedb_strerror(rc));
    if (r->indexed_by) {
        for (size_t i = 0; i < t->nidx; i++)
            if (strcmp(t->idx[i].name, r->indexed_by) == 0)
                t->forced = (int)i;
        if (t->forced < 0)
            return perr(pl, BLAZEDB_SQL_ERROR, "no index '%s' on collection '%s' (INDEXED BY)",
                        r->indexed_by, r->coll);
    }
    return BLAZEDB_OK;
}

static SqlxNode *access_node(const Path *pa, int t)
{
    NodeKind k = pa->kind;
    SqlxNode *n = node_new(k, NULL);
    if (!n)
        return NULL;
    n->table = t;
    n->ix = pa->ix;
    n->lookup = pa->lookup;
    n->reverse = pa->reverse;
    n->est = pa->rows;
    n->cost = pa->cost;
    return n;
}

static int consumed(const Path *pa, size_t ci)
{
    for (size_t i = 0; i < pa->nconsumed; i++)
        if (pa->consumed[i] == ci)
            return 1;
    return 0;
}

/* Output column name for result column i. */
static char *col_name(Pl *pl, const SqlResultCol *rc)
{
    if (rc->alias)
        return strdup(rc->alias);
    if (!rc->expr)
        return strdup(rc->star_qual ? rc->star_qual : "*");
    if (rc->expr->kind == SQL_E_COLUMN && rc->expr->table >= 0)
        return strdup(rc->expr->path[0] ? rc->expr->path : pl->p->tabs[rc->expr->table].alias);
    if (pl->sql && rc->end > rc->pos) {
        size_t n = rc->end - rc->pos;
        char *s = malloc(n + 1);
        if (s) {
            memcpy(s, pl->sql + rc->pos, n);
            s[n] = 0;
        }
        return s;
    }
    return sql_expr_text(rc->expr);
}

void sqlx_plan_free(SqlxPlan *p)
{
    if (!p)
        return;
    node_free(p->root);
    struct SqlxPlanPriv *v = (struct SqlxPlanPriv *)p->priv;
    if (v) {
        /* undo group marking, newest first */
        for (size_t i = v->nsaved; i-- > 0;)
            *v->saved[i].node = v->saved[i].saved;
        free(v->saved);
        for (size_t i = 0; i < v->nowned; i++)
            free(v->owned[i]);
        free(v->owned);
        free(v);
    }
    for (size_t t = 0; t < p->ntabs; t++)
        idx_defs_free(p->tabs[t].idx, p->tabs[t].nidx);
    for (size_t i = 0; i < p->ncols; i++)
        free(p->colnames[i]);
    free(p->colnames);
    free(p->aggs);
    free(p);
}

/* The node of an index union or intersection over table 0: one index
 * scan arm per IxSpec of the path.  NULL when out of memory. */
static SqlxNode *arms_node(const Path *best)
{
    SqlxNode *n = node_new(best->kind, NULL);
    if (!n || !(n->arms = calloc(best->narms, sizeof *n->arms))) {
        node_free(n);
        return NULL;
    }
    n->table = 0;
    n->est = best->rows;
    n->cost = best->cost;
    for (size_t a = 0; a < best->narms; a++) {
        SqlxNode *arm = node_new(NK_IXSCAN, NULL);
        if (!arm) {
            node_free(n);
            return NULL;
        }
        arm->table = 0;
        arm->ix = best->uix[a];
        arm->ix.reverse = 0;
        arm->est = best->urows[a];
        arm->cost = best->urows[a] * C_IXENT;
        n->arms[n->narms++] = arm;
    }
    return n;
}

static int literal_int(const SqlExpr *e, double *out);

/* A new node of kind k over *src, which it becomes; when out of memory
 * *src is freed (node_new frees the child) and set to NULL. */
static SqlxNode *node_over(SqlxNode **src, NodeKind k)
{
    SqlxNode *n = node_new(k, *src);
    *src = n;
    return n;
}

/* LIMIT/OFFSET over *src when the query has them (its estimate: the
 * limit when that is a literal below the input's). */
static int add_limit(SqlxNode **src, const SqlSelect *sel)
{
    if (!sel->limit && !sel->offset)
        return BLAZEDB_OK;
    SqlxNode *l = node_over(src, NK_LIMIT);
    if (!l)
        return BLAZEDB_NOMEM;
    l->limit = sel->limit;
    l->offset = sel->offset;
    l->est = l->child->est;
    double lim;
    if (literal_int(sel->limit, &lim) && lim >= 0 && lim < l->est)
        l->est = lim;
    return BLAZEDB_OK;
}

static int literal_int(const SqlExpr *e, double *out)
{
    if (e && e->kind == SQL_E_LITERAL && e->lit.type == DOC_INT) {
        *out = (double)e->lit.i;
        return 1;
    }
    return 0;
}

int sqlx_plan(PagerTxn *pt, SqlSelect *sel, const char *sql, SqlxPlan **out, char *err,
              size_t errlen)
{
    *out = NULL;
    err[0] = 0;
    SqlxPlan *p = calloc(1, sizeof *p);
    struct SqlxPlanPriv *priv = calloc(1, sizeof *priv);
    if (!p || !priv) {
        free(p);
        free(priv);
        snprintf(err, errlen, "out of memory");
        return BLAZEDB_NOMEM;
    }
    p->priv = priv;
    p->sel = sel;
    const PagerRoot *cr = &pager_txn_meta(pt)->roots[PAGER_ROOT_CATALOG];
    p->cat_pgno = cr->root.pgno;
    p->cat_ctr = cr->root.ctr;
    Pl pl = {.p = p, .pt = pt, .sql = sql, .err = err, .errlen = errlen};
    ConjList cl = {0};
    int rc = BLAZEDB_OK;
    SqlxNode *src = NULL;
    char **pre = NULL;

    /* tables */
    if (sel->has_from) {
        if (1 + sel->njoins > SQLX_MAX_TABLES) {
            rc = perr(&pl, BLAZEDB_SQL_ERROR, "more than %d tables in one FROM", SQLX_MAX_TABLES);
            goto out;
        }
        if ((rc = load_table(&pl, &p->tabs[0], &sel->from)))
            goto out;
        p->ntabs = 1;
        for (size_t j = 0; j < sel->njoins; j++) {
            if ((rc = load_table(&pl, &p->tabs[j + 1], &sel->joins[j].t)))
                goto out;
            p->ntabs++;
        }
        for (size_t a = 0; a < p->ntabs; a++)
            for (size_t b = a + 1; b < p->ntabs; b++)
                if (strcmp(p->tabs[a].alias, p->tabs[b].alias) == 0) {
                    rc = perr(&pl, BLAZEDB_SQL_ERROR,
                              "'%s' names two tables of the FROM clause: give one an alias",
                              p->tabs[a].alias);
                    goto out;
                }
    }
    /* bind */
    for (size_t i = 0; i < sel->ncols && !rc; i++)
        rc = bind_expr(&pl, sel->cols[i].expr, B_ROW, "the select list");
    for (size_t j = 0; j < sel->njoins && !rc; j++)
        rc = bind_expr(&pl, sel->joins[j].on, B_NO_AGG, "ON");
    if (!rc)
        rc = bind_expr(&pl, sel->where, B_NO_AGG, "WHERE");
    for (size_t i = 0; i < sel->ngroup && !rc; i++)
        rc = bind_expr(&pl, sel->group[i], B_NO_AGG, "GROUP BY");
    if (!rc)
        rc = bind_expr(&pl, sel->having, B_ROW, "HAVING");
    /* ORDER BY: ordinals and output aliases refer to result columns */
    SqlExpr **okeys = calloc(sel->norder + 1, sizeof *okeys);
    int *ostar = calloc(sel->norder + 1, sizeof *ostar);
    if (!okeys || !ostar)
        rc = BLAZEDB_NOMEM;
    for (size_t i = 0; i < sel->norder && !rc; i++) {
        SqlExpr *e = sel->order[i].e;
        ostar[i] = -1;
        double k;
        if (literal_int(e, &k)) {
            if (k < 1 || k > (double)sel->ncols) {
                rc = perr(&pl, BLAZEDB_SQL_ERROR, "ORDER BY term %g is not a result column (1..%zu)",
                          k, sel->ncols);
                break;
            }
            SqlResultCol *c = &sel->cols[(size_t)k - 1];
            okeys[i] = c->expr;
            if (!c->expr)
                ostar[i] = c->star_qual ? -3 : 0; /* whole document */
            continue;
        }
        if (e->kind == SQL_E_COLUMN && !e->qual && e->table < 0 && !strchr(e->path, '.')) {
            size_t j = 0;
            for (; j < sel->ncols; j++)
                if (sel->cols[j].alias && strcmp(sel->cols[j].alias, e->path) == 0)
                    break;
            if (j < sel->ncols && sel->cols[j].expr) {
                okeys[i] = sel->cols[j].expr;
                continue;
            }
        }
        rc = bind_expr(&pl, e, B_ROW, "ORDER BY");
        okeys[i] = e;
    }
    if (!rc && sel->limit && !sqlx_is_const(sel->limit))
        rc = perr(&pl, BLAZEDB_SQL_ERROR, "LIMIT must be a constant expression");
    if (!rc && sel->offset && !sqlx_is_const(sel->offset))
        rc = perr(&pl, BLAZEDB_SQL_ERROR, "OFFSET must be a constant expression");
    if (rc)
        goto out_keys;
    /* result column names, before grouping rewrites any expression */
    pre = calloc(sel->ncols + 1, sizeof *pre);
    if (!pre) {
        rc = BLAZEDB_NOMEM;
        goto out_keys;
    }
    for (size_t i = 0; i < sel->ncols; i++)
        if (sel->cols[i].expr && !(pre[i] = col_name(&pl, &sel->cols[i]))) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
    pl.grouped = sel->ngroup > 0 || p->nagg > 0;
    for (size_t i = 0; i < sel->ncols && pl.grouped; i++)
        if (!sel->cols[i].expr) {
            rc = perr(&pl, BLAZEDB_SQL_ERROR, "* cannot be used with GROUP BY or aggregates");
            goto out_keys;
        }

    /* conjuncts and where they apply */
    if ((rc = conj_add(&cl, sel->where, 0)))
        goto out_keys;
    size_t nwhere = cl.n;
    for (size_t j = 0; j < sel->njoins && !rc; j++) {
        size_t before = cl.n;
        rc = conj_add(&cl, sel->joins[j].on, 1);
        for (size_t i = before; i < cl.n; i++)
            cl.c[i].level = (int)j + 1; /* ON terms stay at their join */
    }
    if (rc)
        goto out_keys;
    for (size_t i = 0; i < cl.n; i++) {
        Conj *c = &cl.c[i];
        int hi = 0;
        for (int t = 0; t < SQLX_MAX_TABLES; t++)
            if (c->mask & (1u << t))
                hi = t;
        if (c->from_on) {
            if (hi > c->level) {
                rc = perr(&pl, BLAZEDB_SQL_ERROR,
                          "an ON clause (offset %u) refers to a table joined after it", c->e->pos);
                goto out_keys;
            }
            continue;
        }
        c->level = hi;
        /* WHERE terms on the inner side of a LEFT JOIN wait for the join */
        if (hi > 0 && sel->joins[hi - 1].left)
            c->post = 1;
        (void)nwhere;
    }

    /* what ORDER BY wants from table 0 */
    OrderWant ow = {.limit = -1};
    ow.want = sel->norder > 0 && !pl.grouped;
    ow.usable = ow.want && sel->norder <= IDX_MAX_FIELDS && p->ntabs > 0;
    for (size_t i = 0; i < sel->norder && ow.usable; i++) {
        SqlExpr *e = okeys[i];
        if (!e || e->kind != SQL_E_COLUMN || e->table != 0 || !e->path[0]) {
            ow.usable = 0;
            break;
        }
        ow.path[ow.n] = e->path;
        ow.desc[ow.n++] = sel->order[i].desc;
    }
    {
        double lim, off = 0;
        if (literal_int(sel->limit, &lim) && !sel->distinct && p->ntabs == 1) {
            if (sel->offset)
                literal_int(sel->offset, &off);
            ow.limit = lim + off;
        }
    }
    int order_done = 0;

    /* count(*) straight from the counters or an index */
    if (p->ntabs == 1 && sel->ngroup == 0 && !sel->having && sel->ncols == 1 && !sel->distinct &&
        sel->cols[0].expr && sel->cols[0].expr->kind == SQL_E_AGG &&
        sel->cols[0].expr->func == SQL_A_COUNT && sel->cols[0].expr->nlist == 0) {
        if (cl.n == 0) {
            src = node_new(NK_COUNTALL, NULL);
            if (!src) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            src->table = 0;
            src->est = 1;
        } else if (p->tabs[0].forced != -2) {
            OrderWant none = {.limit = -1};
            Path best;
            memset(&best, 0, sizeof best);
            int found = 0;
            Sarg sa[64];
            size_t ns = collect_sargs(&cl, 0, 0, 0, sa, 64);
            for (size_t di = 0; di < p->tabs[0].nidx; di++) {
                if (p->tabs[0].forced >= 0 && (size_t)p->tabs[0].forced != di)
                    continue;
                Path pa;
                if (!index_path(&pl, 0, (int)di, sa, ns, &cl, &none, &pa) || !pa.exact)
                    continue;
                size_t all = 1;
                for (size_t i = 0; i < cl.n; i++)
                    if (!consumed(&pa, i))
                        all = 0;
                if (all && (!found || pa.rows < best.rows)) {
                    best = pa;
                    found = 1;
                }
            }
            if (found) {
                src = access_node(&best, 0);
                if (!src) {
                    rc = BLAZEDB_NOMEM;
                    goto out_keys;
                }
                src->kind = NK_IXCOUNT;
                src->cost = best.rows * C_IXENT;
            }
        }
        if (src) {
            p->ncols = 1;
            p->colnames = calloc(1, sizeof *p->colnames);
            if (!p->colnames || !(p->colnames[0] = pre[0])) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            pre[0] = NULL;
            if ((rc = add_limit(&src, sel)))
                goto out_keys;
            goto done;
        }
    }

    /* access paths and joins */
    if (p->ntabs == 0) {
        src = node_new(NK_ONEROW, NULL);
        if (!src) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
        src->est = 1;
        /* WHERE without FROM */
        if (cl.n) {
            SqlxNode *f = node_over(&src, NK_FILTER);
            if (!f) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            f->est = 1;
            for (size_t i = 0; i < cl.n && !rc; i++)
                rc = node_add_cond(f, cl.c[i].e);
            if (rc)
                goto out_keys;
        }
    } else {
        /* table 0: maybe an OR of indexable terms */
        Path best;
        best_path(&pl, 0, 0, 0, &cl, &ow, &best);
        if (best.kind == NK_SCAN && p->tabs[0].forced != -2 && !best.order_ok) {
            for (size_t i = 0; i < cl.n; i++) {
                Conj *c = &cl.c[i];
                if (c->level != 0 || c->post || c->e->kind != SQL_E_BINARY ||
                    c->e->op != SQL_OP_OR || c->mask != 1u)
                    continue;
                /* the disjuncts */
                SqlExpr *arms[16];
                size_t na = 0;
                SqlExpr *stack[32];
                size_t sp = 0;
                int ok = 1;
                stack[sp++] = c->e;
                while (sp && ok) {
                    SqlExpr *e = stack[--sp];
                    if (e->kind == SQL_E_BINARY && e->op == SQL_OP_OR && sp + 2 <= 32) {
                        stack[sp++] = e->b;
                        stack[sp++] = e->a;
                    } else if (na < 16) {
                        arms[na++] = e;
                    } else {
                        ok = 0;
                    }
                }
                if (!ok || na < 2)
                    continue;
                Path u;
                memset(&u, 0, sizeof u);
                u.kind = NK_UNION;
                for (size_t a = 0; a < na && ok; a++) {
                    ConjList one = {0};
                    if (conj_add(&one, arms[a], 0)) {
                        ok = 0;
                        break;
                    }
                    for (size_t k = 0; k < one.n; k++)
                        one.c[k].level = 0;
                    OrderWant none = {.limit = -1};
                    Path ap;
                    best_path(&pl, 0, 0, 0, &one, &none, &ap);
                    free(one.c);
                    if (ap.kind != NK_IXSCAN && ap.kind != NK_LOOKUP) {
                        ok = 0;
                        break;
                    }
                    if (ap.kind == NK_LOOKUP) {
                        ok = 0; /* index arms only */
                        break;
                    }
                    u.uarms[u.narms] = arms[a];
                    u.uix[u.narms] = ap.ix;
                    u.urows[u.narms] = ap.rows;
                    u.rows += ap.rows;
                    u.cost += ap.cost;
                    u.narms++;
                }
                if (!ok || u.cost >= best.cost)
                    continue;
                u.consumed[u.nconsumed++] = i;
                if (u.rows > best.rows)
                    u.rows = best.rows;
                best = u;
                break;
            }
        }
        if (best.kind == NK_INTERSECT || best.kind == NK_UNION) {
            if (!(src = arms_node(&best))) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            /* a union's arms re-check their own disjunct; the whole OR is
             * consumed by the union */
            for (size_t a = 0; best.kind == NK_UNION && a < best.narms && !rc; a++)
                rc = node_add_cond(src->arms[a], best.uarms[a]);
            if (rc)
                goto out_keys;
        } else {
            src = access_node(&best, 0);
            if (!src) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
        }
        order_done = best.order_ok;
        for (size_t i = 0; i < cl.n && !rc; i++) {
            Conj *c = &cl.c[i];
            if (c->level == 0 && !c->post && !consumed(&best, i)) {
                rc = node_add_cond(src, c->e);
                c->used = 1;
            } else if (c->level == 0 && !c->post) {
                c->used = 1;
            }
        }
        if (rc)
            goto out_keys;
        /* each condition left to filter keeps about a quarter of the rows */
        double outer_rows = best.rows;
        for (size_t i = 0; i < src->nconds && outer_rows > 1; i++)
            outer_rows *= 0.25;
        if (outer_rows < 1)
            outer_rows = 1;
        /* joins, left to right */
        for (size_t j = 1; j < p->ntabs; j++) {
            SqlJoin *jn = &sel->joins[j - 1];
            uint32_t before = (1u << j) - 1;
            OrderWant none = {.limit = -1};
            Path nl;
            best_path(&pl, (int)j, before, (int)j, &cl, &none, &nl);
            /* a hash join on an equality with the outer side */
            SqlExpr *hk_in = NULL, *hk_out = NULL;
            size_t hconj = (size_t)-1;
            for (size_t i = 0; i < cl.n && !hk_in; i++) {
                Conj *c = &cl.c[i];
                if (c->level != (int)j || c->post || c->e->kind != SQL_E_BINARY ||
                    c->e->op != SQL_OP_EQ)
                    continue;
                int agg = 0;
                uint32_t ma = expr_mask(c->e->a, &agg), mb = expr_mask(c->e->b, &agg);
                if (ma == (1u << j) && mb && (mb & ~before) == 0) {
                    hk_in = c->e->a;
                    hk_out = c->e->b;
                    hconj = i;
                } else if (mb == (1u << j) && ma && (ma & ~before) == 0) {
                    hk_in = c->e->b;
                    hk_out = c->e->a;
                    hconj = i;
                }
            }
            double nj = live_rows(&p->tabs[j]);
            int use_hash = 0;
            Path local;
            memset(&local, 0, sizeof local);
            if (hk_in && p->tabs[j].forced == -1) {
                best_path(&pl, (int)j, 0, (int)j, &cl, &none, &local);
                double hash_cost = local.cost + outer_rows * 0.3;
                double nl_cost = outer_rows * (nl.cost > 0 ? nl.cost : 1);
                use_hash = hash_cost < nl_cost;
            }
            SqlxNode *in = access_node(use_hash ? &local : &nl, (int)j);
            SqlxNode *jnode = in ? node_new(use_hash ? NK_HASHJOIN : NK_NLJOIN, src) : NULL;
            if (!jnode) {
                node_free(in);
                if (!in)
                    node_free(src);
                src = NULL;
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            src = jnode;
            jnode->inner = in;
            jnode->left = jn->left;
            jnode->table = (int)j;
            const Path *used = use_hash ? &local : &nl;
            if (use_hash) {
                jnode->hkey_inner = hk_in;
                jnode->hkey_outer = hk_out;
            }
            for (size_t i = 0; i < cl.n && !rc; i++) {
                Conj *c = &cl.c[i];
                if (c->level != (int)j || c->post)
                    continue;
                c->used = 1;
                if (consumed(used, i) || (use_hash && i == hconj))
                    continue;
                /* hash join: only terms of the inner table alone can run
                 * at build time */
                if (!use_hash || c->mask == (1u << j))
                    rc = node_add_cond(in, c->e);
                else
                    rc = node_add_cond(jnode, c->e);
            }
            double per = use_hash ? (local.rows / (nj > 0 ? nj : 1)) * 1.0 : nl.rows;
            if (per < 1)
                per = 1;
            jnode->est = outer_rows * per;
            jnode->cost = use_hash ? local.cost + outer_rows * 0.3 : outer_rows * nl.cost;
            in->est = use_hash ? local.rows : nl.rows;
            outer_rows = jnode->est;
            /* WHERE terms that waited for this LEFT JOIN */
            SqlxNode *f = NULL;
            for (size_t i = 0; i < cl.n && !rc; i++) {
                Conj *c = &cl.c[i];
                if (c->level != (int)j || !c->post)
                    continue;
                if (!f) {
                    f = node_over(&src, NK_FILTER);
                    if (!f) {
                        rc = BLAZEDB_NOMEM;
                        break;
                    }
                    f->est = outer_rows;
                }
                rc = node_add_cond(f, c->e);
                c->used = 1;
            }
            if (rc)
                goto out_keys;
        }
        /* terms with no table (constants) */
        for (size_t i = 0; i < cl.n && !rc; i++)
            if (!cl.c[i].used && cl.c[i].mask == 0) {
                SqlxNode *f = node_over(&src, NK_FILTER);
                if (!f) {
                    rc = BLAZEDB_NOMEM;
                    goto out_keys;
                }
                f->est = outer_rows;
                rc = node_add_cond(f, cl.c[i].e);
                cl.c[i].used = 1;
            }
        if (rc)
            goto out_keys;
    }

    /* grouping */
    if (pl.grouped) {
        SqlxNode *a = node_over(&src, NK_AGG);
        if (!a) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
        a->group = sel->ngroup ? malloc(sel->ngroup * sizeof *a->group) : NULL;
        if (sel->ngroup && !a->group) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
        for (size_t i = 0; i < sel->ngroup; i++)
            a->group[i] = sel->group[i];
        a->ngroup = sel->ngroup;
        a->est = sel->ngroup ? (a->child->est > 10 ? a->child->est / 10 : a->child->est) : 1;
        for (size_t i = 0; i < sel->ncols && !rc; i++)
            rc = mark_groups(&pl, sel->cols[i].expr, "the select list");
        if (!rc)
            rc = mark_groups(&pl, sel->having, "HAVING");
        for (size_t i = 0; i < sel->norder && !rc; i++)
            if (okeys[i] == sel->order[i].e)
                rc = mark_groups(&pl, okeys[i], "ORDER BY");
        if (!rc && sel->having)
            rc = node_add_cond(a, sel->having);
        if (rc)
            goto out_keys;
    } else if (sel->having) {
        rc = perr(&pl, BLAZEDB_SQL_ERROR, "HAVING needs GROUP BY or an aggregate");
        goto out_keys;
    }

    /* projection (+ hidden sort keys) */
    {
        size_t nvis = 0;
        for (size_t i = 0; i < sel->ncols; i++) {
            if (sel->cols[i].expr || sel->cols[i].star_qual)
                nvis++;
            else
                nvis += p->ntabs ? p->ntabs : 1;
        }
        int need_sort = sel->norder > 0 && !order_done;
        size_t nh = need_sort ? sel->norder : 0;
        SqlxNode *pr = node_over(&src, NK_PROJECT);
        if (!pr) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
        pr->est = pr->child->est;
        pr->cols = calloc(nvis + nh + 1, sizeof *pr->cols);
        pr->star_table = calloc(nvis + nh + 1, sizeof *pr->star_table);
        p->colnames = calloc(nvis + 1, sizeof *p->colnames);
        if (!pr->cols || !pr->star_table || !p->colnames) {
            rc = BLAZEDB_NOMEM;
            goto out_keys;
        }
        size_t k = 0;
        for (size_t i = 0; i < sel->ncols; i++) {
            SqlResultCol *c = &sel->cols[i];
            if (c->expr) {
                pr->cols[k] = c->expr;
                p->colnames[k++] = pre[i];
                pre[i] = NULL;
            } else if (c->star_qual) {
                size_t t = 0;
                while (t < p->ntabs && strcmp(p->tabs[t].alias, c->star_qual))
                    t++;
                if (t == p->ntabs) {
                    p->ncols = k;
                    rc = perr(&pl, BLAZEDB_SQL_ERROR, "no table '%s' for %s.*", c->star_qual,
                              c->star_qual);
                    goto out_keys;
                }
                pr->star_table[k] = (int)t;
                p->colnames[k++] = strdup(c->star_qual);
            } else if (p->ntabs == 0) {
                p->ncols = k;
                rc = perr(&pl, BLAZEDB_SQL_ERROR, "SELECT * needs a FROM clause");
                goto out_keys;
            } else {
                for (size_t t = 0; t < p->ntabs; t++) {
                    pr->star_table[k] = (int)t;
                    p->colnames[k++] = strdup(p->ntabs == 1 ? "*" : p->tabs[t].alias);
                }
            }
        }
        p->ncols = k;
        for (size_t i = 0; i < k; i++)
            if (!p->colnames[i]) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
        p->star_doc = k == 1 && !pr->cols[0] && p->ntabs == 1;
        pr->ncols = k;
        for (size_t i = 0; i < nh; i++) {
            pr->cols[k + i] = okeys[i];
            if (!okeys[i])
                pr->star_table[k + i] = 0;
        }
        pr->nhidden = nh;
        if (sel->distinct) {
            SqlxNode *d = node_over(&src, NK_DISTINCT);
            if (!d) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            d->est = d->child->est;
        }
        if (need_sort) {
            SqlxNode *s = node_over(&src, NK_SORT);
            if (!s) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            s->est = s->child->est;
            s->desc = calloc(nh, sizeof *s->desc);
            if (!s->desc) {
                rc = BLAZEDB_NOMEM;
                goto out_keys;
            }
            for (size_t i = 0; i < nh; i++)
                s->desc[i] = sel->order[i].desc;
            s->nkeys = nh;
            s->ncols = k;
            s->nhidden = nh;
            s->topk_limit = sel->limit;
            s->topk_offset = sel->offset;
        }
        if ((rc = add_limit(&src, sel)))
            goto out_keys;
    }
done:
out_keys:
    if (pre)
        for (size_t i = 0; i < sel->ncols; i++)
            free(pre[i]);
    free(pre);
    free(okeys);
    free(ostar);
out:
    free(cl.c);
    priv->saved = pl.saved;
    priv->nsaved = pl.nsaved;
    priv->owned = pl.owned;
    priv->nowned = pl.nowned;
    p->root = src;
    if (rc) {
        if (!err[0])
            snprintf(err, errlen, "%s", blazedb_strerror(rc));
        sqlx_plan_free(p);
        return rc;
    }
    *out = p;
    return BLAZEDB_OK;
}

/* ==== EXPLAIN ================================================================================= */

static void add_expr(TextBuf *s, const SqlExpr *e)
{
    char *t = e ? sql_expr_text(e) : NULL;
    tb_printf(s, "%s", t ? t : "?");
    free(t);
}

/* One line describing node n (no newline). */
static void describe(const SqlxPlan *p, const SqlxNode *n, TextBuf *s)
{
    const SqlxTable *t = n->table >= 0 && (size_t)n->table < p->ntabs ? &p->tabs[n->table] : NULL;
    switch (n->kind) {
    case NK_ONEROW:
        tb_printf(s, "Constant row");
        break;
    case NK_SCAN:
        tb_printf(s, "Scan %s", t->coll);
        if (strcmp(t->alias, t->coll))
            tb_printf(s, " AS %s", t->alias);
        if (n->reverse)
            tb_printf(s, " (id order, backward)");
        break;
    case NK_LOOKUP:
        tb_printf(s, "Lookup %s by id (", t->coll);
        if (n->lookup->kind == SQL_E_IN) {
            tb_printf(s, "id IN %zu values", n->lookup->nlist);
        } else {
            tb_printf(s, "id = ");
            add_expr(s, n->lookup);
        }
        tb_printf(s, ")");
        break;
    case NK_IXSCAN:
    case NK_IXCOUNT: {
        const IdxDef *d = &t->idx[n->ix.idx];
        tb_printf(s, "%s %s USING INDEX %s (", n->kind == NK_IXSCAN ? "IndexScan" : "IndexCount",
                t->coll, d->name);
        int any = 0;
        for (int f = 0; f < n->ix.neq; f++) {
            tb_printf(s, "%s%s", any++ ? " AND " : "", d->fields[f].path);
            if (n->ix.eqkind[f] == EQ_NULL) {
                tb_printf(s, " IS NULL");
            } else if (n->ix.eqkind[f] == EQ_IN) {
                tb_printf(s, " IN (%zu values)", n->ix.eq[f]->nlist);
            } else {
                tb_printf(s, d->fields[f].each ? " CONTAINS " : " = ");
                add_expr(s, n->ix.eq[f]);
            }
        }
        if (n->ix.lo || n->ix.hi) {
            const char *fp = d->fields[n->ix.neq].path;
            tb_printf(s, "%s", any++ ? " AND " : "");
            if (n->ix.lo) {
                add_expr(s, n->ix.lo);
                tb_printf(s, " %s ", n->ix.lo_incl ? "<=" : "<");
            }
            tb_printf(s, "%s", fp);
            if (n->ix.hi) {
                tb_printf(s, " %s ", n->ix.hi_incl ? "<=" : "<");
                add_expr(s, n->ix.hi);
            }
        }
        if (!any)
            tb_printf(s, "all entries, for the order");
        tb_printf(s, ")");
        if (n->ix.reverse)
            tb_printf(s, " backward");
        if (n->ix.dedupe)
            tb_printf(s, " distinct ids");
        if (n->kind == NK_IXCOUNT)
            tb_printf(s, " index only");
        break;
    }
    case NK_COUNTALL:
        tb_printf(s, "Count %s from its stored counters", t ? t->coll : "?");
        break;
    case NK_UNION:
        tb_printf(s, "IndexUnion %s (OR, %zu index scans, distinct ids)", t->coll, n->narms);
        break;
    case NK_INTERSECT:
        tb_printf(s, "IndexIntersect %s (AND, %zu index scans: ids in all)", t->coll, n->narms);
        break;
    case NK_FILTER:
        tb_printf(s, "Filter");
        break;
    case NK_NLJOIN:
        tb_printf(s, "%sNestedLoopJoin %s", n->left ? "Left" : "", p->tabs[n->table].coll);
        break;
    case NK_HASHJOIN:
        tb_printf(s, "%sHashJoin %s ON ", n->left ? "Left" : "", p->tabs[n->table].coll);
        add_expr(s, n->hkey_inner);
        tb_printf(s, " = ");
        add_expr(s, n->hkey_outer);
        break;
    case NK_AGG:
        if (n->ngroup) {
            tb_printf(s, "HashAggregate GROUP BY ");
            for (size_t i = 0; i < n->ngroup; i++) {
                tb_printf(s, "%s", i ? ", " : "");
                add_expr(s, n->group[i]);
            }
        } else {
            tb_printf(s, "Aggregate");
        }
        break;
    case NK_PROJECT:
        tb_printf(s, "Project %zu column%s", n->ncols, n->ncols == 1 ? "" : "s");
        break;
    case NK_SORT:
        tb_printf(s, "%s by %zu key%s", n->topk_limit ? "TopK sort" : "Sort", n->nkeys,
                n->nkeys == 1 ? "" : "s");
        break;
    case NK_DISTINCT:
        tb_printf(s, "Distinct");
        break;
    case NK_LIMIT:
        tb_printf(s, "Limit");
        if (n->limit) {
            tb_printf(s, " ");
            add_expr(s, n->limit);
        }
        if (n->offset) {
            tb_printf(s, " offset ");
            add_expr(s, n->offset);
        }
        break;
    }
}

static const char *kind_name(NodeKind k)
{
    switch (k) {
    case NK_ONEROW: return "ConstantRow";
    case NK_SCAN: return "Scan";
    case NK_LOOKUP: return "Lookup";
    case NK_IXSCAN: return "IndexScan";
    case NK_IXCOUNT: return "IndexCount";
    case NK_COUNTALL: return "CountFromCounters";
    case NK_UNION: return "IndexUnion";
    case NK_INTERSECT: return "IndexIntersect";
    case NK_FILTER: return "Filter";
    case NK_NLJOIN: return "NestedLoopJoin";
    case NK_HASHJOIN: return "HashJoin";
    case NK_AGG: return "Aggregate";
    case NK_PROJECT: return "Project";
    case NK_SORT: return "Sort";
    case NK_DISTINCT: return "Distinct";
    case NK_LIMIT: return "Limit";
    }
    return "?";
}

static void explain_text(const SqlxPlan *p, const SqlxNode *n, int depth, int analyze, TextBuf *s)
{
    tb_printf(s, "%*s", depth * 2, "");
    describe(p, n, s);
    tb_printf(s, "  (rows ~%.0f", n->est);
    if (n->cost > 0)
        tb_printf(s, ", cost %.0f", n->cost);
    tb_printf(s, ")");
    if (analyze)
        tb_printf(s, "  [actual rows %llu, loops %llu, %.3f ms]", (unsigned long long)n->rows,
                (unsigned long long)n->loops, (double)n->ns / 1e6);
    tb_printf(s, "\n");
    for (size_t i = 0; i < n->nconds; i++) {
        tb_printf(s, "%*s%s ", depth * 2 + 4, "", n->kind == NK_AGG ? "having:" : "filter:");
        add_expr(s, n->conds[i]);
        tb_printf(s, "\n");
    }
    if (n->child)
        explain_text(p, n->child, depth + 1, analyze, s);
    if (n->inner)
        explain_text(p, n->inner, depth + 1, analyze, s);
    for (size_t i = 0; i < n->narms; i++)
        explain_text(p, n->arms[i], depth + 1, analyze, s);
}

static void explain_json(const SqlxPlan *p, const SqlxNode *n, int analyze, TextBuf *s)
{
    TextBuf d = {0};
    describe(p, n, &d);
    tb_printf(s, "{\"node\":\"%s\",\"detail\":", kind_name(n->kind));
    tb_json_cstr(s, d.oom ? "" : d.p);
    free(d.p);
    if (n->table >= 0 && (size_t)n->table < p->ntabs) {
        tb_printf(s, ",\"collection\":");
        tb_json_cstr(s, p->tabs[n->table].coll);
    }
    if (n->kind == NK_IXSCAN || n->kind == NK_IXCOUNT) {
        tb_printf(s, ",\"index\":");
        tb_json_cstr(s, p->tabs[n->table].idx[n->ix.idx].name);
        tb_printf(s, ",\"index_only\":%s", n->kind == NK_IXCOUNT ? "true" : "false");
    }
    tb_printf(s, ",\"est_rows\":%.0f,\"cost\":%.1f", n->est, n->cost);
    if (analyze)
        tb_printf(s, ",\"actual_rows\":%llu,\"loops\":%llu,\"time_ms\":%.3f",
                (unsigned long long)n->rows, (unsigned long long)n->loops, (double)n->ns / 1e6);
    if (n->nconds) {
        tb_printf(s, ",\"%s\":[", n->kind == NK_AGG ? "having" : "filter");
        for (size_t i = 0; i < n->nconds; i++) {
            char *t = sql_expr_text(n->conds[i]);
            tb_printf(s, "%s", i ? "," : "");
            tb_json_cstr(s, t ? t : "?");
            free(t);
        }
        tb_printf(s, "]");
    }
    tb_printf(s, ",\"children\":[");
    int k = 0;
    if (n->child) {
        explain_json(p, n->child, analyze, s);
        k++;
    }
    if (n->inner) {
        tb_printf(s, "%s", k++ ? "," : "");
        explain_json(p, n->inner, analyze, s);
    }
    for (size_t i = 0; i < n->narms; i++) {
        tb_printf(s, "%s", k++ ? "," : "");
        explain_json(p, n->arms[i], analyze, s);
    }
    tb_printf(s, "]}");
}

char *sqlx_explain(const SqlxPlan *p, unsigned flags)
{
    TextBuf s = {0};
    int analyze = (flags & BLAZEDB_EXPLAIN_ANALYZE) != 0;
    if (flags & BLAZEDB_EXPLAIN_JSON) {
        tb_printf(&s, "{\"plan\":");
        explain_json(p, p->root, analyze, &s);
        tb_printf(&s, "}");
    } else {
        explain_text(p, p->root, 0, analyze, &s);
    }
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p ? s.p : strdup("");
}
